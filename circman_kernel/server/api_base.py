"""The JSON API's plumbing: who is asking, what they may do, and errors as JSON.

Every endpoint is a method of an :class:`ApiHandler` wrapped by :func:`endpoint`, which
turns the package's typed errors into ``{"error": ..., "field": ...}`` with the matching
status: 401 (no or bad proof of identity), 403 (role too low), 404, 413 (body over the
limit), 422 (a bad value, naming the field) and 429 (too many failed sign-ins).

Identity comes from the ``Authorization: Bearer`` token or the session cookie, verified
by the server (:class:`~circman_kernel.server.auth.Authenticator`) on every request; a
request made with the cookie that changes something must also come from this server's
own pages (its ``Origin`` matches the host), since a cookie is sent by the browser
whoever asks. Store and simulation work runs on the context's worker threads, never on
the event loop.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import urlparse

import tornado.web

from circman_kernel.core.errors import CircmanError, ParameterError, PermissionDeniedError
from circman_kernel.core.roles import refusal
from circman_kernel.server.auth import AuthenticationError, Identity, TooManyAttempts
from circman_kernel.server.context import LOCAL_IDENTITY, ServerContext

__all__ = ["COOKIE", "ApiError", "ApiHandler", "endpoint", "to_json"]

log = logging.getLogger("circman.server.api")

COOKIE = "circman_session"


class ApiError(Exception):
    """An API answer other than success: HTTP ``status``, a sentence and the bad field."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def to_json(data: Any) -> str:
    """Return ``data`` as strict JSON (NaN and infinities as ``null``, times as ISO 8601)."""
    return json.dumps(_finite(data), default=_default, allow_nan=False)


def endpoint(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Wrap a handler method: typed errors become JSON answers with their status."""

    @functools.wraps(fn)
    async def wrapper(self: ApiHandler, *args: Any, **kwargs: Any) -> None:
        try:
            await fn(self, *args, **kwargs)
        except ApiError as exc:
            self.reply_error(exc.status, exc.message, exc.field)
        except TooManyAttempts as exc:
            self.set_header("Retry-After", str(math.ceil(exc.retry_after_s)))
            self.reply_error(429, str(exc))
        except AuthenticationError as exc:
            self.set_header("WWW-Authenticate", 'Bearer realm="circman"')
            self.reply_error(401, str(exc))
        except PermissionDeniedError as exc:
            self.reply_error(403, str(exc))
        except ParameterError as exc:
            self.reply_error(422, str(exc), exc.name)
        except CircmanError as exc:
            log.warning("API %s %s failed: %s", self.request.method, self.request.path, exc)
            self.reply_error(500, f"{type(exc).__name__}: {exc}")

    return wrapper


class ApiHandler(tornado.web.RequestHandler):
    """Base of every ``/api/v1/`` handler (JSON in, JSON out)."""

    @property
    def ctx(self) -> ServerContext:
        return self.settings["circman"]

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    def check_xsrf_cookie(self) -> None:
        """Cookie-authenticated changes are checked by origin instead (:meth:`identity`)."""

    def prepare(self) -> None:
        limit = self.ctx.limits.max_body_bytes
        length = self.request.headers.get("Content-Length")
        size = len(self.request.body or b"")
        if size > limit or (length and length.isdigit() and int(length) > limit):
            raise tornado.web.Finish(self._error_body(413, f"request body over {limit} bytes"))

    def _error_body(self, status: int, message: str, field: str | None = None) -> str:
        self.set_status(status)
        return to_json({"error": message, "field": field})

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(to_json(data))

    def reply_error(self, status: int, message: str, field: str | None = None) -> None:
        if self._finished:
            return
        self.finish(self._error_body(status, message, field))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason if status_code != 500 else "internal error (see the server log)"
        self.finish(to_json({"error": reason, "field": None}))

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on a worker thread and return its result."""
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(self.ctx.executor, fn, *args)

    # -- identity -------------------------------------------------------------------------

    def _token(self) -> tuple[str, bool]:
        header = self.request.headers.get("Authorization", "")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
            return value.strip(), False
        return self.get_cookie(COOKIE, "") or "", True

    async def identity(self) -> Identity:
        """Return who is asking (the local user when the server has no sign-in)."""
        auth = self.ctx.auth
        if auth is None:
            return LOCAL_IDENTITY
        token, by_cookie = self._token()
        if by_cookie and token and self.request.method not in ("GET", "HEAD", "OPTIONS"):
            self._check_origin()
        return await self.run(auth.verify, token)

    def _check_origin(self) -> None:
        origin = self.request.headers.get("Origin") or self.request.headers.get("Referer")
        host = self.request.headers.get("Host", "")
        if not origin or urlparse(origin).netloc != host:
            raise ApiError(403, "a change made with the session cookie must come from this site")

    async def allowed(self, action: str) -> Identity:
        """Return the caller if their role allows ``action``; 401 or 403 otherwise."""
        who = await self.identity()
        reason = refusal(who.role, action)
        if reason is not None:
            raise ApiError(403, reason)
        return who

    # -- arguments ------------------------------------------------------------------------

    def int_arg(self, name: str, default: int, lo: int, hi: int) -> int:
        """Return query argument ``name`` as an int in ``[lo, hi]`` (422 naming it if not)."""
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(422, f"{name} must be a whole number, got {raw!r}", name) from None
        if not lo <= value <= hi:
            raise ApiError(422, f"{name} must be between {lo} and {hi}, got {value}", name)
        return value

    def str_arg(self, name: str, choices: tuple[str, ...] | None = None) -> str | None:
        """Return query argument ``name`` (``None`` if absent); 422 if not one of ``choices``."""
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return None
        if choices is not None and raw not in choices:
            raise ApiError(422, f"{name} must be one of {', '.join(choices)}, got {raw!r}", name)
        return raw

    def body(self) -> dict[str, Any]:
        """Return the request body as a JSON object (422 naming ``body`` if it is not one)."""
        try:
            data = json.loads(self.request.body or b"")
        except (ValueError, UnicodeDecodeError):
            raise ApiError(422, "the request body must be a JSON object", "body") from None
        if not isinstance(data, dict):
            raise ApiError(422, "the request body must be a JSON object", "body")
        return data


class NotFoundHandler(ApiHandler):
    """Any other path under ``/api/v1/``: a JSON 404."""

    async def _missing(self, *_: Any) -> None:
        self.reply_error(404, f"no API endpoint {self.request.method} {self.request.path}")

    get = post = put = delete = patch = _missing
