"""The JSON API without Voila: ``circman twin serve`` (the shared twin as a service).

The same handlers, identity and limits as the dashboard server's ``/api/v1/``, on a
tornado server of their own, for a twin that runs on a machine near the line while the
dashboards run elsewhere (or not at all). SIGTERM and SIGINT stop it cleanly: the last
states and pending events are stored first.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import tornado.web

from circman_kernel.server.api import api_handlers
from circman_kernel.server.context import ServerContext, check_bind

__all__ = ["api_application", "serve"]

log = logging.getLogger("circman.server")


def api_application(ctx: ServerContext, base_url: str = "/") -> tornado.web.Application:
    """Return a tornado application serving the API of ``ctx`` under ``base_url``."""
    return tornado.web.Application(api_handlers(base_url), circman=ctx, base_url=base_url)


def serve(ctx: ServerContext, host: str, port: int, *, ready: Any = None) -> None:
    """Serve the API of ``ctx`` on ``host:port`` until SIGTERM or SIGINT, then close ``ctx``.

    ``ready`` (optional) is called once the socket listens.
    """
    check_bind(host, ctx.auth is not None)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        server = api_application(ctx).listen(port, host, xheaders=False)
        if ctx.twin is not None:
            ctx.twin.start()
        log.info("circman API on http://%s:%d/api/v1/", host, port)
        if ready is not None:
            ready()
        await stop.wait()
        server.stop()

    try:
        asyncio.run(main())
    finally:
        ctx.close()
