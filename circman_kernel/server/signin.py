"""Sign-in on the Voila server: identity provider, authorizer, sign-in page, kernel records.

As JupyterHub's single-user server does, identity is checked by the server on every
request and nothing the browser says is trusted:

- :class:`CircmanIdentityProvider` (Voila's ``identity_provider_class``) verifies the
  session cookie or bearer token (:class:`~circman_kernel.server.auth.Authenticator`).
  Voila's page handlers are ``@tornado.web.authenticated``: without a valid session they
  redirect to the sign-in page.
- :class:`CircmanAuthorizer` (``authorizer_class``) lets a user reach only the kernels
  handed to that user's pages: the kernel websocket and the kernels API check it.
- :class:`AssigningVoilaHandler` renders an app and, when it takes a kernel (preheated or
  fresh), writes that kernel's identity record (:mod:`circman_kernel.apps._identity`) from
  the verified user before any of the page is sent. The kernel reads its role only from
  there. Voila's ``/voila/query`` channel (unauthenticated) is never used for identity.
"""

from __future__ import annotations

import html
import os
import shutil
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import tornado.web
from jupyter_core.utils import ensure_async
from jupyter_server.auth import Authorizer, IdentityProvider, User
from voila.tornado.handler import TornadoVoilaHandler

from circman_kernel.apps._identity import Viewer, write_record
from circman_kernel.server.api_base import COOKIE
from circman_kernel.server.auth import AuthenticationError, TooManyAttempts

__all__ = [
    "AssigningVoilaHandler",
    "CircmanAuthorizer",
    "CircmanIdentityProvider",
    "CircmanUser",
    "KernelIdentities",
    "OwnKernelShutdownHandler",
]


@dataclass
class CircmanUser(User):
    """A signed-in user as jupyter_server sees it, with the role and the proof used."""

    role: str = ""
    token: str = field(default="", repr=False)


class KernelIdentities:
    """Which user each kernel serves: an owner-only folder of records plus a lookup table."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="circman-identity-"))
        os.chmod(self.directory, 0o700)
        self._owners: dict[str, str] = {}
        self._lock = threading.Lock()

    def assign(self, kernel_id: str, user: CircmanUser) -> None:
        """Record that ``kernel_id`` serves ``user`` (first assignment wins)."""
        with self._lock:
            if self._owners.get(kernel_id, user.username) != user.username:
                raise tornado.web.HTTPError(403, "kernel belongs to another page")
            write_record(self.directory, kernel_id, Viewer(user.username, user.role, True,
                                                           user.token))  # fmt: skip
            self._owners[kernel_id] = user.username

    def owner(self, kernel_id: str | None) -> str | None:
        with self._lock:
            return self._owners.get(kernel_id) if kernel_id else None

    def prune(self, live: set[str]) -> None:
        """Forget kernels that no longer run (their records go too)."""
        with self._lock:
            for kid in [k for k in self._owners if k not in live]:
                del self._owners[kid]
                (self.directory / f"{kid}.json").unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _token_of(handler: tornado.web.RequestHandler) -> str:
    header = handler.request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return handler.get_cookie(COOKIE, "") or ""


class CircmanIdentityProvider(IdentityProvider):
    """Users are whoever a valid circman session cookie or bearer token says they are."""

    need_token = False

    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return True

    async def get_user(self, handler: tornado.web.RequestHandler) -> CircmanUser | None:
        ctx = handler.settings["circman"]
        token = _token_of(handler)
        if not token:
            return None
        import asyncio

        loop = asyncio.get_running_loop()
        try:
            who = await loop.run_in_executor(ctx.executor, ctx.auth.verify, token)
        except AuthenticationError:
            return None
        return CircmanUser(who.name, who.name, f"{who.name} ({who.role})", role=who.role,
                           token=token)  # fmt: skip

    def identity_model(self, user: User) -> dict[str, Any]:
        model = asdict(user)
        model.pop("token", None)
        return model

    def get_handlers(self) -> list[tuple[str, object]]:
        return [(r"/login", SignInHandler), (r"/logout", SignOutHandler)]

    def validate_security(self, app: Any, ssl_options: Any = None) -> None:
        """Sign-in is always on with this provider; nothing to warn about."""


class CircmanAuthorizer(Authorizer):
    """Signed-in users may view the dashboards; a kernel only by the user it serves."""

    def is_authorized(self, handler: Any, user: User | None, action: str, resource: str) -> bool:
        if user is None:
            return False
        if resource == "kernels":
            kernel_id = getattr(handler, "kernel_id", None) or handler.path_kwargs.get("kernel_id")
            return handler.settings["circman_kernels"].owner(kernel_id) == user.username
        return True


class _AssigningKernels:
    """The kernel manager as a page handler sees it: each kernel it hands out is recorded."""

    def __init__(self, manager: Any, assign: Any) -> None:
        self._manager = manager
        self._assign = assign

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)

    async def get_rendered_notebook(self, *args: Any, **kwargs: Any) -> Any:
        task, cache, kernel_id = await self._manager.get_rendered_notebook(*args, **kwargs)
        self._assign(kernel_id)
        return task, cache, kernel_id

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:
        kernel_id = await ensure_async(self._manager.start_kernel(*args, **kwargs))
        self._assign(kernel_id)
        return kernel_id


class AssigningVoilaHandler(TornadoVoilaHandler):
    """Voila's app page; the kernel it takes gets the verified user's identity record."""

    @property
    def kernel_manager(self) -> Any:
        manager = self.settings["kernel_manager"]
        registry: KernelIdentities = self.settings["circman_kernels"]
        user = self.current_user

        def assign(kernel_id: str) -> None:
            registry.prune(set(manager.list_kernel_ids()) | {kernel_id})
            registry.assign(kernel_id, user)

        return _AssigningKernels(manager, assign)


class OwnKernelShutdownHandler(tornado.web.RequestHandler):
    """Voila's shut-down-on-unload endpoint, for the kernel's own user only."""

    def check_xsrf_cookie(self) -> None:
        """The page posts without an XSRF token; the owner check below stands instead."""

    async def post(self, kernel_id: str) -> None:
        ctx = self.settings["circman"]
        import asyncio

        token = _token_of(self)
        try:
            who = await asyncio.get_running_loop().run_in_executor(
                ctx.executor, ctx.auth.verify, token
            )
        except AuthenticationError:
            raise tornado.web.HTTPError(403) from None
        if self.settings["circman_kernels"].owner(kernel_id) != who.name:
            raise tornado.web.HTTPError(403)
        await ensure_async(self.settings["kernel_manager"].shutdown_kernel(kernel_id))
        self.set_status(204)
        self.finish()


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign in · circman</title><style>
body{{font-family:sans-serif;background:#f4f6f9;margin:0}}
main{{max-width:340px;margin:12vh auto;background:#fff;border:1px solid #d0d7de;
border-radius:8px;padding:24px}} h1{{font-size:20px;color:#12355b;margin:0 0 16px}}
label{{display:block;font-size:13px;margin:10px 0 4px}} input{{width:100%;padding:6px;
box-sizing:border-box}} button{{margin-top:16px;padding:8px 16px;background:#12355b;
color:#fff;border:0;border-radius:4px}} .error{{color:#8a1c10;background:#fdecea;
padding:6px 10px;border-radius:4px;font-size:13px}}</style></head><body><main>
<h1>circman dashboards</h1>{message}
<form method="post" action="{action}"><input type="hidden" name="next" value="{next}">
<label for="username">User name</label><input id="username" name="username"
autocomplete="username" value="{username}" required>
<label for="password">Password</label><input id="password" name="password"
type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></main></body></html>"""


