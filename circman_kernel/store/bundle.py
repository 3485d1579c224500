"""A set of runs with all their rows, moved between stores or through Parquet files.

:class:`RunBundle` holds each run table's rows as a DataFrame (trajectories per run, in
their stored order); any backend reads one (``RunStore._read_bundle``) and writes one in
a single transaction (``RunStore._write_bundle``). On disk a bundle is an export folder:
one Parquet file per table plus ``manifest.json`` with the run ids, the row count of
every table and every run, and each file's SHA-256, so that :func:`read_export` refuses
a folder with a file missing, changed or cut short instead of importing part of it.
Parquet is written and read by an in-memory DuckDB of the store's own schema, so types
come back exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from circman_kernel.core.errors import StoreError
from circman_kernel.store.connection import migrate, transaction
from circman_kernel.store.duck_tx import DuckTx
from circman_kernel.store.failures import write_error
from circman_kernel.store.frames import package_version
from circman_kernel.store.schema import RUN_TABLES, SCHEMA_VERSION

__all__ = ["EXPORT_FORMAT", "MANIFEST", "RunBundle", "read_export", "write_export"]

EXPORT_FORMAT = "circman-runs"
MANIFEST = "manifest.json"
#: the tables of a bundle other than trajectories, in export order
ROW_TABLES = tuple(t for t in RUN_TABLES if t != "trajectories")


@dataclass
class RunBundle:
    """Rows of some runs: ``tables`` (each run table but trajectories) and ``trajectories``.

    ``trajectories`` maps a run id to its frame (iteration, step, variable, value) in
    stored order; a run without trajectories has no entry.
    """

    tables: dict[str, pd.DataFrame]
    trajectories: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def run_ids(self) -> list[str]:
        return [str(i) for i in self.tables["runs"]["id"]]

    def only(self, ids: list[str]) -> RunBundle:
        """The same bundle restricted to ``ids``."""
        keep = set(ids)
        tables = {}
        for table, frame in self.tables.items():
            key = "id" if table == "runs" else "run_id"
            tables[table] = frame[frame[key].isin(keep)].reset_index(drop=True)
        return RunBundle(tables, {k: v for k, v in self.trajectories.items() if k in keep})

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per table and run: ``{table: {run_id: n}}``."""
        out: dict[str, dict[str, int]] = {}
        for table, frame in self.tables.items():
            key = "id" if table == "runs" else "run_id"
            out[table] = {str(k): int(v) for k, v in frame[key].value_counts().items()}
        out["trajectories"] = {k: len(v) for k, v in self.trajectories.items() if len(v)}
        return out


@contextmanager
def _scratch() -> Iterator[duckdb.DuckDBPyConnection]:
    # an in-memory DuckDB with the store's tables: the one place Parquet is read or written
    con = duckdb.connect(":memory:")
    try:
        with transaction(con):
            migrate(con, ":memory:", package_version())
        yield con
    finally:
        con.close()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sql_path(path: Path) -> str:
    # COPY ... TO takes no bound parameter for its target; quote it as a SQL string literal
    return "'" + str(path).replace("'", "''") + "'"


