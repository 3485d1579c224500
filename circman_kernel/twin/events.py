"""The twin's event bus: :class:`EventManager`, its subscriptions, delivery and persistence.

An :class:`EventManager` belongs to one twin (no singleton). Handlers subscribe with an
optional category and either one severity (``severity=``, the manual's per-severity lists)
or a minimum (``min_severity=``, that severity or worse); a handler that raises does not stop delivery to
the others: the failure is logged, kept in :attr:`EventManager.errors` and published as an
``error`` event. Handlers and store writes run outside the bus's lock, so a slow handler or
a slow database never holds up another thread's ``publish``. With a store and
``EVENT_NOTIFICATION.persistence_enabled`` events are written to the store's ``events``
table in batches (call :meth:`EventManager.flush` to write the pending ones now); the
pending ones are also written when the bus is garbage-collected or the interpreter exits.
The events themselves are in :mod:`circman_kernel.twin.event_types`.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from circman_kernel.core.errors import ParameterError, StoreError
from circman_kernel.twin.event_types import (
    _RANK,
    Event,
    EventCategory,
    EventSeverity,
    _aware,
    _category,
    _now,
    _rebuild,
    _severity,
)

__all__ = ["EventManager", "SubscriberError"]

log = logging.getLogger("circman.events")


@dataclass(frozen=True)
class SubscriberError:
    """A handler raised while an event was delivered to it."""

    handler: str
    event_id: str
    error: str
    timestamp: str


Handler = Callable[[Event], Any]


def _subscription(
    category: Any, severity: Any, min_severity: Any
) -> tuple[EventCategory | None, EventSeverity | None, EventSeverity | None]:
    if severity is not None and min_severity is not None:
        raise ParameterError(
            "give severity= (that severity only) or min_severity= (that severity or worse), "
            "not both",
            name="severity",
            value=severity,
        )
    return (
        None if category is None else _category(category),
        None if severity is None else _severity(severity),
        None if min_severity is None else _severity(min_severity),
    )


class _Pending:
    """Event rows waiting for the store, and the store.

    Kept apart from the bus so that the exit hook (a ``weakref.finalize`` of the bus) can
    write them without keeping the bus alive.
    """

    __slots__ = ("guard", "rows", "since", "store", "writing")

    def __init__(self, store: Any, guard: threading.RLock) -> None:
        self.store = store
        self.rows: list[dict[str, Any]] = []
        self.since = 0.0  # time.monotonic() when the oldest pending row was queued
        self.guard = guard  # the bus's lock: guards ``rows``
        self.writing = threading.Lock()  # one store write at a time, batches in order

    def flush(self, *, wait: bool = True) -> int:
        """Write the pending rows; on failure keep them and raise :class:`StoreError`.

        With ``wait=False`` return 0 at once if another thread is writing (the rows stay
        pending for a later flush).
        """
        if not self.writing.acquire(blocking=wait):
            return 0
        try:
            with self.guard:
                batch, store, since = self.rows, self.store, self.since
                if not batch or store is None:
                    return 0
                self.rows = []
            try:
                store.save_events(batch)
            except Exception as exc:
                with self.guard:
                    self.rows = batch + self.rows  # nothing lost: retried on the next flush
                    self.since = since
                raise StoreError(
                    f"could not write {len(batch)} events to the store {store!r}: "
                    f"{type(exc).__name__}: {exc}. They stay pending; fix the store and call "
                    "flush() (or publish again) to retry"
                ) from exc
            return len(batch)
        finally:
            self.writing.release()


class EventManager:
    """Publish/subscribe bus of one twin, with a bounded in-memory log of events.

    Parameters
    ----------
    config : CircmanConfig, optional
        ``EVENT_NOTIFICATION`` settings (``max_events``, ``persistence_enabled``,
        ``publish_*`` flags, ``default_alert_severity``). Defaults when ``None``.
    store : RunStore, optional
        Where events persist (``store.save_events``) when persistence is enabled.
    max_events : int, optional
        Overrides ``EVENT_NOTIFICATION.max_events``.
    batch_size : int
        Pending events are written to the store once this many have gathered (or when the
        oldest pending one is older than ``flush_interval_s`` [s]), checked on each publish;
        :meth:`flush` writes now. Events still pending when the bus is garbage-collected or
        the interpreter exits are written then (a failure there can only be printed).

    Notes
    -----
    Events are delivered in the order they were published. A publish from another thread
    while a handler runs does not wait for it: its event is queued and the thread that is
    delivering delivers it next.
    """

    def __init__(
        self,
        config: Any = None,
        *,
        store: Any = None,
        max_events: int | None = None,
        batch_size: int = 256,
        flush_interval_s: float = 5.0,
    ) -> None:
        settings = config.digital_twin.EVENT_NOTIFICATION if config is not None else None
        self.max_events = int(max_events or (settings.max_events if settings else 1000))
        if self.max_events < 1:
            raise ParameterError("max_events must be >= 1", name="max_events", value=max_events)
        self.persistence_enabled = bool(settings.persistence_enabled) if settings else True
        self.publish_state_changes = bool(settings.publish_state_changes) if settings else True
        self.publish_threshold_breaches = (
            bool(settings.publish_threshold_breaches) if settings else True
        )
        self.publish_simulation_results = (
            bool(settings.publish_simulation_results) if settings else True
        )
        self.default_alert_severity = EventSeverity(
            settings.default_alert_severity if settings else "warning"
        )
        self.batch_size = int(batch_size)
        self.flush_interval_s = float(flush_interval_s)
        self.errors: deque[SubscriberError] = deque(maxlen=1000)
        self._lock = threading.RLock()
        self._events: deque[Event] = deque()
        # (handler, category, exact severity, minimum severity); None matches any
        self._subscribers: list[
            tuple[Handler, EventCategory | None, EventSeverity | None, EventSeverity | None]
        ] = []
        self._outbox: deque[Event] = deque()  # recorded, not yet delivered
        self._delivering = False  # a thread is draining the outbox
        self._pending = _Pending(store, self._lock)
        weakref.finalize(self, self._pending.flush)

    @property
    def store(self) -> Any:
        """The run store events are written to (``None``: keep them in memory only)."""
        return self._pending.store

    @store.setter
    def store(self, store: Any) -> None:
        with self._lock:
            self._pending.store = store

    @property
    def persisting(self) -> bool:
        """``True`` when published events are written to the store."""
        return self._pending.store is not None and self.persistence_enabled

    @property
    def pending(self) -> int:
        """Number of events waiting to be written to the store."""
        return len(self._pending.rows)

    # -- subscriptions ------------------------------------------------------------------
    def subscribe(
        self,
        handler: Handler,
        category: EventCategory | str | None = None,
        severity: EventSeverity | str | None = None,
        *,
        min_severity: EventSeverity | str | None = None,
    ) -> None:
        """Call ``handler(event)`` for the events of ``category`` and severity.

        ``severity`` selects that severity only, as the manual's per-severity subscriber
        lists do (section 6.2): ``severity=EventSeverity.WARNING`` delivers warnings, not
        errors. ``min_severity`` selects that severity or worse (``"warning"``: warnings,
        errors and critical events). Give one of the two, or neither for every severity.
        """
        if not callable(handler):
            raise ParameterError(f"handler must be callable, got {handler!r}", name="handler")
        key = _subscription(category, severity, min_severity)
        with self._lock:
            # a new list, never mutated: a delivery in progress keeps its snapshot
            self._subscribers = [*self._subscribers, (handler, *key)]

    def unsubscribe(
        self,
        handler: Handler,
        category: EventCategory | str | None = None,
        severity: EventSeverity | str | None = None,
        *,
        min_severity: EventSeverity | str | None = None,
    ) -> None:
        """Remove ``handler``'s subscriptions (only the matching ones if filters are given)."""
        cat, sev, least = _subscription(category, severity, min_severity)
        with self._lock:
            self._subscribers = [
                s
                for s in self._subscribers
                if not (
                    s[0] == handler
                    and (cat is None or s[1] == cat)
                    and (sev is None or s[2] == sev)
                    and (least is None or s[3] == least)
                )
            ]

    # -- publishing ---------------------------------------------------------------------
    def publish(self, event: Event) -> None:
        """Record ``event``, deliver it to matching subscribers, then queue it for the store.

        Raises
        ------
        StoreError
            If a due batch could not be written. The event was recorded and delivered; the
            unwritten events stay pending for the next attempt.
        """
        if not isinstance(event, Event):
            raise ParameterError(f"expected an Event, got {type(event).__name__}", name="event")
        self._enqueue((event,))
        self._dispatch()

    def _enqueue(self, events: tuple[Event, ...] | list[Event]) -> None:
        # Record events in order without calling anyone: cheap, so callers may hold a lock.
        with self._lock:
            log_ = self._events
            for event in events:
                if len(log_) >= self.max_events:
                    log_.popleft()
                log_.append(event)
            self._outbox.extend(events)
            pending = self._pending
            if pending.store is not None and self.persistence_enabled:
                if not pending.rows:
                    pending.since = time.monotonic()
                pending.rows.extend(e.to_dict() for e in events)

    def _dispatch(self) -> None:
        # Deliver queued events (unless another thread is already doing so), then write a
        # due batch. Handlers and the store are called without the bus's lock held.
        with self._lock:
            claim = not self._delivering and bool(self._outbox)
            if claim:
                self._delivering = True
        if claim:
            try:
                while True:
                    with self._lock:
                        if not self._outbox:
                            self._delivering = False
                            break
                        event = self._outbox.popleft()
                        subscribers = self._subscribers
                    self._deliver(event, subscribers)
            except BaseException:
                with self._lock:
                    self._delivering = False
                raise
        pending = self._pending
        if pending.rows and (
            len(pending.rows) >= self.batch_size
            or time.monotonic() - pending.since > self.flush_interval_s
        ):
            pending.flush(wait=False)  # a write in progress: leave these for the next one

    def _deliver(self, event: Event, subscribers: list) -> None:
        failures = None
        for handler, cat, sev, least in subscribers:
            if (
                (cat is None or cat is event.category)
                and (sev is None or sev is event.severity)
                and (least is None or _RANK[event.severity.value] >= _RANK[least.value])
            ):
                try:
                    handler(event)
                except Exception as exc:  # a subscriber's bug must not stop the others
                    failures = failures or []
                    failures.append((handler, exc))
        # Reported after every subscriber had the event, so the error event comes after it.
        for handler, exc in failures or ():
            self._report(handler, event, exc)

    def _report(self, handler: Handler, event: Event, exc: Exception) -> None:
        name = getattr(handler, "__qualname__", repr(handler))
        log.exception("event handler %s failed on event %s", name, event.event_id)
        record = SubscriberError(name, event.event_id, f"{type(exc).__name__}: {exc}", _now())
        self.errors.append(record)
        if event.source == "event_manager" and event.category is EventCategory.ERROR:
            return  # do not loop on a failing handler of error events
        # Queued only: the delivery loop that called us delivers it next.
        self._enqueue(
            (
                Event(
                    category=EventCategory.ERROR,
                    severity=EventSeverity.ERROR,
                    source="event_manager",
                    message=f"event handler {name} failed: {record.error}",
                    details={"handler": name, "event_id": event.event_id, "error": record.error},
                ),
            )
        )

    def flush(self) -> int:
        """Write the pending events to the store now; return how many were written.

        Raises
        ------
        StoreError
            If the store could not write them; they stay pending (nothing is lost).
        """
        return self._pending.flush()

    # -- queries ------------------------------------------------------------------------
    def get_events(
        self,
        category: EventCategory | str | None = None,
        severity: EventSeverity | str | None = None,
        limit: int | None = 100,
        *,
        acknowledged: bool | None = None,
    ) -> list[Event]:
        """Return the most recent events (oldest first) matching the filters.

        ``severity`` is a minimum: ``"warning"`` also returns errors and critical events.
        """
        cat = None if category is None else _category(category)
        min_rank = None if severity is None else _severity(severity).rank
        with self._lock:
            out = [
                e
                for e in self._events
                if (cat is None or e.category is cat)
                and (min_rank is None or e.severity.rank >= min_rank)
                and (acknowledged is None or e.acknowledged == acknowledged)
            ]
        if limit is not None:
            if limit < 0:
                raise ParameterError(f"limit must be >= 0, got {limit}", name="limit")
            out = out[len(out) - limit :] if limit else []
        return out

    def __len__(self) -> int:
        return len(self._events)

    def acknowledge_event(self, event_id: str) -> bool:
        """Mark an event acknowledged; ``False`` if no event has that id."""
        found = False
        with self._lock:
            for i, e in enumerate(self._events):
                if e.event_id == event_id:
                    self._events[i] = _rebuild(e, acknowledged=True)
                    found = True
                    break
            for row in self._pending.rows:
                if row["id"] == event_id:
                    row["acknowledged"] = True
                    found = True
        if self.persisting:
            # after any write in progress, which may be inserting this very row
            with self._pending.writing:
                found = bool(self._pending.store.acknowledge_event(event_id)) or found
        return found

    def clear_events(self, older_than_days: float | None = None) -> int:
        """Forget events held in memory (all, or those older than ``older_than_days`` [d]).

        The same rule applies to the in-memory log (:meth:`get_events`) and to the events
        still waiting for the store: a cleared event is never written later. Rows already
        in the store's ``events`` table are history and stay (delete them there with SQL).
        Naive timestamps are local time (as :func:`datetime.now` stamps them); aware ones
        are compared in their own zone. Returns how many events left the in-memory log.
        """
        with self._lock:
            if older_than_days is None:
                n = len(self._events)
                self._events.clear()
                self._pending.rows = []
                return n
            days = float(older_than_days)
            if not days >= 0:
                raise ParameterError(
                    f"older_than_days must be >= 0, got {older_than_days!r}",
                    name="older_than_days",
                    value=older_than_days,
                )
            cutoff = datetime.now().astimezone() - timedelta(days=days)
            keep = deque(e for e in self._events if _aware(e.timestamp, e.event_id) >= cutoff)
            n = len(self._events) - len(keep)
            self._events = keep
            self._pending.rows = [
                r for r in self._pending.rows if _aware(r["timestamp"], r["id"]) >= cutoff
            ]
            return n

    def to_frame(self, **filters: Any) -> Any:
        """Return :meth:`get_events` (``limit=None`` by default) as a pandas DataFrame."""
        import pandas as pd

        filters.setdefault("limit", None)
        rows = [e.to_dict() for e in self.get_events(**filters)]
        columns = ["id", "timestamp", "category", "severity", "source", "message", "details"]
        return pd.DataFrame(rows, columns=[*columns, "acknowledged"])
