"""The team server: Voila plus sign-in, roles, the JSON API and the shared live twin.

``python -m circman_kernel.server.app NOTEBOOK_DIR [Voila options]`` runs
:class:`CircmanVoila`, the dashboards' Voila (:class:`~circman_kernel.server.gallery.
DashboardVoila`, the gallery at ``/``) whose extra options (``--CircmanVoila.auth=True``,
``--CircmanVoila.twin_source=simulated:1``, ...) add:

- sign-in (``auth``): Voila's identity provider and authorizer traits set to
  :mod:`circman_kernel.server.signin`'s, the sign-in page, app pages that hand kernels to
  verified users only, and ``CIRCMAN_AUTH=on`` for every kernel (fail closed);
- the JSON API under ``/api/v1/`` (:mod:`circman_kernel.server.api`), on the same
  identity;
- the shared twin (``twin_source``), run in this process and served by the API; kernels
  get its API address in ``CIRCMAN_TWIN_API``;
- kernels forked from a warm process (``fork_kernels``, on by default;
  :mod:`circman_kernel.server.forks`).

A server without sign-in answers every request as the local user, so it refuses to bind
an address other than loopback (:func:`check_bind`). ``circman dashboard`` builds this
command line (:func:`circman_kernel.server.dashboard.dashboard_command`).

Other server features add their routes through :meth:`CircmanVoila.extra_handlers`.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from jupyter_server.utils import url_path_join
from traitlets import Bool, Float, Unicode

from circman_kernel.apps._identity import AUTH_ENV, IDENTITY_DIR_ENV, TWIN_API_ENV
from circman_kernel.core.errors import CircmanError
from circman_kernel.server.context import ServerContext, check_bind, load_limits
from circman_kernel.server.gallery import DashboardVoila

__all__ = ["CircmanVoila", "main"]

_KERNEL_ID = r"(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)"


def _loopback_of(ip: str) -> str:
    """Return the address kernels on this machine reach the server at."""
    if ip in ("", "0.0.0.0", "*"):
        return "127.0.0.1"
    if ip == "::":
        return "[::1]"
    return f"[{ip}]" if ":" in ip else ip


class CircmanVoila(DashboardVoila):
    """The dashboards' Voila (gallery at ``/``) with sign-in, roles, the API and the twin."""

    auth = Bool(False, help="Require sign-in (users of the run store).").tag(config=True)
    session_hours = Float(8.0, help="Lifetime of a sign-in [h].").tag(config=True)
    secure_cookie = Bool(
        False, help="Mark the session cookie Secure (always behind a TLS proxy)."
    ).tag(config=True)
    fork_kernels = Bool(
        True, help="Fork dashboard kernels from a warm process (off: start each from scratch)."
    ).tag(config=True)
    twin_source = Unicode("", help="Run the shared live twin: csv:PATH or simulated[:SEED].").tag(
        config=True
    )
    twin_rate = Float(0.0, help="Readings per second of the shared twin (0: config).").tag(
        config=True
    )
    twin_persist_s = Float(60.0, help="Period [s] of stored state batches.").tag(config=True)

    circman: ServerContext | None = None

    def extra_handlers(self) -> list[tuple]:
        """Routes this server adds in front of Voila's (the API, sign-in pages)."""
        from circman_kernel.server.api import api_handlers

        routes: list[tuple] = list(api_handlers(self.server_url))
        if self.auth:
            from circman_kernel.server.signin import (
                AssigningVoilaHandler,
                OwnKernelShutdownHandler,
            )

            routes += [
                (
                    url_path_join(self.server_url, r"/voila/render/(.*)"),
                    AssigningVoilaHandler,
                    {
                        "template_paths": self.template_paths,
                        "config": self.config,
                        "voila_configuration": self.voila_configuration,
                    },
                ),
                (
                    url_path_join(self.server_url, r"/voila/api/shutdown/" + _KERNEL_ID),
                    OwnKernelShutdownHandler,
                ),
            ]
        return routes

    def init_settings(self) -> dict[str, Any]:
        if self.auth:
            from circman_kernel.server.signin import CircmanAuthorizer, CircmanIdentityProvider

            self.identity_provider_class = CircmanIdentityProvider
            self.authorizer_class = CircmanAuthorizer
        settings = super().init_settings()
        settings["circman"] = self.circman
        settings["circman_kernels"] = getattr(self, "_kernels", None)
        settings["circman_secure_cookie"] = bool(self.secure_cookie)
        return settings

    def init_handlers(self) -> list:
        # tornado takes the first matching route: ours come before the gallery's and Voila's
        return self.extra_handlers() + super().init_handlers()

    def _context(self) -> ServerContext:
        from circman_kernel.server.auth import Authenticator, SigningSecret, SignInLimiter

        limits = load_limits()
        auth = None
        if self.auth:
            from circman_kernel.store.run_store import RunStore

            auth = Authenticator(
                RunStore(None),
                SigningSecret(),
                session_s=self.session_hours * 3600.0,
                user_cache_s=limits.user_cache_s,
                limiter=SignInLimiter(limits.sign_in_failures, limits.sign_in_window_s),
            )
        twin = None
        if self.twin_source:
            from circman_kernel.server.twin_service import TwinService
            from circman_kernel.store.run_store import RunStore

            twin = TwinService(
                self.twin_source,
                store=RunStore(None),
                rate_hz=self.twin_rate or None,
                persist_every_s=self.twin_persist_s,
            )
        return ServerContext(auth=auth, twin=twin, limits=limits)

    def start(self) -> None:
        try:
            check_bind(self.ip, self.auth)
            self.circman = self._context()
        except CircmanError as exc:
            self.log.critical("circman: %s", exc)
            self.exit(2)
        if self.auth:
            from circman_kernel.server.signin import KernelIdentities

            self._kernels = KernelIdentities()
            os.environ[AUTH_ENV] = "on"
            os.environ[IDENTITY_DIR_ENV] = str(self._kernels.directory)
        else:
            os.environ.pop(AUTH_ENV, None)
        if self.circman.twin is not None:
            api = url_path_join(self.server_url or self.base_url, "api/v1")
            os.environ[TWIN_API_ENV] = f"http://{_loopback_of(self.ip)}:{self.port}{api}"
            self.circman.twin.start()
        if self.fork_kernels:
            from circman_kernel.server.forks import ForkServer

            self._forks = ForkServer()
        super().start()

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            if self.circman is not None:
                self.circman.close()
            kernels = getattr(self, "_kernels", None)
            if kernels is not None:
                kernels.close()
            forks = getattr(self, "_forks", None)
            if forks is not None:
                forks.close()


def main(argv: list[str] | None = None) -> None:
    """Run the team server (``python -m circman_kernel.server.app``)."""
    CircmanVoila.launch_instance(argv)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
