"""The dashboards' kernel manager: culling that spares the pools, a kernel limit, refills.

Voila wraps the class named by ``VoilaConfiguration.multi_kernel_manager_class`` in its
pool manager (``VoilaKernelManager`` subclasses it), so this class sees both the kernels
of pages and the preheated ones the pools start.
"""

from __future__ import annotations

import time
from typing import Any

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.web import HTTPError
from traitlets import Integer

__all__ = ["KernelLimitReached", "PoolAwareKernelManager"]

# What Voila puts into a pool kernel's environment (a page's kernel gets "False").
_PREHEAT_ENV = "VOILA_PREHEAT"


class KernelLimitReached(HTTPError):
    """Every kernel the server may run is in use (HTTP 503: the page retries by itself).

    The ``circman`` template's ``503.html`` shows "busy, retrying" and reloads the page;
    raise ``--max-kernels`` (memory permitting) if it is seen often.
    """

    def __init__(self, running: int, limit: int) -> None:
        super().__init__(
            503,
            f"all {limit} dashboard kernels are in use ({running} running); retrying. "
            "Raise --max-kernels if the server has memory to spare.",
            reason="Busy",
        )
        self.running = running
        self.limit = limit


class PoolAwareKernelManager(AsyncMappingKernelManager):
    """Kernel manager for the dashboards.

    * Culling: Voila's pool keeps kernels nobody is connected to yet; the stock culler
      treats them as abandoned. It also culls a kernel just taken from the pool (idle
      since it was preheated, no connection yet) before the viewer's page connects, and
      that page then fails. So a kernel is spared while it waits in the pool, and after
      leaving it until it has been seen connected or ``cull_idle_timeout`` [s] has passed
      since it left. Kernels of closed pages are culled as usual.
    * ``max_kernels``: at most this many kernels (pools included) run at once; a page
      asking for one more gets :class:`KernelLimitReached` (the "busy, retrying" page),
      a pool refill at the limit fails and is retried when a kernel is shut down.
    """

    max_kernels = Integer(
        0, config=True, help="Most kernels running at once, pools included (0 = no limit)."
    )

    def _state(self) -> dict[str, Any]:
        # per-instance bookkeeping, created on first use (traitlets owns __init__)
        return self.__dict__.setdefault(
            "_circman_state",
            {"connected": set(), "released": {}, "starting": 0, "stopping": False},
        )

    def _pooled_kernel_ids(self) -> set[str]:
        ids: set[str] = set()
        for pool in getattr(self, "_pools", {}).values():
            for task in pool:
                if task.done() and not task.cancelled() and task.exception() is None:
                    kid = task.result().get("kernel_id")
                    if kid:
                        ids.add(kid)
        return ids

    def _spare(self, kernel_id: str) -> bool:
        state = self._state()
        if kernel_id in self._pooled_kernel_ids():
            return True
        if self._kernel_connections.get(kernel_id, 0) > 0:
            state["connected"].add(kernel_id)
            return False
        if kernel_id in state["connected"]:
            return False
        released = state["released"].setdefault(kernel_id, time.monotonic())
        return time.monotonic() - released < self.cull_idle_timeout

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        if self._spare(kernel_id):
            return
        await super().cull_kernel_if_idle(kernel_id)

    def running_kernels(self) -> int:
        """Return the kernels running or starting now."""
        return len(self.list_kernel_ids()) + self._state()["starting"]

    async def start_kernel(self, **kwargs: Any) -> str:
        state = self._state()
        limit = int(self.max_kernels)
        running = self.running_kernels()
        if limit > 0 and running >= limit:
            pool = (kwargs.get("env") or {}).get(_PREHEAT_ENV) == "True"
            self.log.warning(
                "kernel limit %d reached (%d running): %s",
                limit,
                running,
                "pool refill postponed" if pool else "page told to retry",
            )
            raise KernelLimitReached(running, limit)
        state["starting"] += 1  # counted before the first await: no race past the limit
        try:
            return await super().start_kernel(**kwargs)
        finally:
            state["starting"] -= 1

    async def shutdown_kernel(self, kernel_id: str, *args: Any, **kwargs: Any) -> None:
        state = self._state()
        state["connected"].discard(kernel_id)
        state["released"].pop(kernel_id, None)
        await super().shutdown_kernel(kernel_id, *args, **kwargs)
        self.refill_pools()

    async def shutdown_all(self, *args: Any, **kwargs: Any) -> None:
        self._state()["stopping"] = True  # no refills while the server stops
        await super().shutdown_all(*args, **kwargs)

    def refill_pools(self) -> None:
        """Drop pool entries whose start failed (kernel limit) and top the pools up."""
        pools = getattr(self, "_pools", None)
        fill = getattr(self, "fill_if_needed", None)
        if not pools or fill is None or self._state()["stopping"]:
            return
        for name, pool in list(pools.items()):
            failed = [t for t in pool if t.done() and (t.cancelled() or t.exception())]
            for task in failed:
                pool.remove(task)
            fill(delay=None, notebook_name=name)
