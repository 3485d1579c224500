"""``RunWriter``: one run stored batch by batch, for runs too long to hold in memory.

:meth:`RunStore.open_run` returns a writer; :meth:`RunWriter.append` stores a batch of
trajectory rows and records in one short transaction of its own, so that memory stays
that of one batch whatever the run's length, and writers in other processes take their
turn between batches (DuckDB lets one process at a time write the file). Until
:meth:`RunWriter.close` the run's status is ``"running"``; ``close`` adds the KPIs and
marks it ``"completed"``. An error or Ctrl-C inside the ``with`` block (or
:meth:`RunWriter.abort`) deletes every row written so far: the run is kept whole or not at
all. Only a process killed outright (SIGKILL, power loss) leaves a run marked
``"running"`` behind, which says what it is; ``delete_runs(run_id)`` removes it.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.core.errors import ParameterError, StoreError
from circman_kernel.store.frames import (
    as_list,
    check_run_name,
    check_seed,
    kpi_frame,
    package_version,
    records_frame,
    to_json,
    trajectory_frame,
    utcnow,
)
from circman_kernel.store.queries import in_list
from circman_kernel.store.schema import KINDS, RECORD_COLUMNS, RUN_TABLES, STATUSES

__all__ = ["RUN_INSERT", "RunWriter", "check_duration", "delete_rows", "record_frames", "run_row"]

RUN_INSERT = (
    "INSERT INTO runs (id, kind, name, created_at, duration_s, status, seed, config_hash, "
    "package_version, parameters, tags) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?::JSON, ?::VARCHAR[])"
)

log = logging.getLogger("circman.store")

#: trajectory rows of one run fit the ``seq`` column (INTEGER)
_MAX_ROWS = 2**31 - 1


def run_row(
    kind: str,
    *,
    run_id: str,
    created_at: Any,
    name: str | None,
    parameters: Mapping[str, Any] | None,
    seed: int | None,
    config_hash: str | None,
    tags: Any,
    status: str,
    duration_s: float | None = None,
) -> list[Any]:
    """Return the ``runs`` row of a new run in :data:`RUN_INSERT`'s order, every field checked."""
    if kind not in KINDS:
        raise ParameterError(
            f"unknown run kind {kind!r}; valid: {list(KINDS)}", name="kind", value=kind
        )
    if status not in STATUSES:
        raise ParameterError(
            f"unknown status {status!r}; valid: {list(STATUSES)}", name="status", value=status
        )
    name = check_run_name(name)
    seed = check_seed(seed)
    duration_s = check_duration(duration_s)
    if parameters is not None and not isinstance(parameters, Mapping):
        raise ParameterError("parameters must be a mapping", name="parameters")
    return [
        run_id,
        kind,
        name,
        created_at,
        duration_s,
        status,
        seed,
        config_hash,
        package_version(),
        to_json(dict(parameters) if parameters is not None else {}, "parameters"),
        as_list(tags, "tags") or [],
    ]


def check_duration(duration_s: Any) -> float | None:
    """Return a run's duration [s]: ``None`` or a finite number >= 0."""
    if duration_s is not None and not (
        isinstance(duration_s, int | float) and math.isfinite(duration_s) and duration_s >= 0
    ):
        raise ParameterError(
            "duration_s must be a finite number >= 0 [s]", name="duration_s", value=duration_s
        )
    return None if duration_s is None else float(duration_s)


def record_frames(
    records: Mapping[str, Any] | None,
    run_id: str,
    created_at: Any,
    first: Mapping[str, int] | None = None,
) -> dict[str, pd.DataFrame]:
    """Return ``records`` (table -> rows) as frames; ids count from ``first[table]``."""
    frames = {}
    for table, rows in (records or {}).items():
        if table not in RECORD_COLUMNS:
            raise ParameterError(
                f"records has unknown table {table!r}; valid: {list(RECORD_COLUMNS)}",
                name="records",
            )
        start = first[table] if first is not None else 0
        frames[table] = records_frame(table, rows, run_id, created_at, first=start)
    return frames


def delete_rows(tx: Any, ids: list[str]) -> None:
    """Delete the runs ``ids`` and every row of theirs, inside the transaction ``tx``."""
    for table in RUN_TABLES[1:]:
        tx.execute(f"DELETE FROM {table} WHERE {in_list('run_id')}", [ids])
    tx.execute(f"DELETE FROM runs WHERE {in_list('id')}", [ids])


