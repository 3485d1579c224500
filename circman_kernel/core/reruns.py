"""Which function re-runs a stored run of each kind (the registry behind ``RunStore.rerun``).

Re-running a stored simulation, Monte Carlo run, scenario, sweep, optimisation or LCA needs
the code of those layers, which sit above the store. They register a re-runner per run
kind here; the top-level package adds a loader that imports them the first time a re-run
is asked for (:func:`rerunner`), so ``import circman_kernel`` stays light and the store
imports nothing above ``core``.

A re-runner is ``fn(store, run, config) -> (difference or None, detail)``: ``run`` is the
stored run (:meth:`RunStore.get_run`), ``config`` the configuration it ran with.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["add_loader", "kinds", "register", "rerunner"]

Rerunner = Callable[[Any, dict[str, Any], Any], tuple[Any, str]]


class _Registry:
    def __init__(self) -> None:
        self.rerunners: dict[str, Rerunner] = {}
        self.loaders: list[Callable[[], None]] = []
        self.lock = threading.RLock()

    def load(self) -> None:
        with self.lock:
            while self.loaders:
                self.loaders.pop(0)()


_REGISTRY = _Registry()


def register(kind: str, fn: Rerunner) -> None:
    """Make ``fn`` the re-runner of stored runs of ``kind``."""
    with _REGISTRY.lock:
        _REGISTRY.rerunners[kind] = fn


def add_loader(loader: Callable[[], None]) -> None:
    """Call ``loader`` (it registers re-runners) before the first look-up."""
    with _REGISTRY.lock:
        _REGISTRY.loaders.append(loader)


def rerunner(kind: str) -> Rerunner | None:
    """Return the re-runner of ``kind`` (None when no layer registered one)."""
    _REGISTRY.load()
    return _REGISTRY.rerunners.get(kind)


def kinds() -> tuple[str, ...]:
    """Return the run kinds that have a re-runner."""
    _REGISTRY.load()
    return tuple(sorted(_REGISTRY.rerunners))
