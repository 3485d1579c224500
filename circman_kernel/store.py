"""``RunStore``: every run kept in one DuckDB file and comparable with SQL.

A run (simulation, Monte Carlo, scenario, sweep, optimisation, LCA, replay) is one row
of ``runs`` plus its headline KPIs (``run_kpis``), its trajectories (the long numeric
table ``trajectories``) and any rows of the manual's tables (``simulations``,
``optimizations``, ``lca_results``, ``states``), all written in one transaction: a run is
stored whole or not at all. SQL views answer the usual questions (``run_summary``,
``run_comparison`` / ``compare_runs([...])``, ``scenario_kpis``, ``lca_phase_totals``).

Many processes may share the file: see :mod:`circman_kernel.store_conn` for the locking.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from circman_kernel.errors import ParameterError, PermissionDeniedError, StoreError
from circman_kernel.paths import default_db_path
from circman_kernel.store_conn import (
    connect,
    file_lock,
    inspect_file,
    migrate,
    schema_version,
    transaction,
)
from circman_kernel.store_schema import (
    EVENT_COLUMNS,
    JSON_COLUMNS,
    RECORD_COLUMNS,
    RUN_TABLES,
    SCHEMA_VERSION,
)

__all__ = ["KINDS", "STATUSES", "RunStore"]

log = logging.getLogger("circman.store")

KINDS: tuple[str, ...] = (
    "simulation",
    "monte_carlo",
    "scenario",
    "sweep",
    "optimization",
    "lca",
    "replay",
)
STATUSES: tuple[str, ...] = ("completed", "failed", "cancelled", "running")
_TRAJ_COLUMNS = ("iteration", "step", "variable", "value")
_RUN_COLUMNS = (
    "id, kind, name, created_at, duration_s, status, seed, config_hash, "
    "package_version, parameters, tags"
)


def _package_version() -> str:
    from circman_kernel import __version__

    return __version__


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, datetime | date | pd.Timestamp):
        return obj.isoformat()
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def to_json(value: Any, what: str) -> str | None:
    """Serialise ``value`` to JSON text (``None`` stays NULL); raise ParameterError if impossible."""
    if value is None:
        return None
    try:
        return json.dumps(value, default=_json_default, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"{what} must be JSON-serialisable (no NaN/inf, no objects): {exc}", name=what
        ) from exc


def _from_json(text: Any) -> Any:
    return json.loads(text) if isinstance(text, str) else None


def _as_list(values: str | Iterable[str] | None, what: str) -> list[str] | None:
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    for v in items:
        if not isinstance(v, str):
            raise ParameterError(f"{what} must be strings, got {v!r}", name=what, value=v)
    return items


def _records_frame(table: str, rows: Any, run_id: str, now: datetime) -> pd.DataFrame:
    """Return ``rows`` (DataFrame or list of dicts) as a frame with ``table``'s columns."""
    columns = RECORD_COLUMNS[table]
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    unknown = sorted(set(map(str, frame.columns)) - set(columns))
    if unknown:
        raise ParameterError(
            f"records[{table!r}] has unknown columns {unknown}; valid: {list(columns)}",
            name=f"records.{table}",
        )
    n = len(frame)
    if "id" not in frame:
        frame["id"] = [f"{run_id}:{table}:{i}" for i in range(n)]
    frame["run_id"] = run_id
    if "timestamp" not in frame:
        frame["timestamp"] = now
    for col in columns:
        if col not in frame:
            frame[col] = None
        elif col in JSON_COLUMNS:
            frame[col] = [
                v if isinstance(v, str) or v is None else to_json(v, f"records.{table}.{col}")
                for v in frame[col].astype(object)
            ]
    return frame[list(columns)]