class RunWriter:
    """A run being stored in batches; use as a context manager (see the module docstring)."""

    def __init__(
        self,
        store: Any,
        kind: str,
        *,
        name: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        seed: int | None = None,
        config_hash: str | None = None,
        tags: str | Any = (),
        run_id: str | None = None,
    ) -> None:
        self.store = store
        self.run_id = uuid.uuid4().hex if run_id is None else str(run_id)
        self.created_at = utcnow()
        self._row = run_row(
            kind, run_id=self.run_id, created_at=self.created_at, name=name,
            parameters=parameters, seed=seed, config_hash=config_hash, tags=tags,
            status="running",
        )  # fmt: skip
        self._config_hash = config_hash
        self.trajectory_rows = 0
        self.record_rows: dict[str, int] = dict.fromkeys(RECORD_COLUMNS, 0)
        self.batches = 0
        self._state = "new"  # new -> open -> closed | aborted

    # -- the context manager -------------------------------------------------------------

    def __enter__(self) -> RunWriter:
        self._open()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if exc is None:
            if self._state == "open":
                self.close()
            return
        self.abort_after(exc)

    @property
    def status(self) -> str:
        """``"new"``, ``"open"`` (rows being written), ``"closed"`` or ``"aborted"``."""
        return self._state

    def _open(self) -> None:
        if self._state != "new":
            return
        with self.store._write() as tx:
            self.store._refuse_existing(tx, [self.run_id])
            tx.execute(RUN_INSERT, self._row)
            self.store._keep_config(tx, self._config_hash)  # its configuration, for re-runs
        self._state = "open"

    def _check_open(self, what: str) -> None:
        if self._state == "new":
            self._open()
        if self._state != "open":
            raise StoreError(f"run {self.run_id}: {what} after the run was {self._state}")

    # -- writing ---------------------------------------------------------------------------

    def append(
        self,
        *,
        trajectories: pd.DataFrame | None = None,
        records: Mapping[str, Any] | None = None,
    ) -> None:
        """Store one batch (trajectory rows in order, records) in one short transaction.

        ``trajectories`` and ``records`` take what :meth:`RunStore.save_run` takes; the
        records' ids default to ``<run id>:<table>:<n>`` counted over the whole run.
        """
        self._check_open("append")
        traj = trajectory_frame(trajectories) if trajectories is not None else None
        if traj is not None:
            if self.trajectory_rows + len(traj) > _MAX_ROWS:
                raise ParameterError(
                    f"a run holds at most {_MAX_ROWS:,} trajectory rows", name="trajectories"
                )
            start = self.trajectory_rows
            traj = traj.assign(seq=np.arange(start, start + len(traj), dtype=np.int32))
        frames = record_frames(records, self.run_id, self.created_at, first=self.record_rows)
        try:
            with self.store._append() as tx:
                if traj is not None and len(traj):
                    tx.insert_trajectories(self.run_id, traj)
                for table, frame in frames.items():
                    tx.insert_frame(table, frame)
        except BaseException as exc:
            self.abort_after(exc)
            raise
        if traj is not None:
            self.trajectory_rows += len(traj)
        for table, frame in frames.items():
            self.record_rows[table] += len(frame)
        self.batches += 1

    def close(
        self, *, kpis: Mapping[str, float] | None = None, duration_s: float | None = None
    ) -> str:
        """Add the KPIs and mark the run ``"completed"``; return its id."""
        self._check_open("close")
        kpi_rows = kpi_frame(self.run_id, kpis)
        duration_s = check_duration(duration_s)
        try:
            with self.store._write() as tx:
                tx.insert_frame("run_kpis", kpi_rows)
                tx.execute(
                    "UPDATE runs SET status = 'completed', duration_s = ? WHERE id = ?",
                    [duration_s, self.run_id],
                )
        except BaseException as exc:
            self.abort_after(exc)
            raise
        self._state = "closed"
        return self.run_id

    def abort(self) -> None:
        """Delete every row of the run written so far (nothing of it stays stored)."""
        if self._state != "open":
            self._state = "aborted" if self._state != "closed" else self._state
            return
        self._state = "aborted"
        with self.store._write() as tx:
            delete_rows(tx, [self.run_id])
        log.info("%s: run %s aborted, its rows deleted", self.store.path, self.run_id)

    def abort_after(self, error: BaseException) -> None:
        """:meth:`abort` because of ``error``, which stays the error the caller sees.

        If the rows cannot be deleted either (the disk that filled up during a batch
        may refuse the delete too), ``error`` gets a note saying so: the run stays
        marked ``"running"`` and ``delete_runs`` removes it later.
        """
        try:
            self.abort()
        except Exception as exc:
            error.add_note(
                f"run {self.run_id} could not be deleted ({exc}); it stays marked "
                f"'running' in {self.store.path}: delete_runs({self.run_id!r}) removes it"
            )
