"""``DuckDBStore``: the embedded run store in one DuckDB file shared by many processes.

Writers take the cross-process lock, open the file, run one transaction and close it;
readers open it read-only in their turn (:mod:`circman_kernel.store.connection`). User
SQL (:meth:`RunStore.query`) runs on a private snapshot of the file: copied while no
writer is active, opened read-only with DuckDB's external access disabled (no files,
network, extensions or settings), bounded in time, and deleted afterwards, so that a long
query never keeps ``circman simulate`` in another process out of the store.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from circman_kernel.core.errors import StoreError
from circman_kernel.core.processes import running
from circman_kernel.store.base import AbstractRunStore
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
from circman_kernel.store.duck_tx import DuckTx
from circman_kernel.store.failures import write_error
from circman_kernel.store.frames import package_version
from circman_kernel.store.sandbox import run_bounded
from circman_kernel.store.schema import SCHEMA_VERSION

__all__ = ["DuckDBStore"]

_SNAPSHOT_PREFIX = ".circman-query-"
#: DuckDB's settings while a batch of a long run is written (RunWriter.append): memory
#: that does not grow with the store (a 1 GB replay peaks below 300 MB in all)
_BOUNDED = {"memory_limit": "32MB", "threads": "1"}
#: settings of the connection a user query runs on: the store and nothing else
_SANDBOX = {
    "enable_external_access": "false",
    "autoload_known_extensions": "false",
    "autoinstall_known_extensions": "false",
    "lock_configuration": "true",
}


class DuckDBStore(AbstractRunStore):
    """The embedded run store: one DuckDB file (see :class:`~circman_kernel.store.base.AbstractRunStore`)."""

    backend = "duckdb"

    def __init__(
        self,
        url: str | os.PathLike[str] | None = None,
        *,
        published: bool = False,
        lock_timeout_s: float = 60.0,
        query_timeout_s: float | None = None,
    ) -> None:
        self._settle(url, published, lock_timeout_s, query_timeout_s)
        self._mutex = threading.RLock()
        self._memory = self.location.target == ":memory:"
        if self._memory:
            # a private file, so that the memory store reads, writes and queries as a file
            folder = tempfile.mkdtemp(prefix="circman-memory-")
            weakref.finalize(self, shutil.rmtree, folder, True)
            self._file = str(Path(folder) / "memory.duckdb")
        else:
            self._file = self.location.target
        info = inspect_file(self._file, deadline=self._deadline())
        if info.version < SCHEMA_VERSION:
            if not Path(self._file).parent.is_dir():
                raise StoreError(f"{self.path}: folder {Path(self._file).parent} does not exist")
            with self._connection() as con:
                migrate(con, self.path, package_version())

    def __reduce__(self) -> tuple[Any, ...]:
        if self._memory:
            raise TypeError("an in-memory run store cannot be sent to another process")
        return (_reopen, (self._file, self._settings()))

    # -- connections -------------------------------------------------------------------

    def _deadline(self) -> float:
        return time.monotonic() + self.lock_timeout_s

    @contextmanager
    def _connection(self, bounded: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """One short write transaction under the cross-process lock.

        ``bounded``: DuckDB works in one thread within :data:`_BOUNDED` memory for this
        transaction and its checkpoint (the settings are restored after).
        """
        with self._mutex, file_lock(self._file, self.lock_timeout_s):
            con = connect(self._file, read_only=False, deadline=self._deadline())
            previous = {}
            try:
                if bounded:
                    previous = _settings(con, _BOUNDED)
                    _apply(con, _BOUNDED)
                # re-check under the lock: another process may have changed the file
                schema_version(con, self.path)
                with transaction(con):
                    yield con
                if previous:
                    # the checkpoint that closing would run must stay inside the bound too
                    with suppress(duckdb.Error):  # another connection of this process is busy
                        con.execute("CHECKPOINT")
                    _apply(con, previous)
            except duckdb.Error as exc:
                raise write_error(self.path, exc) from exc
            finally:
                try:
                    con.close()
                except duckdb.Error as exc:  # the closing checkpoint may hit a full disk
                    raise write_error(self.path, exc) from exc

    @contextmanager
    def _write(self) -> Iterator[DuckTx]:
        with self._connection() as con:
            yield DuckTx(con)

    @contextmanager
    def _append(self) -> Iterator[DuckTx]:
        # a batch of a long run: DuckDB's buffers (the states index grows with the run)
        # are bounded so that memory stays that of one batch, however long the run
        with self._connection(bounded=True) as con:
            yield DuckTx(con)

    @contextmanager
    def _read(self) -> Iterator[DuckTx]:
        with self._mutex:
            if not Path(self._file).exists():
                raise StoreError(f"{self.path}: the run store file has been removed")
            with reading(self._file, deadline=self._deadline(), queue=True) as con:
                yield DuckTx(con)

    @contextmanager
    def connect(self, *, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """Yield a raw DuckDB connection to the file for ad-hoc SQL (closed afterwards).

        Keep the block short: while it is open, other processes cannot write.
        """
        if not read_only:
            self._deny("a read-write connection")
            with self._connection() as con:
                yield con
            return
        with self._read() as rx:
            yield rx.con

    @property
    def schema_version(self) -> int:
        """Schema version of the store file."""
        with self._read() as rx:
            return schema_version(rx.con, self.path)

    # -- user queries ------------------------------------------------------------------

    def _run_query(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None, timeout_s: float | None
    ) -> pd.DataFrame:
        values: Any = dict(params) if isinstance(params, Mapping) else list(params or [])
        with self._snapshot() as snap:
            try:
                con = duckdb.connect(snap, read_only=True, config=dict(_SANDBOX))
            except duckdb.Error as exc:
                raise StoreError(f"{self.path}: cannot open a query snapshot: {exc}") from exc
            try:
                check_read_statement(con, sql)
                return run_bounded(
                    lambda: con.execute(sql, values).df(), con.interrupt, timeout_s, "the query"
                )
            except duckdb.Error as exc:
                raise StoreError(f"query failed: {_sandbox_message(exc)}") from exc
            finally:
                con.close()

    @contextmanager
    def _snapshot(self) -> Iterator[str]:
        """Yield a private copy of the file taken while no writer is active; removed after."""
        src = Path(self._file)
        if not src.exists():
            raise StoreError(f"{self.path}: the run store file has been removed")
        folder = _snapshot_folder(src.parent)
        try:
            copy = Path(folder) / src.name
            try:
                with self._mutex, file_lock(self._file, self.lock_timeout_s, missing_ok=True):
                    shutil.copyfile(src, copy)
                    wal = src.with_name(src.name + ".wal")
                    if wal.exists():
                        shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
            except OSError as exc:
                if isinstance(exc, StoreError):
                    raise
                raise write_error(f"a query snapshot of {self.path} in {folder}", exc) from exc
            yield str(copy)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _settings(con: duckdb.DuckDBPyConnection, names: Mapping[str, str]) -> dict[str, str]:
    return {
        name: str(con.execute("SELECT current_setting(?)", [name]).fetchone()[0]) for name in names
    }


def _apply(con: duckdb.DuckDBPyConnection, settings: Mapping[str, str]) -> None:
    for name, value in settings.items():  # names are ours; values quoted as literals
        con.execute(f"SET {name} = '{value.replace(chr(39), chr(39) * 2)}'")


def _sandbox_message(exc: BaseException) -> str:
    text = str(exc)
    if "disabled by configuration" in text or "external access" in text.lower():
        return (
            f"{text} (store queries see the store's tables only: no files, network, "
            "extensions or settings)"
        )
    return text


def _snapshot_folder(beside: Path) -> str:
    """A new private folder next to the store (same file system), else in the temp folder."""
    _remove_stale_snapshots(beside)
    prefix = f"{_SNAPSHOT_PREFIX}{os.getpid()}-"
    try:
        return tempfile.mkdtemp(prefix=prefix, dir=beside)
    except OSError:
        return tempfile.mkdtemp(prefix=prefix)


def _remove_stale_snapshots(folder: Path) -> None:
    # a process killed during a query leaves its snapshot behind: remove those of dead pids
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(_SNAPSHOT_PREFIX)]
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(_SNAPSHOT_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not running(int(pid)):
            shutil.rmtree(entry.path, ignore_errors=True)


def _reopen(file: str, settings: dict[str, Any]) -> DuckDBStore:
    return DuckDBStore(file, **settings)
