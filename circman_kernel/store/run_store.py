"""``RunStore``: every run kept in one DuckDB file and comparable with SQL.

A run (simulation, Monte Carlo, scenario, sweep, optimisation, LCA, replay) is one row
of ``runs`` plus its headline KPIs (``run_kpis``), its trajectories (the long numeric
table ``trajectories``) and any rows of the manual's tables (``simulations``,
``optimizations``, ``lca_results``, ``states``), all written in one transaction: a run is
stored whole or not at all. SQL views answer the usual questions (``run_summary``,
``run_comparison`` / ``compare_runs([...])``, ``scenario_kpis``, ``lca_phase_totals``).

Many processes may share the file: see :mod:`circman_kernel.store.connection` for the locking.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from circman_kernel.core.errors import ParameterError, PermissionDeniedError, StoreError
from circman_kernel.core.paths import default_db_path
from circman_kernel.store.connection import (
    check_read_statement,
    connect,
    file_lock,
    inspect_file,
    migrate,
    reading,
    schema_version,
    transaction,
)
from circman_kernel.store.extras import StoreExtras
from circman_kernel.store.frames import (
    as_list,
    from_json,
    insert_frame,
    kpi_frame,
    package_version,
    records_frame,
    to_json,
    trajectory_frame,
    utcnow,
)
from circman_kernel.store.schema import KINDS, RECORD_COLUMNS, RUN_TABLES, SCHEMA_VERSION, STATUSES

__all__ = ["KINDS", "STATUSES", "RunStore"]

log = logging.getLogger("circman.store")

TRAJECTORY_COLUMNS = ("iteration", "step", "variable", "value")
_RUN_COLUMNS = (
    "id, kind, name, created_at, duration_s, status, seed, config_hash, "
    "package_version, parameters, tags"
)


class RunStore(StoreExtras):
    """Runs, events and scenarios in a DuckDB file shared by many processes.

    Parameters
    ----------
    path
        DuckDB file; ``None`` uses :func:`circman_kernel.core.paths.default_db_path`
        (``$CIRCMAN_DB`` or ``data/circman.duckdb``); ``":memory:"`` keeps everything in
        this object (one connection, lost when it is garbage-collected).
    published
        Read-mostly mode for published dashboards: deleting, overwriting and importing
        raise :class:`PermissionDeniedError`; saving new runs still works.
    lock_timeout_s
        Longest wait [s] for the cross-process write lock or a reader's turn.

    Raises
    ------
    StoreError
        The file is not a DuckDB database, is empty, belongs to something else, has a
        newer schema, or cannot be created. Such a file is left byte-identical.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        published: bool = False,
        lock_timeout_s: float = 60.0,
    ) -> None:
        raw = default_db_path() if path is None else str(path)
        self.path: str = raw if raw == ":memory:" else str(Path(raw).expanduser().absolute())
        self.published = bool(published)
        if not lock_timeout_s > 0:
            raise ParameterError(
                "lock_timeout_s must be > 0", name="lock_timeout_s", value=lock_timeout_s
            )
        self.lock_timeout_s = float(lock_timeout_s)
        self._mutex = threading.RLock()
        self._memory: duckdb.DuckDBPyConnection | None = None
        if self.path == ":memory:":
            self._memory = duckdb.connect(":memory:")
            with transaction(self._memory) as con:
                migrate(con, self.path, package_version())
            return
        info = inspect_file(self.path, deadline=self._deadline())
        if info.version < SCHEMA_VERSION:
            if not Path(self.path).parent.is_dir():
                raise StoreError(f"{self.path}: folder {Path(self.path).parent} does not exist")
            with self._write() as con:
                migrate(con, self.path, package_version())

    def __repr__(self) -> str:
        mode = ", published=True" if self.published else ""
        return f"RunStore({self.path!r}{mode})"

    # -- connections -------------------------------------------------------------------

    def _deadline(self) -> float:
        return time.monotonic() + self.lock_timeout_s

    @contextmanager
    def _write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One short write transaction under the cross-process lock."""
        with self._mutex:
            if self._memory is not None:
                with transaction(self._memory) as con:
                    yield con
                return
            with file_lock(self.path, self.lock_timeout_s):
                con = connect(self.path, read_only=False, deadline=self._deadline())
                try:
                    # re-check under the lock: another process may have changed the file
                    schema_version(con, self.path)
                    with transaction(con):
                        yield con
                except duckdb.Error as exc:
                    raise StoreError(
                        f"{self.path}: write failed and was rolled back: {exc}"
                    ) from exc
                finally:
                    con.close()

    @contextmanager
    def _read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._mutex:
            if self._memory is not None:
                yield self._memory
                return
            if not Path(self.path).exists():
                raise StoreError(f"{self.path}: the run store file has been removed")
            with reading(self.path, deadline=self._deadline(), queue=True) as con:
                yield con

    def _deny(self, what: str) -> None:
        if self.published:
            raise PermissionDeniedError(
                f"{what} is not allowed on a published store ({self.path}); "
                "open it with published=False to change existing data"
            )

    @contextmanager
    def connect(self, *, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """Yield a raw DuckDB connection to the file for ad-hoc SQL (closed afterwards).

        Keep the block short: while it is open, other processes cannot write.
        """
        if not read_only:
            self._deny("a read-write connection")
            with self._write() as con:
                yield con
            return
        with self._read() as con:
            yield con

    @property
    def schema_version(self) -> int:
        """Schema version of the store file."""
        with self._read() as con:
            return schema_version(con, self.path)

    # -- queries -----------------------------------------------------------------------

    def query(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Return the result of ``sql`` as a DataFrame; values go in as bound ``params``.

        Use ``?`` (or ``$name`` with a mapping) placeholders, never string formatting.
        Only statements that read are accepted (see
        :func:`~circman_kernel.store.connection.check_read_statement`), however the connection
        was opened: a read shares a read-write connection this process already holds (a
        JupySQL ``%sql`` session), and the in-memory store has only one. The statement
        also runs in a transaction that is rolled back, so nothing it might change stays.

        Raises
        ------
        StoreError
            For a statement that writes (``DELETE``, ``DROP``, ``COPY``, ``SET``, ...),
            more than one statement, or SQL DuckDB rejects.
        """
        if not isinstance(sql, str) or not sql.strip():
            raise ParameterError("sql must be a non-empty string", name="sql")
        with self._read() as con:
            check_read_statement(con, sql)
            con.begin()
            try:
                return con.execute(sql, params if params is not None else []).df()
            except duckdb.Error as exc:
                raise StoreError(f"query failed: {exc}") from exc
            finally:
                con.rollback()

    def runs(
        self,
        kind: str | Iterable[str] | None = None,
        *,
        name: str | None = None,
        tags: str | Iterable[str] | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """List runs (newest first), optionally of some kinds, a name, or carrying all ``tags``."""
        where, params = self._filter(kind=kind, name=name, tags=tags)
        sql = f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY created_at DESC, id"
        if limit is not None:
            if int(limit) < 0:
                raise ParameterError("limit must be >= 0", name="limit", value=limit)
            sql += f" LIMIT {int(limit)}"
        df = self.query(sql, params)
        return self._decode_runs(df)

    @staticmethod
    def _decode_runs(df: pd.DataFrame) -> pd.DataFrame:
        df["parameters"] = pd.Series(
            [from_json(v) for v in df["parameters"]], index=df.index, dtype=object
        )
        df["tags"] = pd.Series(
            [list(v) if v is not None else [] for v in df["tags"]], index=df.index, dtype=object
        )
        return df

    def _filter(
        self,
        *,
        run_ids: str | Iterable[str] | None = None,
        kind: str | Iterable[str] | None = None,
        name: str | None = None,
        tags: str | Iterable[str] | None = None,
        before: datetime | str | None = None,
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        ids = as_list(run_ids, "run_ids")
        if ids is not None:
            clauses.append("list_contains(?::VARCHAR[], id)")
            params.append(ids)
        kinds = as_list(kind, "kind")
        if kinds is not None:
            bad = sorted(set(kinds) - set(KINDS))
            if bad:
                raise ParameterError(f"unknown run kind {bad}; valid: {list(KINDS)}", name="kind")
            clauses.append("list_contains(?::VARCHAR[], kind)")
            params.append(kinds)
        if name is not None:
            clauses.append("name = ?")
            params.append(name)
        tag_list = as_list(tags, "tags")
        if tag_list:
            clauses.append("list_has_all(tags, ?::VARCHAR[])")
            params.append(tag_list)
        if before is not None:
            clauses.append("created_at < ?::TIMESTAMP")
            params.append(
                pd.Timestamp(before).tz_localize(None).to_pydatetime()
                if pd.Timestamp(before).tzinfo
                else pd.Timestamp(before).to_pydatetime()
            )
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params

    def get_run(self, run_id: str) -> dict[str, Any]:
        """Return one run's ``runs`` row as a dict plus ``"kpis"`` (name -> value)."""
        df = self.query(
            f"SELECT {_RUN_COLUMNS}, (SELECT list(struct_pack(kpi, value) ORDER BY kpi) "
            "FROM run_kpis AS k WHERE k.run_id = runs.id) AS kpis FROM runs WHERE id = ?",
            [run_id],
        )
        if df.empty:
            raise StoreError(f"no run with id {run_id!r} in {self.path}")
        row = self._decode_runs(df).iloc[0].to_dict()
        row["created_at"] = pd.Timestamp(row["created_at"]).to_pydatetime()
        for key in ("duration_s", "seed"):
            if row[key] is not None and pd.isna(row[key]):
                row[key] = None
        if row["seed"] is not None:
            row["seed"] = int(row["seed"])
        kpis = row["kpis"] if row["kpis"] is not None else []
        row["kpis"] = {k["kpi"]: float(k["value"]) for k in kpis}
        return row

    def trajectories(self, run_id: str) -> pd.DataFrame:
        """Return a run's trajectories (iteration, step, variable, value) in stored order.

        ``variable`` comes back as a pandas Categorical of the stored names: a million
        rows decode several times faster than as a million Python strings.
        """
        with self._read() as con:
            if con.execute("SELECT count(*) FROM runs WHERE id = ?", [run_id]).fetchone()[0] == 0:
                raise StoreError(f"no run with id {run_id!r} in {self.path}")
            names = [
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT variable FROM trajectories WHERE run_id = ? ORDER BY 1",
                    [run_id],
                ).fetchall()
            ]
            df = con.execute(
                "SELECT iteration, step, "
                "CAST(list_position(?::VARCHAR[], variable) - 1 AS INTEGER) AS code, value "
                "FROM trajectories WHERE run_id = ?",
                [names, run_id],
            ).df()
        variable = pd.Categorical.from_codes(
            df.pop("code"), categories=pd.Index(names, dtype="str")
        )
        df.insert(2, "variable", variable)
        return df

    def kpis(self, run_ids: str | Iterable[str]) -> pd.DataFrame:
        """Return one row per run (index ``run_id``, in the given order) and one column per KPI."""
        ids = as_list(run_ids, "run_ids") or []
        long = self.query(
            "SELECT i.id AS run_id, r.id IS NOT NULL AS found, k.kpi, k.value "
            "FROM unnest(?::VARCHAR[]) AS i(id) LEFT JOIN runs AS r ON r.id = i.id "
            "LEFT JOIN run_kpis AS k ON k.run_id = i.id",
            [ids],
        )
        missing = sorted(set(long.loc[~long["found"], "run_id"]))
        if missing:
            raise StoreError(f"no run with id {missing} in {self.path}")
        long = long.dropna(subset=["kpi"])
        wide = long.pivot(index="run_id", columns="kpi", values="value")
        wide = wide.reindex(ids)
        wide.columns.name = None
        return wide

    def compare(self, run_ids: Iterable[str]) -> pd.DataFrame:
        """Return the KPIs of two or more runs side by side (rows: KPI, columns: run id)."""
        ids = as_list(run_ids, "run_ids") or []
        if len(ids) < 2:
            raise ParameterError("compare needs at least two run ids", name="run_ids", value=ids)
        return self.kpis(ids).T.rename_axis(index="kpi", columns="run_id")

    def _missing(self, ids: list[str]) -> list[str]:
        found = set(
            self.query("SELECT id FROM runs WHERE list_contains(?::VARCHAR[], id)", [ids])["id"]
        )
        return [i for i in ids if i not in found]

    # -- writing runs ------------------------------------------------------------------

    def save_run(
        self,
        kind: str,
        *,
        name: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        seed: int | None = None,
        config_hash: str | None = None,
        tags: str | Iterable[str] = (),
        duration_s: float | None = None,
        status: str = "completed",
        kpis: Mapping[str, float] | None = None,
        trajectories: pd.DataFrame | None = None,
        records: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> str:
        """Store one run whole (one transaction) and return its id.

        ``trajectories`` is a long DataFrame (iteration, step, variable, value; iteration
        may be omitted for a single simulation). ``records`` maps ``simulations``,
        ``optimizations``, ``lca_results`` or ``states`` to a DataFrame or list of dicts
        with that table's columns (dict/list values are stored as JSON).
        """
        if kind not in KINDS:
            raise ParameterError(
                f"unknown run kind {kind!r}; valid: {list(KINDS)}", name="kind", value=kind
            )
        if status not in STATUSES:
            raise ParameterError(
                f"unknown status {status!r}; valid: {list(STATUSES)}", name="status", value=status
            )
        if name is not None and not isinstance(name, str):
            raise ParameterError("name must be a string", name="name", value=name)
        if seed is not None:
            if (
                isinstance(seed, bool)
                or not isinstance(seed, int | np.integer)
                or not -(2**63) <= int(seed) < 2**63
            ):
                raise ParameterError(
                    "seed must be an integer that fits 64 bits (store the seed, not a Generator)",
                    name="seed",
                    value=seed,
                )
            seed = int(seed)
        if duration_s is not None and not (
            isinstance(duration_s, int | float) and math.isfinite(duration_s) and duration_s >= 0
        ):
            raise ParameterError(
                "duration_s must be a finite number >= 0 [s]", name="duration_s", value=duration_s
            )
        if parameters is not None and not isinstance(parameters, Mapping):
            raise ParameterError("parameters must be a mapping", name="parameters")
        run_id = uuid.uuid4().hex if run_id is None else str(run_id)
        tag_list = as_list(tags, "tags") or []
        params_json = to_json(dict(parameters) if parameters is not None else {}, "parameters")
        kpi_rows = kpi_frame(run_id, kpis)
        traj = trajectory_frame(trajectories) if trajectories is not None else None
        now = utcnow()
        record_frames = {}
        for table, rows in (records or {}).items():
            if table not in RECORD_COLUMNS:
                raise ParameterError(
                    f"records has unknown table {table!r}; valid: {list(RECORD_COLUMNS)}",
                    name="records",
                )
            record_frames[table] = records_frame(table, rows, run_id, now)
        with self._write() as con:
            if con.execute("SELECT count(*) FROM runs WHERE id = ?", [run_id]).fetchone()[0]:
                raise StoreError(
                    f"run id {run_id!r} already exists in {self.path}; runs are never overwritten"
                )
            con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    kind,
                    name,
                    now,
                    duration_s,
                    status,
                    seed,
                    config_hash,
                    package_version(),
                    params_json,
                    tag_list,
                ],
            )
            insert_frame(con, "run_kpis", kpi_rows)
            if traj is not None:
                self._insert_trajectories(con, run_id, traj)
            for table, frame in record_frames.items():
                insert_frame(con, table, frame)
        return run_id

    def _insert_trajectories(
        self, con: duckdb.DuckDBPyConnection, run_id: str, traj: pd.DataFrame
    ) -> None:
        con.register("_circman_traj", traj)
        try:
            con.execute(
                "INSERT INTO trajectories SELECT ?, iteration, step, variable, value FROM _circman_traj",
                [run_id],
            )
        finally:
            con.unregister("_circman_traj")

    def delete_runs(
        self,
        run_ids: str | Iterable[str] | None = None,
        *,
        kind: str | Iterable[str] | None = None,
        tags: str | Iterable[str] | None = None,
        before: datetime | str | None = None,
    ) -> int:
        """Delete runs by id and/or filter, with all their dependent rows; return how many."""
        self._deny("deleting runs")
        if run_ids is None and kind is None and tags is None and before is None:
            raise ParameterError(
                "delete_runs needs run ids or a filter (kind, tags, before); "
                "it never deletes everything implicitly",
                name="run_ids",
            )
        where, params = self._filter(run_ids=run_ids, kind=kind, tags=tags, before=before)
        with self._write() as con:
            ids = [r[0] for r in con.execute(f"SELECT id FROM runs {where}", params).fetchall()]
            if ids:
                for table in RUN_TABLES[1:]:
                    con.execute(
                        f"DELETE FROM {table} WHERE list_contains(?::VARCHAR[], run_id)", [ids]
                    )
                con.execute("DELETE FROM runs WHERE list_contains(?::VARCHAR[], id)", [ids])
        log.info("%s: deleted %d runs", self.path, len(ids))
        return len(ids)
