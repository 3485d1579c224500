"""``RunStore``: every run kept in one DuckDB file and comparable with SQL.

A run (simulation, Monte Carlo, scenario, sweep, optimisation, LCA, replay) is one row
of ``runs`` plus its headline KPIs (``run_kpis``), its trajectories (the long numeric
table ``trajectories``) and any rows of the manual's tables (``simulations``,
``optimizations``, ``lca_results``, ``states``), all written in one transaction: a run is
stored whole or not at all. SQL views answer the usual questions (``run_summary``,
``run_comparison`` / ``compare_runs([...])``, ``scenario_kpis``, ``lca_phase_totals``).

This module opens the file, hands out connections and writes and deletes runs; reading
runs back is in :mod:`circman_kernel.store.queries`, events, scenarios and Parquet transfer
in :mod:`circman_kernel.store.extras` (both mixed into ``RunStore``). Many processes may
share the file: see :mod:`circman_kernel.store.connection` for the locking.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
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
    insert_frame,
    kpi_frame,
    package_version,
    records_frame,
    to_json,
    trajectory_frame,
    utcnow,
)
from circman_kernel.store.queries import StoreQueries
from circman_kernel.store.schema import KINDS, RECORD_COLUMNS, RUN_TABLES, SCHEMA_VERSION, STATUSES

__all__ = ["KINDS", "STATUSES", "RunStore"]

log = logging.getLogger("circman.store")

TRAJECTORY_COLUMNS = ("iteration", "step", "variable", "value")


class RunStore(StoreQueries, StoreExtras):
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
