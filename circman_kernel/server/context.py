"""What the team server's handlers share: the limits, the store, sign-in and the shared twin.

:class:`ServerLimits` bounds what one request may ask for (body size, simulation size,
page size, ...); the values come from ``server.json`` in the configuration folder when
it exists (every key optional, an unknown key is an error naming it). A
:class:`ServerContext` lives in the tornado application's settings (``"circman"``); it is
built once per server, never a module-level object.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from circman_kernel.core.errors import ConfigError
from circman_kernel.core.paths import default_config_dir
from circman_kernel.server.auth import Authenticator, Identity

__all__ = [
    "LOCAL_IDENTITY",
    "ServerContext",
    "ServerLimits",
    "check_bind",
    "is_loopback",
    "load_limits",
]

LIMITS_FILE = "server.json"
#: who a request is on a server without sign-in (loopback only): the local user
LOCAL_IDENTITY = Identity("local", "manager")


@dataclass(frozen=True)
class ServerLimits:
    """Bounds on what one API request may ask for.

    Attributes
    ----------
    max_body_bytes : int
        Largest request body [bytes]; larger ones get 413.
    max_steps, max_iterations, max_cells : int
        ``POST simulations``: steps [-], Monte Carlo iterations [-] and their product.
    simulations_at_once : int
        Simulations run at the same time; further requests wait their turn.
    max_page, max_offset : int
        ``GET runs``: largest ``limit`` and ``offset`` [runs].
    max_json_rows : int
        Largest trajectory returned as JSON [rows]; CSV and Parquet have no such bound.
    max_compare : int
        Most runs in one ``GET runs/compare``.
    sign_in_failures, sign_in_window_s : int, float
        Failed sign-ins per user name within the window [s] before 429.
    user_cache_s : float
        How long [s] a verified user's role is reused (a removal takes effect within it).
    run_cache_s : float
        How long [s] ``GET runs/{id}`` reuses a run it read (runs never change once
        stored; one deleted through another process disappears within this time). 0: off.
    """

    max_body_bytes: int = 1_048_576
    max_steps: int = 10_000
    max_iterations: int = 2_000
    max_cells: int = 2_000_000
    simulations_at_once: int = 2
    max_page: int = 1000
    max_offset: int = 100_000
    max_json_rows: int = 200_000
    max_compare: int = 20
    sign_in_failures: int = 5
    sign_in_window_s: float = 60.0
    user_cache_s: float = 2.0
    run_cache_s: float = 2.0


def load_limits(config_dir: str | Path | None = None) -> ServerLimits:
    """Return the limits of ``<config dir>/server.json`` (defaults for missing keys or file)."""
    folder = Path(config_dir) if config_dir is not None else default_config_dir()
    path = folder / LIMITS_FILE if folder is not None else None
    if path is None or not path.is_file():
        return ServerLimits()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not readable JSON: {exc}", file=str(path)) from exc
    section = data.get("limits", {}) if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: 'limits' must be an object", file=str(path), key="limits")
    known = {f.name: f for f in fields(ServerLimits)}
    values: dict[str, Any] = {}
    for key, value in section.items():
        if key not in known:
            raise ConfigError(
                f"{path}: unknown key limits.{key}; known: {', '.join(known)}",
                file=str(path),
                key=f"limits.{key}",
            )
        kind = float if known[key].type in (float, "float") else int
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(
                f"{path}: limits.{key} must be a number >= 0, got {value!r}",
                file=str(path),
                key=f"limits.{key}",
                value=value,
            )
        values[key] = kind(value)
    return ServerLimits(**values)


def is_loopback(host: str) -> bool:
    """Return whether ``host`` (an address or ``localhost``) is reachable from this machine only."""
    import ipaddress

    if host.strip().lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost, "", "0.0.0.0": reachable by others


def check_bind(host: str, auth: bool) -> None:
    """Refuse to serve ``host`` to other machines without sign-in, saying why."""
    if not auth and not is_loopback(host):
        raise ConfigError(
            f"refusing to bind {host or 'all addresses'} without --auth: without sign-in every "
            "request acts as the local user (saving runs, acknowledging alerts), so only this "
            "machine may connect. Add users (circman users add) and pass --auth, or bind "
            "127.0.0.1 and put an authenticating TLS proxy in front"
        )


class ServerContext:
    """The store, sign-in, shared twin and limits the server's handlers use.

    Parameters
    ----------
    store_url : str, optional
        The run store (default ``$CIRCMAN_DB``); each worker thread opens its own.
    auth : Authenticator, optional
        ``None``: no sign-in; every request is the local user (loopback servers only).
    twin : TwinService, optional
        The shared live twin, if this server runs one.
    limits : ServerLimits, optional
    threads : int
        Worker threads for store and simulation work (kept off the server's event loop).
    """

    def __init__(
        self,
        *,
        store_url: str | None = None,
        auth: Authenticator | None = None,
        twin: Any = None,
        limits: ServerLimits | None = None,
        config: Any = None,
        threads: int = 4,
    ) -> None:
        self.store_url = store_url
        self.auth = auth
        self.twin = twin
        self.limits = limits or ServerLimits()
        self._config = config
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="circman-api")
        self.simulations = threading.BoundedSemaphore(self.limits.simulations_at_once)
        self._local = threading.local()
        self._runs: dict[str, tuple[float, dict[str, Any]]] = {}
        self._runs_lock = threading.Lock()

    @property
    def config(self) -> Any:
        if self._config is None:
            from circman_kernel.core.config import load_config

            self._config = load_config()
        return self._config

    def store(self) -> Any:
        """Return this thread's run store (one per thread: reads run side by side)."""
        store = getattr(self._local, "store", None)
        if store is None:
            from circman_kernel.store.run_store import RunStore

            store = RunStore(self.store_url)
            self._local.store = store
        return store

    def get_run(self, run_id: str) -> dict[str, Any]:
        """Return a run's metadata and KPIs, reused for ``limits.run_cache_s`` seconds."""
        ttl = self.limits.run_cache_s
        now = time.monotonic()
        if ttl > 0:
            with self._runs_lock:
                hit = self._runs.get(run_id)
            if hit is not None and now - hit[0] < ttl:
                return hit[1]
        row = self.store().get_run(run_id)
        if ttl > 0:
            with self._runs_lock:
                if len(self._runs) >= 1024:
                    self._runs.clear()
                self._runs[run_id] = (now, row)
        return row

    def forget_run(self, run_id: str) -> None:
        """Drop a run from the cache (it was deleted through this server)."""
        with self._runs_lock:
            self._runs.pop(run_id, None)

    def close(self) -> None:
        """Stop the worker threads (and the shared twin, if any)."""
        if self.twin is not None:
            self.twin.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)
