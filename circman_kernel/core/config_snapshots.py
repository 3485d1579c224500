"""The contents of every configuration this process has hashed, kept by their hash.

A stored run names its configuration by :attr:`CircmanConfig.config_hash` only. To re-run
it later, after ``configs/`` has changed, the store keeps a copy of the configuration
itself: whenever a configuration's hash is computed (which every caller does before it
saves a run with ``config_hash=config.config_hash``), the contents it was computed from
are remembered here, and the store looks the hash up when it saves the run. The JSON
keeps the files' key order (the hash sorts keys, but an optimiser iterating over its
constraints in another order can land a few ulps away).

The registry is one bounded, thread-safe mapping per process (the most recent
:data:`MAX_SNAPSHOTS` configurations), so that a long-lived kernel trying thousands of
overrides does not grow without end.

>>> remember("0123456789abcdef", {"b": 1, "a": [2.5]})
>>> snapshot("0123456789abcdef")
'{"b": 1, "a": [2.5]}'
>>> snapshot("not a hash") is None
True
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_SNAPSHOTS", "remember", "snapshot"]

#: How many configurations a process remembers (least recently hashed ones go first).
MAX_SNAPSHOTS = 256


class _Snapshots:
    """Bounded hash -> configuration contents mapping, safe to use from several threads."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[str, Mapping[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, config_hash: str, contents: Mapping[str, Any]) -> None:
        with self._lock:
            self._items[config_hash] = contents
            self._items.move_to_end(config_hash)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def get(self, config_hash: str) -> Mapping[str, Any] | None:
        with self._lock:
            return self._items.get(config_hash)


_SNAPSHOTS = _Snapshots(MAX_SNAPSHOTS)


def remember(config_hash: str, contents: Mapping[str, Any]) -> None:
    """Keep ``contents`` (a configuration's three files, JSON-ready) under ``config_hash``.

    The caller hands over ``contents`` and does not change it afterwards.
    """
    _SNAPSHOTS.remember(config_hash, contents)


def snapshot(config_hash: str | None) -> str | None:
    """Return the JSON of the configuration with ``config_hash`` (key order kept), if hashed
    in this process."""
    if not config_hash:
        return None
    contents = _SNAPSHOTS.get(config_hash)
    return None if contents is None else json.dumps(contents)
