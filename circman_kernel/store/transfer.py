"""Moving runs between stores and folders (mixed into ``RunStore``, both backends).

``pull_runs`` copies runs of another store (the team store into the local DuckDB file,
or any direction) that this one lacks: incremental (only missing ids), idempotent
(pulling again changes nothing), ids, timestamps and every row kept, each batch one
transaction. ``push_runs`` is the same the other way. ``export_runs`` / ``import_runs``
go through a Parquet folder (:mod:`circman_kernel.store.bundle`), verified on import and
imported whole or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from circman_kernel.core.errors import ParameterError, StoreError
from circman_kernel.store.bundle import ROW_TABLES, RunBundle, read_export, write_export
from circman_kernel.store.frames import as_list
from circman_kernel.store.queries import in_list

__all__ = ["StoreTransfer"]

log = logging.getLogger("circman.store")

#: a pull batch ends after this many trajectory rows or runs (bounded memory)
BATCH_ROWS = 2_000_000
BATCH_RUNS = 200
_ORDER = {t: "run_id, id" for t in ROW_TABLES} | {
    "runs": "created_at, id",
    "run_kpis": "run_id, kpi",
}


def _as_time(value: datetime | str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"{what} must be an ISO 8601 date or time (UTC), got {value!r}", name=what, value=value
        ) from exc
    if ts is pd.NaT:
        raise ParameterError(f"{what} must be a date or time, got {value!r}", name=what)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()


class StoreTransfer:
    """Pull, push, export and import; see :class:`circman_kernel.store.run_store.RunStore`."""

    # -- bundles -------------------------------------------------------------------------

    def _read_bundle(self, ids: list[str]) -> RunBundle:
        """All rows of the runs ``ids`` (one consistent read)."""
        tables: dict[str, pd.DataFrame] = {}
        trajectories: dict[str, pd.DataFrame] = {}
        with self._read() as rx:
            for table in ROW_TABLES:
                key = "id" if table == "runs" else "run_id"
                tables[table] = rx.frame(
                    f"SELECT * FROM {table} WHERE {in_list(key)} ORDER BY {_ORDER[table]}", [ids]
                )
            with_rows = rx.fetchall(
                f"SELECT DISTINCT run_id FROM trajectories WHERE {in_list('run_id')}", [ids]
            )
            for (run_id,) in with_rows:
                trajectories[run_id] = rx.trajectories(run_id)
        return RunBundle(tables, trajectories)

    def _write_bundle(self, bundle: RunBundle, *, skip_existing: bool) -> list[str]:
        """Store the runs of ``bundle`` in one transaction; return the ids written.

        ``skip_existing``: runs already here are left as they are (a pull); otherwise
        any of them raises :class:`StoreError` and nothing is written (an import).
        """
        ids = bundle.run_ids
        if not ids:
            return []
        with self._write() as tx:
            here = {r[0] for r in tx.fetchall(f"SELECT id FROM runs WHERE {in_list('id')}", [ids])}
            if here and not skip_existing:
                raise StoreError(
                    f"run ids {sorted(here)} already exist in {self.path}; delete them first "
                    "(imports never overwrite)"
                )
            keep = [i for i in ids if i not in here]
            part = bundle.only(keep) if here else bundle
            for table in ROW_TABLES:
                tx.insert_frame(table, part.tables[table], replace=table == "events")
            for run_id, frame in part.trajectories.items():
                tx.insert_trajectories(run_id, frame)
        return keep

    # -- pull / push -----------------------------------------------------------------------

    def pull_runs(
        self,
        source: Any,
        *,
        kind: str | Iterable[str] | None = None,
        since: datetime | str | None = None,
        run_ids: str | Iterable[str] | None = None,
    ) -> list[str]:
        """Copy the runs of the store ``source`` that this store lacks.

        ``kind`` and ``since`` (created at or after, UTC) narrow which runs; run ids,
        metadata, KPIs, trajectories and records are kept exactly. Pulling again finds
        nothing new and changes nothing. Returns the ids copied, oldest first.
        """
        src = _store(source, "source")
        start = _as_time(since, "since")
        where, params = src._filter(run_ids=run_ids, kind=kind)
        if start is not None:
            where += (" AND " if where else "WHERE ") + "created_at >= ?::TIMESTAMP"
            params.append(start)
        with src._read() as rx:
            wanted = [r[0] for r in rx.fetchall(
                f"SELECT id FROM runs {where} ORDER BY created_at, id", params
            )]  # fmt: skip
            sizes = dict(rx.fetchall(
                f"SELECT run_id, count(*) FROM trajectories WHERE {in_list('run_id')} "
                "GROUP BY run_id", [wanted],
            )) if wanted else {}  # fmt: skip
        missing = self._missing(wanted) if wanted else []
        copied: list[str] = []
        for batch in _batches(missing, sizes):
            copied += self._write_bundle(src._read_bundle(batch), skip_existing=True)
        self._copy_configs(src, copied)  # so that the copies can be re-run
        log.info("%s: pulled %d runs from %s (%d already here)", self.path, len(copied),
                 src.path, len(wanted) - len(missing))  # fmt: skip
        return copied

    def push_runs(
        self,
        target: Any,
        *,
        kind: str | Iterable[str] | None = None,
        since: datetime | str | None = None,
        run_ids: str | Iterable[str] | None = None,
    ) -> list[str]:
        """Copy this store's runs that the store ``target`` lacks; see :meth:`pull_runs`."""
        return _store(target, "target").pull_runs(self, kind=kind, since=since, run_ids=run_ids)

    # -- Parquet export / import -------------------------------------------------------

    def export_runs(
        self, run_ids: str | Iterable[str], directory: str | Path, *, force: bool = False
    ) -> Path:
        """Write the given runs and all their rows as Parquet files into ``directory``.

        One file per table (``runs.parquet``, ``trajectories.parquet``, ...) plus
        ``manifest.json`` (row counts and checksums); :meth:`import_runs` reads the folder
        back exactly. A folder that is not empty is refused unless ``force=True``, which
        replaces the export files in it.
        """
        ids = as_list(run_ids, "run_ids") or []
        if not ids:
            raise ParameterError("export_runs needs at least one run id", name="run_ids")
        missing = self._missing(ids)
        if missing:
            raise StoreError(f"no run with id {missing} in {self.path}")
        out = Path(directory)
        if out.exists() and not out.is_dir():
            raise StoreError(f"{out} is a file; pass a folder for the export")
        if out.is_dir() and not force:
            entries = sorted(p.name for p in out.iterdir())
            if entries:
                raise StoreError(
                    f"{out} is not empty ({len(entries)} entries, e.g. {entries[0]!r}); choose "
                    "an empty or new folder, or pass force=True (--force) to replace the "
                    "export files in it"
                )
        return write_export(self._read_bundle(list(dict.fromkeys(ids))), out)

    def import_runs(self, directory: str | Path) -> list[str]:
        """Add the runs of an :meth:`export_runs` folder; return their ids.

        All or nothing: the folder is verified first (manifest, checksums, the row count
        of every table and run), and a run id that already exists here raises
        :class:`StoreError`; then every run is written in one transaction.
        """
        self._deny("importing runs")
        bundle = read_export(Path(directory))
        return self._write_bundle(bundle, skip_existing=False)


def _store(value: Any, what: str) -> Any:
    if not isinstance(value, StoreTransfer):
        raise ParameterError(
            f"{what} must be an open store (RunStore(url)), got {type(value).__name__}",
            name=what,
        )
    return value


def _batches(ids: list[str], sizes: dict[str, int]) -> list[list[str]]:
    out: list[list[str]] = []
    batch: list[str] = []
    rows = 0
    for run_id in ids:
        n = int(sizes.get(run_id, 0))
        if batch and (rows + n > BATCH_ROWS or len(batch) >= BATCH_RUNS):
            out.append(batch)
            batch, rows = [], 0
        batch.append(run_id)
        rows += n
    if batch:
        out.append(batch)
    return out