def _safe_next(value: str, base: str) -> str:
    """Return a path on this server to go to after sign-in (never another site)."""
    url = urlparse(value or "")
    if url.scheme or url.netloc or not url.path.startswith("/") or value.startswith("//"):
        return base
    return value


class SignInHandler(tornado.web.RequestHandler):
    """``/login``: the sign-in form; a correct password sets the session cookie."""

    def check_xsrf_cookie(self) -> None:
        """A sign-in form needs no session to protect; the origin is checked instead."""

    def _page(self, status: int, message: str = "", username: str = "") -> None:
        base = self.settings.get("base_url", "/")
        nxt = _safe_next(self.get_argument("next", base), base)
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
        self.finish(_PAGE.format(message=note, action=html.escape(self.request.path),
                                 next=html.escape(nxt), username=html.escape(username)))  # fmt: skip

    def get(self) -> None:
        self._page(200)

    async def post(self) -> None:
        ctx = self.settings["circman"]
        origin = self.request.headers.get("Origin")
        if origin and urlparse(origin).netloc != self.request.headers.get("Host", ""):
            self._page(403, "Sign in from this server's own page.")
            return
        name = self.get_body_argument("username", "")
        password = self.get_body_argument("password", "")
        import asyncio

        try:
            _, token, expires = await asyncio.get_running_loop().run_in_executor(
                ctx.executor, ctx.auth.sign_in, name, password
            )
        except TooManyAttempts as exc:
            self.set_header("Retry-After", str(int(exc.retry_after_s) + 1))
            self._page(429, str(exc), name)
            return
        except AuthenticationError as exc:
            self._page(401, f"Not signed in: {exc}.", name)
            return
        base = self.settings.get("base_url", "/")
        self.set_cookie(COOKIE, token, path=base, expires=expires, httponly=True,
                        samesite="Lax", secure=bool(self.settings.get("circman_secure_cookie")
                                                    or self.request.protocol == "https"))  # fmt: skip
        self.redirect(_safe_next(self.get_body_argument("next", base), base))


class SignOutHandler(tornado.web.RequestHandler):
    """``/logout``: clears the session cookie and shows the sign-in page."""

    def check_xsrf_cookie(self) -> None:
        """Signing out changes nothing another site could want to force."""

    def get(self) -> None:
        base = self.settings.get("base_url", "/")
        self.clear_cookie(COOKIE, path=base)
        self.redirect(base.rstrip("/") + "/login")

    post = get
