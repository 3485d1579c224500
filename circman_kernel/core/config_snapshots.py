"""The contents of every configuration this process has hashed, kept by their hash.

A stored run names its configuration by :attr:`CircmanConfig.config_hash` only. To re-run
it later, after ``configs/`` has changed, the store keeps a copy of the configuration
itself: whenever a configuration's hash is computed (which every caller does before it
saves a run with ``config_hash=config.config_hash``), the canonical JSON it was computed
from is remembered here, and the store looks the hash up when it saves the run.

The registry is one bounded, thread-safe mapping per process (the most recent
:data:`MAX_SNAPSHOTS` configurations), so that a long-lived kernel trying thousands of
overrides does not grow without end.

>>> remember("0123456789abcdef", '{"a":1}')
>>> snapshot("0123456789abcdef")
'{"a":1}'
>>> snapshot("not a hash") is None
True
"""

from __future__ import annotations

import threading
from collections import OrderedDict

__all__ = ["MAX_SNAPSHOTS", "remember", "snapshot"]

#: How many configurations a process remembers (least recently hashed ones go first).
MAX_SNAPSHOTS = 256


class _Snapshots:
    """Bounded hash -> canonical JSON text mapping, safe to use from several threads."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, config_hash: str, canonical_json: str) -> None:
        with self._lock:
            self._items[config_hash] = canonical_json
            self._items.move_to_end(config_hash)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def get(self, config_hash: str) -> str | None:
        with self._lock:
            return self._items.get(config_hash)


_SNAPSHOTS = _Snapshots(MAX_SNAPSHOTS)


def remember(config_hash: str, canonical_json: str) -> None:
    """Keep ``canonical_json`` (a configuration's three files) under ``config_hash``."""
    _SNAPSHOTS.remember(config_hash, canonical_json)


def snapshot(config_hash: str | None) -> str | None:
    """Return the canonical JSON of the configuration with ``config_hash``, if hashed here."""
    if not config_hash:
        return None
    return _SNAPSHOTS.get(config_hash)
