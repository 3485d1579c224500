"""``AbstractRunStore``: the interface both run store backends implement.

A run (simulation, Monte Carlo, scenario, sweep, optimisation, LCA, replay) is one row
of ``runs`` plus its headline KPIs (``run_kpis``), its trajectories (the long numeric
table ``trajectories``) and any rows of the manual's tables (``simulations``,
``optimizations``, ``lca_results``, ``states``), all written in one transaction: a run is
stored whole or not at all. SQL views answer the usual questions (``run_summary``,
``run_comparison`` / ``compare_runs([...])``, ``scenario_kpis``, ``lca_phase_totals``).

As MLflow's ``AbstractStore`` is for its file and SQL stores, the methods here and in the
mixins are written once against a few primitives each backend provides: ``_write()`` /
``_read()`` transactions whose ``execute``/``fetchall``/``frame`` take portable SQL with
``?`` placeholders, bulk ``insert_frame`` and ``insert_trajectories``, ``trajectories``,
and the sandboxed ``_run_query``. The backends are
:class:`~circman_kernel.store.duck.DuckDBStore` (the embedded file) and
:class:`~circman_kernel.store.pg.PostgresStore` (the team store);
:class:`~circman_kernel.store.run_store.RunStore` opens the one a location names.
"""

from __future__ import annotations

import abc
import logging
import uuid
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import pandas as pd

from circman_kernel.core.errors import ParameterError, PermissionDeniedError, StoreError
from circman_kernel.store.configs import StoreConfigs
from circman_kernel.store.extras import StoreExtras
from circman_kernel.store.frames import (
    kpi_frame,
    trajectory_frame,
    utcnow,
)
from circman_kernel.store.queries import StoreQueries, default_query_timeout, in_list
from circman_kernel.store.run_writer import (
    RUN_INSERT,
    RunWriter,
    delete_rows,
    record_frames,
    run_row,
)
from circman_kernel.store.schema import KINDS, STATUSES
from circman_kernel.store.transfer import StoreTransfer
from circman_kernel.store.urls import Location, parse_location
from circman_kernel.store.users import StoreUsers

__all__ = ["KINDS", "STATUSES", "AbstractRunStore"]

log = logging.getLogger("circman.store")


