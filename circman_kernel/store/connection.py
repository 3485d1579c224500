"""Opening the run store's DuckDB file safely when many processes share it.

DuckDB lets one process at a time open a file for writing, and a writer also blocks
read-only readers in other processes (``duckdb.IOException: Could not set lock``). So:

- writers take a cross-process :class:`filelock.FileLock` next to the file (bounded
  wait), open the file, run one short transaction and close it again;
- readers open the file read-only, queueing for that lock only while writers keep it
  busy (:func:`reader_turn`), and retry briefly on DuckDB's lock error;
- nothing keeps the file open between calls.

Before anything writes to an existing file it is inspected read-only
(:func:`inspect_file`), so a foreign, empty or newer file is never modified.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout

from circman_kernel.core.errors import StoreError
from circman_kernel.store.schema import MIGRATIONS, SCHEMA_TABLE, SCHEMA_VERSION

log = logging.getLogger("circman.store")

#: bytes 8..12 of every DuckDB database file
_DUCKDB_MAGIC = b"DUCK"


@dataclass(frozen=True)
class FileInfo:
    """What a read-only look at a store file found: its schema version (0 = new/blank)."""

    version: int
    exists: bool


def _is_lock_conflict(exc: Exception) -> bool:
    text = str(exc)
    return "lock" in text.lower() or _is_mode_conflict(exc)


def _is_mode_conflict(exc: Exception) -> bool:
    # DuckDB keeps one database instance per file and process; a second connection with
    # another access mode (read-only vs read-write) is refused with this message.
    return "different configuration" in str(exc)


# Read-only connections this module has open (or is opening), per file. DuckDB's own
# instance cache is per process, so this count is too: it tells a writer whether a
# read-only instance of the file is one of circman's short reads (wait for it) or a
# connection the caller keeps open (waiting cannot help).
_OWN_READERS: Counter[str] = Counter()
_OWN_READERS_LOCK = threading.Lock()


def _own_readers(path: str, delta: int) -> int:
    with _OWN_READERS_LOCK:
        _OWN_READERS[path] += delta
        n = _OWN_READERS[path]
        if n <= 0:
            del _OWN_READERS[path]
        return n


def _held_read_only_elsewhere(path: str) -> StoreError:
    return StoreError(
        f"{path}: this process already has the run store open read-only outside circman "
        "(e.g. duckdb.connect(path, read_only=True) or a JupySQL %sql connection), and "
        "DuckDB cannot open the same file for writing next to it; close that connection "
        "(con.close()) or open it without read_only=True, then save again"
    )


@contextmanager
def reading(
    path: str, *, deadline: float, queue: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a read connection to ``path`` (see :func:`connect`), closed afterwards.

    ``queue=True`` opens it in the reader's turn (:func:`reader_turn`).
    """
    _own_readers(path, +1)  # before opening, so no writer mistakes this read for a foreign one
    try:
        if queue:
            with reader_turn(path, deadline):
                con = connect(path, read_only=True, deadline=deadline)
        else:
            con = connect(path, read_only=True, deadline=deadline)
        try:
            yield con
        finally:
            con.close()
    finally:
        _own_readers(path, -1)