def write_export(bundle: RunBundle, out: Path) -> Path:
    """Write ``bundle`` into ``out`` (files first, ``manifest.json`` last); return ``out``."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".circman-export-", dir=out))
    except OSError as exc:
        raise StoreError(f"{out}: cannot create the export folder: {exc}") from exc
    try:
        files = {}
        with _scratch() as con:
            tx = DuckTx(con)
            for table in ROW_TABLES:
                tx.insert_frame(table, bundle.tables[table])
            for run_id, frame in bundle.trajectories.items():
                tx.insert_trajectories(run_id, frame)
            for table in RUN_TABLES:
                target = staging / f"{table}.parquet"
                con.execute(f"COPY (SELECT * FROM {table}) TO {_sql_path(target)} (FORMAT parquet)")
                files[target.name] = _sha256(target)
        manifest = {
            "format": EXPORT_FORMAT,
            "schema_version": SCHEMA_VERSION,
            "package_version": package_version(),
            "run_ids": bundle.run_ids,
            "rows": {t: sum(c.values()) for t, c in bundle.counts().items()},
            "run_rows": bundle.counts(),
            "files": files,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        for name in [*files, MANIFEST]:  # the manifest last: a folder without one is no export
            os.replace(staging / name, out / name)
    except (OSError, duckdb.Error) as exc:
        raise write_error(str(out), exc) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"{folder}: not a circman run export ({MANIFEST}: {exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
        raise StoreError(f"{folder}: {MANIFEST} is not a circman run export")
    if int(manifest.get("schema_version", 0)) > SCHEMA_VERSION:
        raise StoreError(
            f"{folder}: exported with schema {manifest['schema_version']}, newer than "
            f"this circman ({SCHEMA_VERSION}); upgrade circman"
        )
    return manifest


def _check_files(folder: Path, manifest: dict) -> None:
    for table in RUN_TABLES:
        if not (folder / f"{table}.parquet").is_file():
            raise StoreError(f"{folder}: missing {table}.parquet; nothing was imported")
    for name, digest in (manifest.get("files") or {}).items():
        path = folder / name
        if not path.is_file():
            raise StoreError(f"{folder}: missing {name}; nothing was imported")
        if _sha256(path) != digest:
            raise StoreError(
                f"{path}: its checksum differs from {MANIFEST} (changed or damaged after the "
                "export); nothing was imported: export the runs again"
            )


def read_export(folder: Path) -> RunBundle:
    """Return the bundle of an export folder after checking it is whole.

    Raises
    ------
    StoreError
        Not an export, a newer schema, a file missing or changed (checksum), a table or
        run with more or fewer rows than the manifest lists, rows of runs it does not list.
    """
    manifest = _manifest(folder)
    _check_files(folder, manifest)
    ids = [str(i) for i in manifest.get("run_ids", [])]
    tables: dict[str, pd.DataFrame] = {}
    trajectories: dict[str, pd.DataFrame] = {}
    with _scratch() as con:
        for table in RUN_TABLES:
            src = f"read_parquet({_sql_path(folder / f'{table}.parquet')})"
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {src}")
        for table in ROW_TABLES:
            tables[table] = con.execute(f"SELECT * FROM {table}").df()
        for (run_id,) in con.execute(
            "SELECT DISTINCT run_id FROM trajectories ORDER BY 1"
        ).fetchall():
            trajectories[run_id] = con.execute(
                "SELECT iteration, step, variable, value FROM trajectories WHERE run_id = ? "
                "ORDER BY seq, rowid",
                [run_id],
            ).df()
    bundle = RunBundle(tables, trajectories)
    _check_counts(folder, manifest, bundle, ids)
    return bundle


def _check_counts(folder: Path, manifest: dict, bundle: RunBundle, ids: list[str]) -> None:
    counts = bundle.counts()
    listed = set(ids)
    for table, per_run in counts.items():
        stray = sorted(set(per_run) - listed)
        if stray:
            raise StoreError(
                f"{folder}: {table}.parquet has rows of runs not in {MANIFEST} ({stray[:3]}); "
                "nothing was imported"
            )
    missing = [i for i in ids if i not in counts["runs"]]
    if missing:
        raise StoreError(
            f"{folder}: runs.parquet lacks the runs {missing[:3]} that {MANIFEST} lists "
            "(cut short or edited); nothing was imported"
        )
    for table, expected in (manifest.get("rows") or {}).items():
        found = sum(counts.get(table, {}).values())
        if int(expected) != found:
            raise StoreError(
                f"{folder}: {table}.parquet has {found} rows, {MANIFEST} lists {expected} "
                "(cut short or edited); nothing was imported"
            )
    for table, per_run in (manifest.get("run_rows") or {}).items():
        for run_id, expected in per_run.items():
            found = counts.get(table, {}).get(run_id, 0)
            if int(expected) != found:
                raise StoreError(
                    f"{folder}: run {run_id} has {found} rows in {table}.parquet, {MANIFEST} "
                    f"lists {expected}; nothing was imported"
                )