class AbstractRunStore(StoreQueries, StoreExtras, StoreUsers, StoreTransfer, StoreConfigs, abc.ABC):
    """Runs, events, scenarios, users and audit in a DuckDB file or a PostgreSQL database.

    Parameters
    ----------
    url
        Where the store lives: a DuckDB path, ``duckdb:///path``, ``":memory:"`` (a
        private temporary file, removed with the object), ``postgresql://user@host:port/db``
        or a libpq keyword string; ``None`` reads ``$CIRCMAN_DB`` (default
        ``data/circman.duckdb``).
    published
        Read-mostly mode for published dashboards: deleting, overwriting and importing
        raise :class:`PermissionDeniedError`; saving new runs still works.
    lock_timeout_s
        Longest wait [s] for a write (DuckDB's cross-process lock, PostgreSQL's row and
        table locks) or a reader's turn.
    query_timeout_s
        Default time limit [s] of :meth:`query` (``None``: ``$CIRCMAN_QUERY_TIMEOUT`` or
        60 s; 0: none).

    Raises
    ------
    StoreError
        The location cannot be opened, is not a circman store, or has a newer schema
        (the DuckDB file refuses to open; the team store opens for reading and refuses
        writes). A foreign file is left byte-identical.
    """

    #: backend name: "duckdb" or "postgresql"
    backend: str = ""
    location: Location
    path: str  # where the data is, safe to print (a file path or a redacted URL)
    published: bool
    lock_timeout_s: float
    query_timeout_s: float | None

    def __repr__(self) -> str:
        mode = ", published=True" if self.published else ""
        return f"{type(self).__name__}({self.path!r}{mode})"

    # -- primitives each backend provides ---------------------------------------------------

    @abc.abstractmethod
    def _write(self) -> AbstractContextManager[Any]:
        """One write transaction (committed whole or rolled back) yielding a transaction."""

    @abc.abstractmethod
    def _read(self) -> AbstractContextManager[Any]:
        """A consistent read yielding an object with ``fetchall`` and ``frame``."""

    @abc.abstractmethod
    def connect(self, *, read_only: bool = True) -> AbstractContextManager[Any]:
        """Yield a raw connection of the backend (closed afterwards); keep the block short."""

    @property
    @abc.abstractmethod
    def schema_version(self) -> int:
        """Schema version of the store."""

    def close(self) -> None:
        """Release what this object keeps open between calls (the team store's idle
        connection; the DuckDB file is never kept open). It reopens when used again."""

    def __enter__(self) -> AbstractRunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- shared helpers --------------------------------------------------------------------

    def _settle(
        self, url: Any, published: bool, lock_timeout_s: float, query_timeout_s: float | None
    ) -> None:
        """Set the settings every backend has (``__init__``'s first step)."""
        self.location = parse_location(url)
        if self.location.backend != self.backend:
            raise ParameterError(
                f"{self.location.display} is not a {self.backend} location; open it with "
                "RunStore(url)",
                name="url",
            )
        self.path = self.location.display
        self.published = bool(published)
        if not lock_timeout_s > 0:
            raise ParameterError(
                "lock_timeout_s must be > 0", name="lock_timeout_s", value=lock_timeout_s
            )
        self.lock_timeout_s = float(lock_timeout_s)
        self.query_timeout_s = default_query_timeout(query_timeout_s)

    def _deny(self, what: str) -> None:
        if self.published:
            raise PermissionDeniedError(
                f"{what} is not allowed on a published store ({self.path}); "
                "open it with published=False to change existing data"
            )

    def _settings(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "lock_timeout_s": self.lock_timeout_s,
            "query_timeout_s": self.query_timeout_s,
        }

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

        ``name`` is at most 200 characters. ``trajectories`` is a long DataFrame
        (iteration, step, variable, value; iteration may be omitted for a single
        simulation). ``records`` maps ``simulations``, ``optimizations``, ``lca_results``
        or ``states`` to a DataFrame or list of dicts with that table's columns
        (dict/list values are stored as JSON).
        """
        run_id = uuid.uuid4().hex if run_id is None else str(run_id)
        now = utcnow()
        row = run_row(
            kind, run_id=run_id, created_at=now, name=name, parameters=parameters, seed=seed,
            config_hash=config_hash, tags=tags, status=status, duration_s=duration_s,
        )  # fmt: skip
        kpi_rows = kpi_frame(run_id, kpis)
        traj = trajectory_frame(trajectories) if trajectories is not None else None
        frames = record_frames(records, run_id, now)
        with self._write() as tx:
            self._refuse_existing(tx, [run_id])
            tx.execute(RUN_INSERT, row)
            self._keep_config(tx, config_hash)  # the configuration itself, for re-runs
            tx.insert_frame("run_kpis", kpi_rows)
            if traj is not None:
                tx.insert_trajectories(run_id, traj)
            for table, frame in frames.items():
                tx.insert_frame(table, frame)
        return run_id

    def open_run(
        self,
        kind: str,
        *,
        name: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        seed: int | None = None,
        config_hash: str | None = None,
        tags: str | Iterable[str] = (),
        run_id: str | None = None,
    ) -> RunWriter:
        """Return a :class:`~circman_kernel.store.run_writer.RunWriter` storing one run in batches.

        For runs too long to hold in memory (a recorded replay of a large CSV): each
        ``append`` is a short transaction of its own, the run reads ``"running"`` until
        ``close`` and an error inside ``with store.open_run(...) as w:`` deletes it.
        """
        return RunWriter(
            self, kind, name=name, parameters=parameters, seed=seed,
            config_hash=config_hash, tags=tags, run_id=run_id,
        )  # fmt: skip

    def _append(self) -> AbstractContextManager[Any]:
        """The transaction of one :meth:`RunWriter.append` batch (a backend may bound it)."""
        return self._write()

    def _refuse_existing(self, tx: Any, ids: list[str]) -> None:
        sql = f"SELECT id FROM runs WHERE {in_list('id')} ORDER BY id"
        clash = [r[0] for r in tx.fetchall(sql, [ids])]
        if len(clash) == 1:
            raise StoreError(
                f"run id {clash[0]!r} already exists in {self.path}; runs are never overwritten"
            )
        if clash:
            raise StoreError(
                f"run ids {clash} already exist in {self.path}; runs are never overwritten"
            )

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
        with self._write() as tx:
            ids = [r[0] for r in tx.fetchall(f"SELECT id FROM runs {where}", params)]
            if ids:
                delete_rows(tx, ids)
        log.info("%s: deleted %d runs", self.path, len(ids))
        return len(ids)