def connect(path: str, *, read_only: bool, deadline: float) -> duckdb.DuckDBPyConnection:
    """Open ``path``, retrying while another process (or connection) holds a conflicting lock.

    A read in a process that already has the file open read-write (a JupySQL connection)
    shares that instance, so the connection can write: :meth:`RunStore.query` checks
    statements itself.

    Raises
    ------
    StoreError
        When the file is still locked at ``deadline`` (``time.monotonic()`` seconds) or
        cannot be opened at all; at once for a write while this process holds the file
        open read-only outside circman.
    """
    delay = 0.002
    while True:
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.ConnectionException as exc:
            # this process already has the file open with the other access mode (e.g. a
            # JupySQL read-write connection): share that instance instead for reading
            if read_only and _is_mode_conflict(exc):
                try:
                    return duckdb.connect(path)
                except duckdb.Error as exc2:
                    last: Exception = exc2
            elif _is_mode_conflict(exc):
                with _OWN_READERS_LOCK:
                    ours = _OWN_READERS[path] > 0
                if not ours:  # nobody will close it while we wait
                    raise _held_read_only_elsewhere(path) from exc
                last = exc
            else:
                last = exc
            if not _is_lock_conflict(last):
                raise StoreError(f"{path}: cannot open the run store: {last}") from last
        except duckdb.IOException as exc:
            if not _is_lock_conflict(exc):
                raise StoreError(f"{path}: cannot open the run store: {exc}") from exc
            last = exc
        except duckdb.Error as exc:
            raise StoreError(f"{path}: cannot open the run store: {exc}") from exc
        if time.monotonic() >= deadline:
            if not read_only and _is_mode_conflict(last):
                raise StoreError(
                    f"{path}: reads in this process kept the run store open read-only until "
                    "the write gave up; close open store.connect() blocks or read-only "
                    f"DuckDB connections to the file, or raise lock_timeout_s: {last}"
                ) from last
            raise StoreError(
                f"{path}: the run store stayed locked by another process; "
                f"gave up waiting (raise lock_timeout_s or close the other connection): {last}"
            ) from last
        time.sleep(delay * (1.0 + random.random()))
        delay = min(delay * 2, 0.02)


def schema_version(con: duckdb.DuckDBPyConnection, path: str) -> int:
    """Return the circman schema version of an open database (0 for a blank one)."""
    tables = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    if SCHEMA_TABLE not in tables:
        if tables:
            raise StoreError(
                f"{path}: is a DuckDB database but not a circman run store "
                f"(tables {sorted(tables)[:5]}); pass another path"
            )
        return 0
    (version,) = con.execute(f"SELECT coalesce(max(version), 0) FROM {SCHEMA_TABLE}").fetchone()
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: run store schema version {version} is newer than this circman "
            f"(supports up to {SCHEMA_VERSION}); upgrade circman to open it"
        )
    return int(version)


def inspect_file(path: str, *, deadline: float) -> FileInfo:
    """Look at ``path`` without modifying it; raise :class:`StoreError` if it is not ours."""
    p = Path(path)
    if not p.exists():
        return FileInfo(0, False)
    if p.is_dir():
        raise StoreError(f"{path}: is a folder; pass the path of a .duckdb file")
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the run store: {exc}") from exc
    if not head:
        raise StoreError(
            f"{path}: is an empty file, not a circman run store; remove it or pass another path"
        )
    if len(head) < 12 or head[8:12] != _DUCKDB_MAGIC:
        raise StoreError(f"{path}: is not a DuckDB database (foreign file); pass another path")
    with reading(path, deadline=deadline) as con:
        return FileInfo(schema_version(con, path), True)


def migrate(
    con: duckdb.DuckDBPyConnection, path: str, package_version: str, target: int = SCHEMA_VERSION
) -> int:
    """Bring an open database (inside the caller's transaction) to ``target``; return it."""
    current = schema_version(con, path)
    for m in MIGRATIONS:
        if current < m.version <= target:
            for sql in m.statements:
                con.execute(sql)
            con.execute(
                f"INSERT INTO {SCHEMA_TABLE} VALUES (?, ?, now()::TIMESTAMP, ?)",
                [m.version, m.description, package_version],
            )
            log.info("%s: migrated run store to schema %d (%s)", path, m.version, m.description)
            current = m.version
    return current


@contextmanager
def file_lock(path: str, timeout_s: float, *, missing_ok: bool = False) -> Iterator[None]:
    """Hold the cross-process write lock ``<path>.lock`` (bounded wait).

    ``missing_ok``: where the lock file cannot be created (a read-only share, where no
    circman writer can be active either) go ahead without it.
    """
    lock = FileLock(f"{path}.lock", timeout=timeout_s)
    try:
        lock.acquire(poll_interval=0.01)
    except Timeout as exc:
        raise StoreError(
            f"{path}: another process kept the run store's write lock for more than "
            f"{timeout_s:g} s; raise lock_timeout_s or check for a hung writer"
        ) from exc
    except OSError as exc:
        if missing_ok:
            yield
            return
        raise StoreError(f"{path}: cannot create the lock file {path}.lock: {exc}") from exc
    try:
        yield
    finally:
        lock.release()


