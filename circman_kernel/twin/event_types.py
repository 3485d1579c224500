"""Events of the twin (the manual's section 6): what an event is, its category and severity.

Holds :class:`EventCategory`, :class:`EventSeverity` (ordered ``INFO < WARNING < ERROR <
CRITICAL``), the immutable :class:`Event` with its row form (:meth:`Event.to_dict`,
:meth:`Event.from_dict`) and the deep read-only copy of its ``details``, and the events the
twin publishes: :class:`ThresholdEvent`, :class:`StateChangeEvent` (alias
``SystemStateEvent``) and :class:`SimulationResultEvent`. The bus that delivers and stores
them is :class:`~circman_kernel.twin.events.EventManager`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from circman_kernel.core.errors import ParameterError

__all__ = [
    "Event",
    "EventCategory",
    "EventSeverity",
    "SimulationResultEvent",
    "StateChangeEvent",
    "SystemStateEvent",
    "ThresholdEvent",
]


class EventCategory(StrEnum):
    """What an event is about."""

    SYSTEM = "system"
    PROCESS = "process"
    THRESHOLD = "threshold"
    SIMULATION = "simulation"
    OPTIMIZATION = "optimization"
    LCA = "lca"
    USER = "user"
    ERROR = "error"


_RANK = {"info": 0, "warning": 1, "error": 2, "critical": 3}


class EventSeverity(StrEnum):
    """How urgent an event is; ordered ``INFO < WARNING < ERROR < CRITICAL``."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for info up to 3 for critical."""
        return _RANK[self.value]

    def __lt__(self, other: object) -> bool:
        return self.rank < EventSeverity(other).rank

    def __le__(self, other: object) -> bool:
        return self.rank <= EventSeverity(other).rank

    def __gt__(self, other: object) -> bool:
        return self.rank > EventSeverity(other).rank

    def __ge__(self, other: object) -> bool:
        return self.rank >= EventSeverity(other).rank

    __hash__ = str.__hash__


def _category(value: Any) -> EventCategory:
    try:
        return EventCategory(value)
    except ValueError:
        raise ParameterError(
            f"unknown event category {value!r}; one of {', '.join(c.value for c in EventCategory)}",
            name="category",
            value=value,
        ) from None


def _severity(value: Any) -> EventSeverity:
    try:
        return EventSeverity(value)
    except ValueError:
        raise ParameterError(
            f"unknown event severity {value!r}; one of {', '.join(s.value for s in EventSeverity)}",
            name="severity",
            value=value,
        ) from None


def _new_id() -> str:
    return uuid.uuid4().hex


def _now() -> str:
    return datetime.now().isoformat()


def _aware(timestamp: Any, event_id: Any) -> datetime:
    # An event's time as an aware datetime; a naive stamp is local time (datetime.now()).
    try:
        dt = datetime.fromisoformat(timestamp)
    except (TypeError, ValueError):
        raise ParameterError(
            f"event {event_id}: timestamp {timestamp!r} is not ISO 8601 "
            "(e.g. '2025-02-24T14:30:22' or '2025-02-24T14:30:22+00:00')",
            name="timestamp",
            value=timestamp,
        ) from None
    return dt.astimezone() if dt.tzinfo is None else dt


_EMPTY: Mapping[str, Any] = MappingProxyType({})
_LEAVES = frozenset({str, int, float, bool, type(None)})


def _freeze(value: Any) -> Any:
    # Deep read-only copy: mappings become read-only mappings, lists and tuples tuples,
    # sets frozensets. Other objects are kept as they are (give details plain data).
    t = type(value)
    if t in _LEAVES:
        return value
    if t is dict or isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            out[k] = v if type(v) in _LEAVES else _freeze(v)
        return MappingProxyType(out)
    if t is list or t is tuple:
        return tuple(v if type(v) in _LEAVES else _freeze(v) for v in value)
    if t is set or t is frozenset:
        return frozenset(value)
    return value


def _thaw(value: Any) -> Any:
    # Inverse of _freeze for storage and DataFrames: plain dicts and lists.
    t = type(value)
    if t is MappingProxyType:
        return {k: v if type(v) in _LEAVES else _thaw(v) for k, v in value.items()}
    if t is tuple:
        return [v if type(v) in _LEAVES else _thaw(v) for v in value]
    if t is frozenset:
        return sorted(value, key=repr)
    return value


