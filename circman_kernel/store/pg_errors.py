"""psycopg errors as :class:`StoreError` messages that say what to fix, passwords hidden.

Connection failures say which of "cannot reach the server at host:port", "wrong
password", "no such database" or "no such user" happened; a failed write leads with its
root cause (a full disk, a lock wait past the limit, a duplicate id, a lost connection).
Every text passes through :meth:`Location.scrub`.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import errors as pge

from circman_kernel.core.errors import StoreError
from circman_kernel.store.sandbox import QueryTimeout
from circman_kernel.store.urls import Location

__all__ = ["connect_error", "query_error", "write_error"]

_UNREACHABLE = (
    "connection refused",
    "no such file or directory",
    "could not translate host name",
    "network is unreachable",
    "no route to host",
    "timeout expired",
    "server closed the connection unexpectedly",
    "connection timed out",
)


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[0] if lines else ""


def _reason(text: str) -> str:
    # libpq: 'connection to server at "h" (1.2.3.4), port 5 failed: Connection refused'
    line = _first_line(text)
    return line.rsplit("failed:", 1)[-1].strip() if "failed:" in line else line


def connect_error(loc: Location, exc: psycopg.Error) -> StoreError:
    """The :class:`StoreError` for a failed connection to ``loc``."""
    text = loc.scrub(str(exc))
    low = text.lower()
    where = f"the PostgreSQL server at {loc.server}"
    db = re.search(r'database "([^"]*)" does not exist', text)
    role = re.search(r'role "([^"]*)" does not exist', text)
    if "password authentication failed" in low:
        user = re.search(r'for user "([^"]*)"', text)
        name = user.group(1) if user else loc.user
        return StoreError(
            f"wrong password for user {name!r} on {where} ({loc.display}); check the password "
            "in the URL, $PGPASSWORD or ~/.pgpass"
        )
    if "no password supplied" in low:
        return StoreError(
            f"{where} wants a password for user {loc.user or '(default)'!r} and none was given; "
            "put it in the URL, $PGPASSWORD or ~/.pgpass"
        )
    if db:
        return StoreError(
            f"database {db.group(1)!r} does not exist on {where}; create it (createdb "
            f"{db.group(1)}) or fix the database name in {loc.display}"
        )
    if role:
        return StoreError(f"user {role.group(1)!r} does not exist on {where} ({loc.display})")
    if "timeout expired" in low:
        return StoreError(
            f"cannot reach {where}: no answer within the connect timeout "
            f"({loc.display}); check the host, the port and that the server runs"
        )
    if any(word in low for word in _UNREACHABLE):
        return StoreError(
            f"cannot reach {where}: {_reason(text)} ({loc.display}); check the host, the port "
            "and that the server runs"
        )
    return StoreError(f"cannot connect to {where} ({loc.display}): {_first_line(text)}")


def write_error(loc: Location, exc: psycopg.Error, doing: str) -> StoreError:
    """The :class:`StoreError` for a failed transaction, root cause first."""
    text = loc.scrub(_first_line(str(exc)))
    where = f"the PostgreSQL server at {loc.server}"
    if isinstance(exc, pge.DiskFull) or "no space left" in text.lower():
        return StoreError(
            f"disk full on {where} while writing to {loc.display} ({text}); nothing was "
            "stored: free disk space on the server and save again"
        )
    if isinstance(exc, pge.LockNotAvailable):
        return StoreError(
            f"{loc.display}: waited longer than lock_timeout_s for another client's lock "
            f"({text}); nothing was stored: raise lock_timeout_s or look for a hung client"
        )
    if isinstance(exc, pge.UniqueViolation):
        detail = loc.scrub(_first_line(getattr(exc.diag, "message_detail", "") or ""))
        return StoreError(f"{loc.display}: {doing}: {detail or text}")
    if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
        return StoreError(
            f"lost the connection to {where} ({text}); nothing was stored by the "
            "interrupted call: check the server and try again"
        )
    return StoreError(f"{loc.display}: {doing}: {text}")


def query_error(loc: Location, exc: psycopg.Error, timeout_s: float | None) -> StoreError:
    """The :class:`StoreError` for a failed user query."""
    text = loc.scrub(_first_line(str(exc)))
    if isinstance(exc, pge.QueryCanceled) and "statement timeout" in text and timeout_s:
        return QueryTimeout(
            f"the query ran longer than its time limit of {timeout_s:g} s and was cancelled; "
            "narrow the query (WHERE, LIMIT) or raise the limit (timeout_s=, "
            "circman runs sql --timeout)"
        )
    if isinstance(exc, pge.QueryCanceled):
        return StoreError(f"the query was cancelled: {text}")
    if isinstance(exc, pge.ReadOnlySqlTransaction):
        return StoreError(
            f"query() is read-only: {text}; change data through the RunStore methods "
            "(save_run, delete_runs, ...)"
        )
    if isinstance(exc, pge.InsufficientPrivilege):
        return StoreError(
            f"query failed: {text} (store queries see the store's tables only: no server "
            "files, programs or other roles)"
        )
    if "cannot insert multiple commands" in text:
        return StoreError(
            "query() runs exactly one statement, got several; send them one call at a time"
        )
    if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
        return connect_error(loc, exc)
    return StoreError(f"query failed: {text}")