@contextmanager
def reader_turn(path: str, deadline: float) -> Iterator[None]:
    """Let a reader open the file without starving, or being starved by, the writers.

    A reader first probes ``<path>.lock`` (take and drop at once): if no writer holds it,
    it goes ahead. If writers keep it busy, the reader queues for the lock like a writer
    and holds it only while it opens the file, so a dashboard polling in a loop neither
    blocks the writers nor waits behind all of them. Where the lock file cannot be
    created (a read-only share) readers rely on the connect retries alone.
    """
    lock = FileLock(f"{path}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        pass
    except OSError:
        yield
        return
    else:
        lock.release()
        yield
        return
    try:
        lock.acquire(timeout=max(0.0, deadline - time.monotonic()), poll_interval=0.01)
    except Timeout as exc:
        raise StoreError(
            f"{path}: a writer kept the run store locked past the reader's time limit; "
            "raise lock_timeout_s or check for a hung writer"
        ) from exc
    try:
        yield
    finally:
        lock.release()


# PRAGMAs that only report (DuckDB's other PRAGMAs change settings or the file).
_READ_PRAGMAS = frozenset(
    {
        "collations",
        "database_list",
        "database_size",
        "functions",
        "metadata_info",
        "platform",
        "show",
        "show_databases",
        "show_tables",
        "show_tables_expanded",
        "storage_info",
        "table_info",
        "user_agent",
        "version",
    }
)
_EXPLAIN_PREFIX = re.compile(r"\s*EXPLAIN\s+(?:ANALYZE\s+)?(?:\([^)]*\)\s*)?", re.IGNORECASE)
_PRAGMA_NAME = re.compile(r"\s*PRAGMA\s+(\w+)", re.IGNORECASE)


def check_read_statement(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise :class:`StoreError` unless ``sql`` is one statement that only reads.

    Reads are ``SELECT`` in all its forms (``WITH``, ``FROM``, ``VALUES``, ``TABLE``,
    ``DESCRIBE``, ``SHOW``, ``SUMMARIZE``), ``EXPLAIN [ANALYZE]`` of one, and the PRAGMAs
    that report (``table_info``, ``database_size``, ...). The statement type comes from
    DuckDB's own parser, so the check does not depend on how the connection was opened.
    """
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise StoreError(f"query failed: {exc}") from exc
    if len(statements) != 1:
        raise StoreError(
            f"query() runs exactly one statement, got {len(statements)}; "
            "send them one call at a time"
        )
    (stmt,) = statements
    kind = stmt.type
    text = stmt.query
    if kind == duckdb.StatementType.EXPLAIN:
        # EXPLAIN ANALYZE runs the statement it explains: that one must read, too
        inner = _EXPLAIN_PREFIX.match(text)
        try:
            inner_stmts = con.extract_statements(text[inner.end() :]) if inner else []
        except duckdb.Error:
            inner_stmts = []
        if len(inner_stmts) == 1 and inner_stmts[0].type == duckdb.StatementType.SELECT:
            return
        what = "an EXPLAIN of a statement that is not a SELECT"
    elif kind == duckdb.StatementType.SELECT:
        return
    elif kind == duckdb.StatementType.PRAGMA:
        name = _PRAGMA_NAME.match(text)
        if name and name.group(1).lower() in _READ_PRAGMAS:
            return
        what = f"PRAGMA {name.group(1) if name else '?'} (it may change settings or the file)"
    else:
        what = f"a {kind.name} statement"
    raise StoreError(
        f"query() is read-only: it runs SELECT (and WITH, FROM, DESCRIBE, SHOW, "
        f"SUMMARIZE), EXPLAIN and reporting PRAGMAs, not {what}; change data through the "
        "RunStore methods (save_run, delete_runs, ...) or `with store.connect("
        "read_only=False) as con:`"
    )


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the block in one transaction: committed whole or rolled back."""
    con.begin()
    try:
        yield con
    except BaseException:
        con.rollback()
        raise
    con.commit()