@dataclass(frozen=True, slots=True)
class Event:
    """One event: what happened, where, how serious. Immutable, ``details`` included.

    ``details`` is copied into a deeply read-only form when the event is built: nested
    mappings become read-only mappings and lists become tuples, so no one holding the
    event (a subscriber, a caller of ``get_events``) can change what others see.
    :meth:`to_dict` gives plain dicts and lists back.
    """

    event_id: str = field(default_factory=_new_id)
    timestamp: str = field(default_factory=_now)  # ISO 8601
    category: EventCategory = EventCategory.SYSTEM
    severity: EventSeverity = EventSeverity.INFO
    source: str = "system"
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    acknowledged: bool = False

    def __post_init__(self) -> None:
        if type(self.category) is not EventCategory:
            object.__setattr__(self, "category", _category(self.category))
        if type(self.severity) is not EventSeverity:
            object.__setattr__(self, "severity", _severity(self.severity))
        details = self.details
        if details is not _EMPTY:
            if not isinstance(details, Mapping):
                raise ParameterError(
                    f"event details must be a mapping, got {type(details).__name__}",
                    name="details",
                    value=details,
                )
            object.__setattr__(self, "details", _freeze(details))

    def to_dict(self) -> dict[str, Any]:
        """Return the row stored in the ``events`` table (``id``, ..., ``details`` a dict)."""
        return {
            "id": self.event_id,
            "timestamp": self.timestamp,
            "category": self.category.value,
            "severity": self.severity.value,
            "source": self.source,
            "message": self.message,
            "details": _thaw(self.details),
            "acknowledged": self.acknowledged,
        }

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> Event:
        """Rebuild an event from :meth:`to_dict` output (or an ``events`` table row)."""
        return Event(
            event_id=str(row.get("id", row.get("event_id"))),
            timestamp=str(row["timestamp"]),
            category=row["category"],
            severity=row["severity"],
            source=row.get("source", "system"),
            message=row.get("message", ""),
            details=row.get("details") or {},
            acknowledged=bool(row.get("acknowledged", False)),
        )


def _fields(event: Event) -> dict[str, Any]:
    return {name: getattr(event, name) for name in Event.__dataclass_fields__}


def _rebuild(event: Event, **changes: Any) -> Event:
    # dataclasses.replace would call the subclass __init__ with the base fields. The
    # details are already frozen: handed over as they are, not copied again.
    new = object.__new__(type(event))
    Event.__init__(new, **{**_fields(event), "details": _EMPTY, **changes})
    if "details" not in changes:
        object.__setattr__(new, "details", event.details)
    return new


class ThresholdEvent(Event):
    """A parameter left its band (``recovered=False``) or came back into it.

    Parameters
    ----------
    parameter : str
        Dotted state path, e.g. ``"production_line.temperature"``.
    threshold : float
        The bound that was crossed (for a recovery: the bound it had crossed).
    actual_value : float
        The value that crossed it.
    bound : {"upper", "lower"}
        Which bound.
    recovered : bool
        ``True`` for the event that marks the return into the band (severity info).
    """

    __slots__ = ()

    def __init__(
        self,
        parameter: str,
        threshold: float,
        actual_value: float,
        *,
        bound: str = "upper",
        recovered: bool = False,
        band: tuple[float, float] | None = None,
        severity: EventSeverity | str | None = None,
        source: str = "digital_twin",
        details: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if recovered:
            where = f"within [{band[0]:g}, {band[1]:g}]" if band else f"inside {threshold:g}"
            message = f"{parameter} back {where}: {actual_value:g}"
            severity = severity or EventSeverity.INFO
        else:
            side = "above the upper" if bound == "upper" else "below the lower"
            message = f"{parameter} = {actual_value:g}, {side} threshold {threshold:g}"
            severity = severity or EventSeverity.WARNING
        info = {
            "parameter": parameter,
            "threshold": threshold,
            "actual_value": actual_value,
            "bound": bound,
            "recovered": recovered,
        }
        if band is not None:
            info["band"] = [band[0], band[1]]
        Event.__init__(
            self,
            category=EventCategory.THRESHOLD,
            severity=severity,
            source=source,
            message=kwargs.pop("message", message),
            details={**info, **(details or {})},
            **kwargs,
        )


class StateChangeEvent(Event):
    """The twin's ``system_status`` changed (the manual's ``SystemStateEvent``)."""

    __slots__ = ()

    def __init__(
        self,
        previous_state: str,
        new_state: str,
        *,
        source: str = "digital_twin",
        details: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        severity = kwargs.pop("severity", None) or (
            EventSeverity.ERROR if new_state == "error" else EventSeverity.INFO
        )
        Event.__init__(
            self,
            category=EventCategory.SYSTEM,
            severity=severity,
            source=source,
            message=kwargs.pop("message", f"system status {previous_state} -> {new_state}"),
            details={"previous_state": previous_state, "new_state": new_state, **(details or {})},
            **kwargs,
        )


SystemStateEvent = StateChangeEvent


class SimulationResultEvent(Event):
    """A simulation finished; ``details`` carry its id, parameters and headline KPIs."""

    __slots__ = ()

    def __init__(
        self,
        simulation_id: str,
        parameters: Mapping[str, Any] | None = None,
        kpis: Mapping[str, float] | None = None,
        *,
        steps: int | None = None,
        source: str = "digital_twin",
        details: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        info = {
            "simulation_id": simulation_id,
            "parameters": dict(parameters or {}),
            "kpis": dict(kpis or {}),
            "steps": steps,
        }
        Event.__init__(
            self,
            category=EventCategory.SIMULATION,
            severity=kwargs.pop("severity", EventSeverity.INFO),
            source=source,
            message=kwargs.pop("message", f"simulation {simulation_id} finished ({steps} steps)"),
            details={**info, **(details or {})},
            **kwargs,
        )
