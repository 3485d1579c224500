"""Running one user query with a time limit that Ctrl-C, SIGTERM and the clock can all stop.

Both backends run :meth:`RunStore.query` through :func:`run_bounded`: the statement
executes in a helper thread while the calling thread waits in short, signal-friendly
slices; a time limit, ``KeyboardInterrupt`` or any exception raised by a signal handler
in the caller (the CLI turns SIGTERM into one) cancels the statement through the
backend's own cancel call (``duckdb`` ``interrupt()``, libpq cancel) and waits for it to
stop. :func:`numbered_placeholders` rewrites the portable ``?`` / ``$name`` placeholders
into PostgreSQL's ``$1, $2, ...`` without touching string literals, quoted names,
dollar-quoted bodies or comments.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from circman_kernel.core.errors import ParameterError, StoreError

T = TypeVar("T")

__all__ = ["QueryTimeout", "check_timeout", "first_keyword", "numbered_placeholders", "run_bounded"]

#: the longest a cancelled statement may take to stop before the caller gives up on it [s]
_STOP_GRACE_S = 10.0
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


class QueryTimeout(StoreError, TimeoutError):
    """A store query ran past its time limit and was cancelled."""


def check_timeout(timeout_s: Any) -> float | None:
    """Return ``timeout_s`` as a float [s] (``None`` or 0: no limit); raise if invalid."""
    if timeout_s is None:
        return None
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float):
        raise ParameterError(
            f"timeout_s must be a number of seconds, got {timeout_s!r}",
            name="timeout_s",
            value=timeout_s,
        )
    if not timeout_s >= 0 or timeout_s == float("inf"):
        raise ParameterError(
            f"timeout_s must be >= 0 and finite [s] (0: no limit), got {timeout_s!r}",
            name="timeout_s",
            value=timeout_s,
        )
    return float(timeout_s) or None


def run_bounded(
    work: Callable[[], T], cancel: Callable[[], None], timeout_s: float | None, what: str
) -> T:
    """Return ``work()`` run in a helper thread, cancelled after ``timeout_s`` seconds.

    Raises
    ------
    QueryTimeout
        ``work`` was still running at the time limit (it has been cancelled).
    KeyboardInterrupt, BaseException
        Whatever interrupted the waiting thread (Ctrl-C, a signal handler's exception),
        after the statement was cancelled.
    """
    done = threading.Event()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, name="circman-query", daemon=True)
    timed_out = False
    try:
        thread.start()  # inside the try: a Ctrl-C that lands here still cancels the statement
        remaining = timeout_s
        while not done.wait(0.05 if remaining is None else min(0.05, max(remaining, 0.0))):
            if remaining is not None:
                remaining -= 0.05
                if remaining <= 0:
                    timed_out = True
                    _stop(cancel, done)
                    break
    except BaseException:
        _stop(cancel, done)
        raise
    if timed_out:
        raise QueryTimeout(
            f"{what} ran longer than its time limit of {timeout_s:g} s and was cancelled; "
            "narrow the query (WHERE, LIMIT) or raise the limit (timeout_s=, "
            "circman runs sql --timeout)"
        )
    if "error" in box:
        raise box["error"]
    return box["value"]


def _stop(cancel: Callable[[], None], done: threading.Event) -> None:
    """Cancel the statement until it stops (at most :data:`_STOP_GRACE_S`).

    A cancel that arrives before the statement has begun is lost (DuckDB clears its
    interrupt flag when a query starts; PostgreSQL cancels only what is running), so it is
    sent again, at growing intervals, until the helper thread is done. A cancel call that
    fails is raised only if the statement did not stop.
    """
    deadline = time.monotonic() + _STOP_GRACE_S
    pause, error = 0.02, None
    while not done.is_set():
        try:
            cancel()
        except Exception as exc:
            error = error or exc
        left = deadline - time.monotonic()
        if left <= 0 or done.wait(min(pause, left)):
            break
        pause = min(2 * pause, 1.0)
    if error is not None and not done.is_set():
        raise error


def numbered_placeholders(
    sql: str, params: Sequence[Any] | Mapping[str, Any] | None
) -> tuple[str, list[Any]]:
    """Return ``sql`` with ``?`` (or ``$name`` for a mapping) as ``$1, $2, ...`` and the values.

    Placeholders inside '...' / E'...' literals, "quoted" names, $tag$...$tag$ bodies and
    comments are left alone. A ``$n`` already numbered stays as it is.

    Raises
    ------
    ParameterError
        The number of ``?`` does not match ``params``, or a ``$name`` is not in the mapping.
    """
    named = isinstance(params, Mapping)
    values: list[Any] = []
    index: dict[str, int] = {}
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "'" or (c in "eE" and sql[i + 1 : i + 2] == "'"):
            j = _skip_literal(sql, i + (c != "'"), backslash=c != "'")
            out.append(sql[i:j])
            i = j
        elif c == '"':
            j = sql.find('"', i + 1)
            while j != -1 and sql[j + 1 : j + 2] == '"':
                j = sql.find('"', j + 2)
            j = n if j == -1 else j + 1
            out.append(sql[i:j])
            i = j
        elif c == "-" and sql[i + 1 : i + 2] == "-":
            j = sql.find("\n", i)
            j = n if j == -1 else j
            out.append(sql[i:j])
            i = j
        elif c == "/" and sql[i + 1 : i + 2] == "*":
            j = _skip_block_comment(sql, i)
            out.append(sql[i:j])
            i = j
        elif c == "$":
            tag = _DOLLAR_TAG.match(sql, i)
            ident = _IDENT.match(sql, i + 1)
            if tag and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
                end = sql.find(tag.group(0), tag.end())
                j = n if end == -1 else end + len(tag.group(0))
                out.append(sql[i:j])
                i = j
            elif named and ident:
                name = ident.group(0)
                if name not in params:
                    raise ParameterError(
                        f"query uses ${name} but params has no {name!r}", name="params"
                    )
                if name not in index:
                    values.append(params[name])
                    index[name] = len(values)
                out.append(f"${index[name]}")
                i = ident.end()
            else:
                out.append(c)
                i += 1
        elif c == "?" and not named:
            values.append(None)
            out.append(f"${len(values)}")
            i += 1
        else:
            out.append(c)
            i += 1
    if not named:
        given = list(params or [])
        if values and len(given) != len(values):
            raise ParameterError(
                f"query has {len(values)} ? placeholders but {len(given)} params were given",
                name="params",
            )
        values = given
    return "".join(out), values


def first_keyword(sql: str) -> str:
    """The first word of ``sql`` after comments, blanks and opening parentheses, upper case."""
    i, n = 0, len(sql)
    while i < n:
        if sql[i].isspace() or sql[i] == "(":
            i += 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j == -1 else j + 1
        elif sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
        else:
            break
    word = re.match(r"[A-Za-z_]+", sql[i:])
    return word.group(0).upper() if word else sql[i : i + 1]


def _skip_literal(sql: str, i: int, *, backslash: bool) -> int:
    j = i + 1
    while j < len(sql):
        if backslash and sql[j] == "\\":
            j += 2
            continue
        if sql[j] == "'":
            if sql[j + 1 : j + 2] == "'":
                j += 2
                continue
            return j + 1
        j += 1
    return len(sql)


def _skip_block_comment(sql: str, i: int) -> int:
    depth, j = 0, i
    while j < len(sql):
        if sql.startswith("/*", j):
            depth += 1
            j += 2
        elif sql.startswith("*/", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        else:
            j += 1
    return len(sql)
