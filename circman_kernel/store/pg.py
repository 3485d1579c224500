"""``PostgresStore``: the team run store on a PostgreSQL server, through psycopg 3.

Many researchers, a dashboard server and Dask workers on different machines write to it
at once: each write is one transaction (a run whole or not at all) and PostgreSQL's own
concurrency replaces the DuckDB file lock. Bulk rows go in with ``COPY`` (binary, see
:mod:`circman_kernel.store.pg_copy`), never ``executemany``. The portable SQL of the
shared methods (``?`` placeholders) is rewritten to ``$1, $2, ...``
(:func:`~circman_kernel.store.sandbox.numbered_placeholders`).

A user query (:meth:`RunStore.query`) gets a fresh session: one statement (extended
protocol), a read-only transaction with ``statement_timeout``, and for a superuser the
rights of ``pg_read_all_data`` only (no ``pg_read_file``, ``COPY TO`` a file, ...).
Errors name the server (host and port) and never the password.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import pandas as pd
import psycopg

from circman_kernel.core.errors import StoreError
from circman_kernel.store.base import AbstractRunStore
from circman_kernel.store.pg_errors import connect_error, query_error, write_error
from circman_kernel.store.pg_frames import result_frame
from circman_kernel.store.pg_schema import PG_MIGRATIONS
from circman_kernel.store.pg_tx import PgTx, configure
from circman_kernel.store.sandbox import (
    QueryTimeout,
    first_keyword,
    numbered_placeholders,
    run_bounded,
)
from circman_kernel.store.schema import SCHEMA_TABLE, SCHEMA_VERSION

__all__ = ["PostgresStore"]

log = logging.getLogger("circman.store")

#: pg_advisory_xact_lock key serialising schema migrations ("circ")
_MIGRATION_LOCK = 0x63697263
_READ_STATEMENTS = frozenset({"SELECT", "WITH", "VALUES", "TABLE", "EXPLAIN", "SHOW"})


#: an idle connection older than this [s] is checked before it is used again
_PING_AFTER_S = 5.0


def _alive(conn: psycopg.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.Error:
        with suppress(Exception):
            conn.close()
        return False
    return True


class PostgresStore(AbstractRunStore):
    """The team run store on PostgreSQL (see :class:`~circman_kernel.store.base.AbstractRunStore`)."""

    backend = "postgresql"

    def __init__(
        self,
        url: str | None = None,
        *,
        published: bool = False,
        lock_timeout_s: float = 60.0,
        query_timeout_s: float | None = None,
        _connect: bool = True,
    ) -> None:
        self._settle(url, published, lock_timeout_s, query_timeout_s)
        self._idle: list[tuple[int, float, psycopg.Connection]] = []  # (pid, idle since, conn)
        self._idle_lock = threading.Lock()
        self._types: dict[str, dict[str, str]] = {}
        self._version: int | None = None
        if _connect:  # an unpickled copy (a Dask task) connects when first used
            self._ensure_open()

    def __reduce__(self) -> tuple[Any, ...]:
        # a Dask worker reopens the store from its location (the password travels with
        # the task, as in the caller's own URL; it is never printed)
        return (_reopen, (self.location.target, self._settings()))

    def __del__(self) -> None:
        with suppress(Exception):
            self.close()

    def close(self) -> None:
        """Close the idle connection this object keeps (it reconnects when used again)."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        pid = os.getpid()
        for owner, _, conn in idle:
            # a forked child must not end its parent's session (PQfinish on a shared socket)
            if owner == pid:
                with suppress(Exception):
                    conn.close()

    # -- connections -------------------------------------------------------------------

    def _new_connection(self, *, autocommit: bool = True) -> psycopg.Connection:
        try:
            conn = psycopg.connect(
                self.location.target,
                autocommit=autocommit,
                application_name=os.environ.get("CIRCMAN_APPLICATION_NAME", "circman"),
            )
        except psycopg.Error as exc:
            raise connect_error(self.location, exc) from None
        configure(conn)
        return conn

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """An idle connection of this process (reused), or a new one; kept if healthy."""
        pid = os.getpid()
        conn = None
        with self._idle_lock:
            while self._idle and conn is None:
                owner, since, candidate = self._idle.pop()
                if owner == pid and not candidate.closed:
                    conn = candidate
        if conn is not None and time.monotonic() - since > _PING_AFTER_S and not _alive(conn):
            conn = None  # the server ended the idle session (restart, idle timeout)
        if conn is None:
            conn = self._new_connection()
        healthy = False
        try:
            yield conn
            healthy = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        finally:
            if healthy and not conn.closed:
                with self._idle_lock:
                    self._idle.append((pid, time.monotonic(), conn))
            else:
                with suppress(Exception):
                    conn.close()

    def _ensure_open(self) -> int:
        if self._version is None:
            self._version = self._open()
        return self._version

    def _open(self) -> int:
        """Check the schema and migrate an older one; return the version found."""
        with self._connection() as conn:
            try:
                with conn.transaction():
                    tx = PgTx(conn, self)
                    version = self._version_of(tx)
                    if version < SCHEMA_VERSION:
                        tx.execute("SELECT pg_advisory_xact_lock(?)", [_MIGRATION_LOCK])
                        version = self._migrate(tx, self._version_of(tx))
            except psycopg.Error as exc:
                raise write_error(self.location, exc, "opening the run store failed") from exc
        if version > SCHEMA_VERSION:
            log.warning(
                "%s: schema version %d is newer than this circman (%d): read-only",
                self.path, version, SCHEMA_VERSION,
            )  # fmt: skip
        return version

    def _version_of(self, tx: PgTx) -> int:
        tables = {
            r[0]
            for r in tx.fetchall(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
        }
        if SCHEMA_TABLE not in tables:
            if tables:
                raise StoreError(
                    f"{self.path}: the database holds tables {sorted(tables)[:5]} but is not a "
                    "circman run store; use an empty database (createdb) or another schema "
                    "(options=-csearch_path=circman)"
                )
            return 0
        ((version,),) = tx.fetchall(f"SELECT coalesce(max(version), 0) FROM {SCHEMA_TABLE}")
        return int(version)

    def _migrate(self, tx: PgTx, current: int) -> int:
        from circman_kernel.store.frames import package_version

        for m in PG_MIGRATIONS:
            if current < m.version <= SCHEMA_VERSION:
                for statement in m.statements:
                    tx.cur.execute(statement)
                tx.execute(
                    f"INSERT INTO {SCHEMA_TABLE} VALUES (?, ?, localtimestamp, ?)",
                    [m.version, m.description, package_version()],
                )
                log.info("%s: migrated run store to schema %d (%s)", self.path, m.version,
                         m.description)  # fmt: skip
                current = m.version
        return current

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: run store schema version {version} is newer than this circman "
                f"(supports up to {SCHEMA_VERSION}); it is open for reading only: upgrade "
                "circman to write to it"
            )

    @contextmanager
    def _write(self) -> Iterator[PgTx]:
        self._refuse_newer(self._ensure_open())
        with self._connection() as conn:
            try:
                with conn.transaction():
                    tx = PgTx(conn, self)
                    tx.cur.execute(f"SET LOCAL lock_timeout = {int(self.lock_timeout_s * 1000)}")
                    # another client may have upgraded the schema since this store opened
                    self._version = self._version_of(tx)
                    self._refuse_newer(self._version)
                    yield tx
            except psycopg.Error as exc:
                raise write_error(self.location, exc, "write failed and was rolled back") from exc

    @contextmanager
    def _read(self) -> Iterator[PgTx]:
        self._ensure_open()
        with self._connection() as conn:
            try:
                with conn.transaction():
                    tx = PgTx(conn, self)
                    tx.cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    yield tx
            except psycopg.Error as exc:
                raise write_error(self.location, exc, "read failed") from exc

    @contextmanager
    def connect(self, *, read_only: bool = True) -> Iterator[PgTx]:
        """Yield a transaction on the server whose ``execute``/``fetchall``/``frame`` take ``?``.

        ``.connection`` is the psycopg connection. Committed at the end of the block
        (rolled back on an error); ``read_only=False`` is refused on a published store.
        """
        if not read_only:
            self._deny("a read-write connection")
            with self._write() as tx:
                yield tx
            return
        with self._read() as tx:
            yield tx

    @property
    def schema_version(self) -> int:
        """Schema version of the team store."""
        with self._read() as tx:
            return self._version_of(tx)

    def _columns(self, tx: PgTx, table: str, wanted: list[str]) -> tuple[list[str], list[str]]:
        """Return ``wanted``'s columns of ``table`` and their COPY types (cached)."""
        types = self._types.get(table)
        if types is None:
            rows = tx.fetchall(
                "SELECT column_name, udt_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
                [table],
            )
            # json travels as its text: the binary format of json is its UTF-8 text
            types = {
                c: (
                    "text" if u in ("json", "varchar") else f"{u[1:]}[]" if u.startswith("_") else u
                )
                for c, u in rows
            }
            self._types[table] = types
        unknown = [c for c in wanted if c not in types]
        if unknown:
            raise StoreError(f"{self.path}: table {table} has no columns {unknown}")
        return wanted, [types[c] for c in wanted]

    # -- user queries ------------------------------------------------------------------

    def _run_query(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None, timeout_s: float | None
    ) -> pd.DataFrame:
        self._ensure_open()
        first = first_keyword(sql)
        if first not in _READ_STATEMENTS:
            raise StoreError(
                "query() is read-only: it runs one SELECT (WITH, VALUES, TABLE, SHOW, EXPLAIN), "
                f"not {first or 'an empty'} statement; change data through the RunStore "
                "methods (save_run, delete_runs, ...)"
            )
        query, values = numbered_placeholders(sql, params)
        conn = self._new_connection(autocommit=False)
        try:
            cur = psycopg.RawCursor(conn)
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur.execute(f"SET LOCAL statement_timeout = {int((timeout_s or 0) * 1000)}")
            if conn.info.parameter_status("is_superuser") == "on":
                cur.execute("SET LOCAL ROLE pg_read_all_data")

            def work() -> pd.DataFrame:
                cur.execute(query, values, binary=True)
                if cur.description is None:
                    return pd.DataFrame()
                return result_frame(cur.description, cur.fetchall())

            # the server's statement_timeout stops it; the client's limit is the backstop
            backstop = None if timeout_s is None else timeout_s + 2.0
            return run_bounded(work, conn.cancel_safe, backstop, "the query")
        except psycopg.Error as exc:
            raise query_error(self.location, exc, timeout_s) from None
        except QueryTimeout:
            raise
        finally:
            with suppress(Exception):
                conn.rollback()
            conn.close()


def _reopen(target: str, settings: dict[str, Any]) -> PostgresStore:
    # no connection yet: a Dask scheduler unpickles task arguments it never uses
    return PostgresStore(target, **settings, _connect=False)