def _trajectory_frame(traj: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(traj, pd.DataFrame):
        raise ParameterError("trajectories must be a pandas DataFrame", name="trajectories")
    cols = set(map(str, traj.columns))
    if "iteration" not in cols:  # a single simulation: iteration 0
        traj = traj.assign(iteration=np.int32(0))
        cols.add("iteration")
    if cols != set(_TRAJ_COLUMNS):
        raise ParameterError(
            f"trajectories must have columns {list(_TRAJ_COLUMNS)} (iteration optional), "
            f"got {sorted(cols)}",
            name="trajectories",
        )
    out = {}
    for col in ("iteration", "step"):
        s = traj[col]
        if not pd.api.types.is_integer_dtype(s.dtype):
            if s.isna().any():
                raise ParameterError(f"trajectories.{col} has missing values", name=col)
            s = s.astype("int64")
        out[col] = s
    out["variable"] = traj["variable"]
    v = traj["value"]
    out["value"] = v if v.dtype == np.float64 else v.astype("float64")
    return pd.DataFrame(out, copy=False)


class RunStore:
    """Runs, events and scenarios in a DuckDB file shared by many processes.

    Parameters
    ----------
    path
        DuckDB file; ``None`` uses :func:`circman_kernel.paths.default_db_path`
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
                migrate(con, self.path, _package_version())
            return
        info = inspect_file(self.path, deadline=self._deadline())
        if info.version < SCHEMA_VERSION:
            if not Path(self.path).parent.is_dir():
                raise StoreError(f"{self.path}: folder {Path(self.path).parent} does not exist")
            with self._write() as con:
                migrate(con, self.path, _package_version())

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
            con = connect(self.path, read_only=True, deadline=self._deadline())
            try:
                yield con
            finally:
                con.close()

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
        The connection is read-only for a file store.
        """
        if not isinstance(sql, str) or not sql.strip():
            raise ParameterError("sql must be a non-empty string", name="sql")
        with self._read() as con:
            try:
                return con.execute(sql, params if params is not None else []).df()
            except duckdb.Error as exc:
                raise StoreError(f"query failed: {exc}") from exc

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
            [_from_json(v) for v in df["parameters"]], index=df.index, dtype=object
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
        ids = _as_list(run_ids, "run_ids")
        if ids is not None:
            clauses.append("list_contains(?::VARCHAR[], id)")
            params.append(ids)
        kinds = _as_list(kind, "kind")
        if kinds is not None:
            bad = sorted(set(kinds) - set(KINDS))
            if bad:
                raise ParameterError(f"unknown run kind {bad}; valid: {list(KINDS)}", name="kind")
            clauses.append("list_contains(?::VARCHAR[], kind)")
            params.append(kinds)
        if name is not None:
            clauses.append("name = ?")
            params.append(name)
        tag_list = _as_list(tags, "tags")
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
        df = self._decode_runs(
            self.query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", [run_id])
        )
        if df.empty:
            raise StoreError(f"no run with id {run_id!r} in {self.path}")
        row = df.iloc[0].to_dict()
        row["created_at"] = pd.Timestamp(row["created_at"]).to_pydatetime()
        for key in ("duration_s", "seed"):
            if row[key] is not None and pd.isna(row[key]):
                row[key] = None
        if row["seed"] is not None:
            row["seed"] = int(row["seed"])
        kp = self.query("SELECT kpi, value FROM run_kpis WHERE run_id = ? ORDER BY kpi", [run_id])
        row["kpis"] = dict(zip(kp["kpi"], kp["value"].astype(float), strict=True))
        return row

    def trajectories(self, run_id: str) -> pd.DataFrame:
        """Return a run's trajectories (iteration, step, variable, value) in stored order."""
        with self._read() as con:
            if con.execute("SELECT count(*) FROM runs WHERE id = ?", [run_id]).fetchone()[0] == 0:
                raise StoreError(f"no run with id {run_id!r} in {self.path}")
            return con.execute(
                "SELECT iteration, step, variable, value FROM trajectories WHERE run_id = ?",
                [run_id],
            ).df()

    def kpis(self, run_ids: str | Iterable[str]) -> pd.DataFrame:
        """Return one row per run (index ``run_id``, in the given order) and one column per KPI."""
        ids = _as_list(run_ids, "run_ids") or []
        long = self.query(
            "SELECT run_id, kpi, value FROM run_kpis WHERE list_contains(?::VARCHAR[], run_id)",
            [ids],
        )
        missing = self._missing(ids)
        if missing:
            raise StoreError(f"no run with id {missing} in {self.path}")
        wide = long.pivot(index="run_id", columns="kpi", values="value")
        wide = wide.reindex(ids)
        wide.columns.name = None
        return wide

    def compare(self, run_ids: Iterable[str]) -> pd.DataFrame:
        """Return the KPIs of two or more runs side by side (rows: KPI, columns: run id)."""
        ids = _as_list(run_ids, "run_ids") or []
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
        tag_list = _as_list(tags, "tags") or []
        params_json = to_json(dict(parameters) if parameters is not None else {}, "parameters")
        kpi_frame = self._kpi_frame(run_id, kpis)
        traj = _trajectory_frame(trajectories) if trajectories is not None else None
        now = _utcnow()
        record_frames = {}
        for table, rows in (records or {}).items():
            if table not in RECORD_COLUMNS:
                raise ParameterError(
                    f"records has unknown table {table!r}; valid: {list(RECORD_COLUMNS)}",
                    name="records",
                )
            record_frames[table] = _records_frame(table, rows, run_id, now)
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
                    _package_version(),
                    params_json,
                    tag_list,
                ],
            )
            self._insert_frame(con, "run_kpis", kpi_frame)
            if traj is not None:
                self._insert_trajectories(con, run_id, traj)
            for table, frame in record_frames.items():
                self._insert_frame(con, table, frame)
        return run_id

    @staticmethod
    def _kpi_frame(run_id: str, kpis: Mapping[str, float] | None) -> pd.DataFrame:
        names, values = [], []
        for k, v in (kpis or {}).items():
            if not isinstance(k, str):
                raise ParameterError(f"KPI names must be strings, got {k!r}", name="kpis")
            try:
                values.append(float(v))
            except (TypeError, ValueError) as exc:
                raise ParameterError(
                    f"KPI {k!r} must be a number, got {v!r}", name="kpis", value=v
                ) from exc
            names.append(k)
        return pd.DataFrame({"run_id": [run_id] * len(names), "kpi": names, "value": values})

    @staticmethod
    def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        con.register("_circman_frame", frame)
        try:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _circman_frame")
        finally:
            con.unregister("_circman_frame")

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

    # -- events ------------------------------------------------------------------------

    def save_events(self, events: Any) -> int:
        """Store events (dicts, Event objects or a DataFrame); an existing id is replaced."""
        if isinstance(events, pd.DataFrame):
            rows = events.to_dict("records")
        else:
            rows = []
            for ev in events:
                if isinstance(ev, Mapping):
                    rows.append(dict(ev))
                elif hasattr(ev, "to_dict"):
                    rows.append(dict(ev.to_dict()))
                elif is_dataclass(ev):
                    rows.append(asdict(ev))
                else:
                    raise ParameterError(
                        f"cannot store event {ev!r}: give dicts or Event objects", name="events"
                    )
        if not rows:
            return 0
        clean = []
        for row in rows:
            unknown = sorted(set(row) - set(EVENT_COLUMNS))
            if unknown:
                raise ParameterError(
                    f"event has unknown fields {unknown}; valid: {list(EVENT_COLUMNS)}",
                    name="events",
                )
            if not row.get("id"):
                raise ParameterError("every event needs an 'id'", name="events.id")
            out = {}
            for col in EVENT_COLUMNS:
                v = row.get(col)
                if isinstance(v, Enum):
                    v = v.value
                if col == "details" and v is not None and not isinstance(v, str):
                    v = to_json(v, "events.details")
                if col == "acknowledged":
                    v = bool(v) if v is not None else False
                out[col] = v
            clean.append(out)
        frame = pd.DataFrame(clean, columns=list(EVENT_COLUMNS))
        frame["timestamp"] = pd.to_datetime(
            frame["timestamp"], format="ISO8601", utc=True
        ).dt.tz_localize(None)
        frame = frame.astype(
            {
                c: object
                for c in ("id", "run_id", "category", "severity", "source", "message", "details")
            }
        )
        with self._write() as con:
            con.register("_circman_events", frame)
            try:
                con.execute("INSERT OR REPLACE INTO events BY NAME SELECT * FROM _circman_events")
            finally:
                con.unregister("_circman_events")
        return len(frame)

    def acknowledge_event(self, event_id: str) -> bool:
        """Mark a stored event acknowledged; return False if no event has that id."""
        with self._write() as con:
            rows = con.execute(
                "UPDATE events SET acknowledged = true WHERE id = ? RETURNING id", [event_id]
            ).fetchall()
        return bool(rows)

    def events(
        self,
        *,
        category: str | None = None,
        severity: str | None = None,
        acknowledged: bool | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Return stored events, newest first, optionally filtered."""
        clauses, params = [], []
        for col, val in (
            ("category", category),
            ("severity", severity),
            ("acknowledged", acknowledged),
        ):
            if val is not None:
                clauses.append(f"{col} = ?")
                params.append(val)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        sql = f"SELECT * FROM events {where} ORDER BY timestamp DESC, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        df = self.query(sql, params)
        df["details"] = pd.Series(
            [_from_json(v) for v in df["details"]], index=df.index, dtype=object
        )
        return df

    # -- scenarios ---------------------------------------------------------------------

    def save_scenario(
        self,
        name: str,
        parameters: Mapping[str, Any],
        description: str = "",
        *,
        overwrite: bool = False,
    ) -> None:
        """Store a named scenario; an existing name needs ``overwrite=True``."""
        if not isinstance(name, str) or not name:
            raise ParameterError(
                "scenario name must be a non-empty string", name="name", value=name
            )
        if overwrite:
            self._deny("overwriting a scenario")
        params_json = to_json(dict(parameters), "parameters")
        now = _utcnow()
        with self._write() as con:
            existing = con.execute("SELECT id FROM scenarios WHERE name = ?", [name]).fetchone()
            if existing and not overwrite:
                raise StoreError(
                    f"scenario {name!r} already exists; pass overwrite=True to replace it"
                )
            if existing:
                con.execute(
                    "UPDATE scenarios SET description = ?, parameters = ?, updated_at = ? WHERE id = ?",
                    [description, params_json, now, existing[0]],
                )
            else:
                con.execute(
                    "INSERT INTO scenarios VALUES (?, ?, ?, ?, ?, ?)",
                    [uuid.uuid4().hex, name, description, params_json, now, now],
                )

    def get_scenario(self, name: str) -> dict[str, Any] | None:
        """Return a stored scenario as a dict, or None if there is none of that name."""
        df = self.query(
            "SELECT name, description, parameters, created_at, updated_at FROM scenarios WHERE name = ?",
            [name],
        )
        if df.empty:
            return None
        row = df.iloc[0].to_dict()
        row["parameters"] = _from_json(row["parameters"])
        return row

    def list_scenarios(self) -> pd.DataFrame:
        """Return all stored scenarios (name, description, parameters, created_at, updated_at)."""
        df = self.query(
            "SELECT name, description, parameters, created_at, updated_at FROM scenarios ORDER BY name"
        )
        df["parameters"] = pd.Series(
            [_from_json(v) for v in df["parameters"]], index=df.index, dtype=object
        )
        return df

    def delete_scenario(self, name: str) -> bool:
        """Delete a stored scenario; return False if there was none of that name."""
        self._deny("deleting a scenario")
        with self._write() as con:
            rows = con.execute(
                "DELETE FROM scenarios WHERE name = ? RETURNING id", [name]
            ).fetchall()
        return bool(rows)
