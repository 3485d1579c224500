"""The twin's state manager: the current state and a bounded, time-indexed history.

:class:`StateManager` keeps the current state and earlier ones. Stored states are never
mutated: an update builds a new top-level dict and copies only the branches it touches
(copy-on-write), so the history holds references, and every state handed to a caller is a
fresh copy. Only the keys an update touches are validated (the schema and the validators
are in :mod:`circman_kernel.core.state_schema`).
"""

from __future__ import annotations

import json
import threading
from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from circman_kernel.core.errors import NotInitializedError, ParameterError, StateValidationError
from circman_kernel.core.state_merge import _Invalid, _merge, validated_copy
from circman_kernel.core.state_schema import SCHEMA, _copy_stored, get_path, parse_timestamp

__all__ = ["StateManager"]


def _first(item: tuple) -> Any:
    return item[0]


class StateManager:
    """Current twin state plus a bounded, time-indexed history (thread-safe).

    Parameters
    ----------
    history_length : int, optional
        How many earlier states are kept (the current one comes on top). Defaults to
        ``DIGITAL_TWIN_CONFIG.history_length`` of ``config``, else 1000.
    config : CircmanConfig, optional
        Source of the default ``history_length``.

    Notes
    -----
    Every state returned is a copy; changing it never changes the stored state. A bad
    update raises :class:`~circman_kernel.core.errors.StateValidationError` and leaves the
    current state and the history exactly as they were.
    """

    def __init__(self, history_length: int | None = None, *, config: Any = None) -> None:
        if history_length is None:
            history_length = (
                config.digital_twin.DIGITAL_TWIN_CONFIG.history_length
                if config is not None
                else 1000
            )
        if isinstance(history_length, bool) or not isinstance(history_length, int):
            raise ParameterError(
                f"history_length must be an int >= 1, got {history_length!r}",
                name="history_length",
                value=history_length,
            )
        if history_length < 1:
            raise ParameterError(
                f"history_length must be >= 1, got {history_length}",
                name="history_length",
                value=history_length,
            )
        self.history_length = history_length
        self._lock = threading.RLock()
        # Timeline: earlier states then the current one; live window is [_start:].
        self._states: list[dict] = []
        self._keys: list[datetime] = []
        self._start = 0
        self._base = 0  # absolute index of list position 0
        self._inversions: deque[int] = deque()  # absolute i with key[i] < key[i-1]
        # While time goes backwards inside the window: (key, absolute index) of every live
        # state, sorted. Built on the first look-up that needs it, then kept up to date
        # (insort on append, removal on slide) and dropped once the window is in order.
        self._sorted: list[tuple[datetime, int]] | None = None

    @classmethod
    def _reset(cls) -> None:
        """Do nothing: there is no shared instance to reset (the manual's tests call this)."""

    # -- internal -----------------------------------------------------------------------
    def _append(self, state: dict, key: datetime) -> None:
        keys = self._keys
        if len(keys) > self._start and key < keys[-1]:
            self._inversions.append(self._base + len(keys))
        index = self._sorted
        if index is not None:
            insort(index, (key, self._base + len(keys)))
        self._states.append(state)
        keys.append(key)
        if len(keys) - self._start > self.history_length + 1:
            if index is not None:
                gone = (keys[self._start], self._base + self._start)
                del index[bisect_left(index, gone)]
            self._start += 1
            first = self._base + self._start
            inv = self._inversions
            while inv and inv[0] <= first:
                inv.popleft()
            if not inv:
                self._sorted = None
            if self._start >= self.history_length + 1 and self._start >= 64:
                del self._states[: self._start]
                del keys[: self._start]
                self._base += self._start
                self._start = 0

    def _current(self) -> dict:
        if len(self._states) == self._start:
            raise NotInitializedError("the state manager has no state yet; call set_state first")
        return self._states[-1]

    def _apply(
        self, updates: Mapping[str, Any], stamp: datetime | None = None
    ) -> tuple[dict, dict]:
        """Merge ``updates``; return (previous, new) stored states (callers must not mutate).

        ``stamp`` (a naive datetime) becomes the new timestamp when ``updates`` has none.
        """
        with self._lock:
            previous = self._current()
            try:
                new = _merge(previous, updates, SCHEMA)
            except _Invalid as exc:
                raise exc.to_error() from None
            if "timestamp" in updates:
                key = parse_timestamp(new["timestamp"])
            elif stamp is not None:
                new["timestamp"] = stamp.isoformat()
                key = stamp
            else:
                key = self._keys[-1]
            self._append(new, key)
            return previous, new

    # -- public API ---------------------------------------------------------------------
    def set_state(self, state: Mapping[str, Any]) -> None:
        """Replace the current state (validated); the previous one moves to the history."""
        new = validated_copy(state)
        key = parse_timestamp(new["timestamp"])
        with self._lock:
            self._append(new, key)

    def update_state(self, updates: Mapping[str, Any]) -> None:
        """Deep-merge a partial state into the current one (validated, all or nothing).

        Keys may be dotted paths (``{"production_line.temperature": 23.0}``); an unknown
        field raises with a did-you-mean (free-form data goes under ``"extra"``); see
        :func:`~circman_kernel.core.state_schema.merge_state` for every rule and limit.
        """
        if not isinstance(updates, Mapping):
            raise StateValidationError(
                f"updates must be a mapping, got {type(updates).__name__}", path="", value=updates
            )
        self._apply(updates)

    def get_current_state(self) -> dict[str, Any] | None:
        """Return a copy of the current state, or ``None`` before the first ``set_state``."""
        with self._lock:
            if len(self._states) == self._start:
                return None
            return _copy_stored(self._states[-1])

    def get_value(self, path: str, default: Any = None) -> Any:
        """Return the current value at a dotted path, e.g. ``"production_line.temperature"``."""
        with self._lock:
            if len(self._states) == self._start:
                return default
            return get_path(self._states[-1], path, default)

    def get_history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Return copies of the earlier states, oldest first (the ``limit`` most recent)."""
        with self._lock:
            end = len(self._states) - 1
            lo = self._start
            if limit is not None:
                if limit < 0:
                    raise ParameterError(f"limit must be >= 0, got {limit}", name="limit")
                lo = max(lo, end - limit)
            return [_copy_stored(s) for s in self._states[lo:end]] if end > lo else []

    def __len__(self) -> int:
        """Number of earlier states held in the history."""
        return max(0, len(self._states) - self._start - 1)

    def get_state_at_time(self, timestamp: str | datetime) -> dict[str, Any] | None:
        """Return a copy of the state in effect at ``timestamp`` (O(log n)), else ``None``.

        That is the held state with the latest timestamp at or before ``timestamp`` (of
        several with that timestamp, the one recorded last); the current state counts.
        ``None`` if ``timestamp`` is before every held state. Also O(log n) amortised when
        time went backwards inside the window (a replay of old data after live updates).
        """
        key = parse_timestamp(timestamp)
        with self._lock:
            keys = self._keys
            if not self._inversions:
                i = bisect_right(keys, key, self._start)
                return _copy_stored(self._states[i - 1]) if i > self._start else None
            index = self._sorted
            if index is None:
                base, start = self._base, self._start
                index = sorted(
                    zip(keys[start:], range(base + start, base + len(keys)), strict=True)
                )
                self._sorted = index
            i = bisect_right(index, key, key=_first)
            return _copy_stored(self._states[index[i - 1][1] - self._base]) if i else None

    def clear_history(self) -> None:
        """Forget the earlier states; the current state stays."""
        with self._lock:
            if len(self._states) > self._start:
                self._states = self._states[-1:]
                self._keys = self._keys[-1:]
            else:
                self._states, self._keys = [], []
            self._base += self._start
            self._start = 0
            self._inversions.clear()
            self._sorted = None

    def validate_state(self, state: Any) -> tuple[bool, str]:
        """Return ``(True, "valid")`` or ``(False, "<dotted.path>: <reason> (got <value>)")``."""
        try:
            validated_copy(state)
        except StateValidationError as exc:
            return False, str(exc)
        return True, "valid"

    def export_state(self, path: str | Path) -> bool:
        """Write the current state as JSON to ``path``; return ``True``."""
        state = self.get_current_state()
        if state is None:
            raise NotInitializedError("no state to export; call set_state first")
        Path(path).write_text(json.dumps(state, indent=2, allow_nan=False), encoding="utf-8")
        return True

    def import_state(self, path: str | Path) -> bool:
        """Read a JSON state from ``path`` and make it current (validated); return ``True``."""
        p = Path(path)
        try:
            state = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise StateValidationError(
                f"{p}: not a JSON state ({exc.msg} at line {exc.lineno})", path="", value=None
            ) from None
        self.set_state(state)
        return True
