"""The digital twin: the line's current state, its history, events and data sources.

Owns ``state`` (``StateManager``: validation and history), ``event_types`` (``Event``, its
category, severity and the twin's events), ``events`` (the ``EventManager`` bus:
subscriptions, delivery, persistence), ``sources`` (CSV replay, simulated sensors and
manual input), ``sync`` (the ``Synchronizer`` that applies a source to a twin) and
``digital_twin`` (``DigitalTwin``, which composes them).
May import ``core``, ``lca`` and ``simulation`` (``DigitalTwin.simulate`` runs the
engine from the twin's current state).

The main names are importable from here (``from circman_kernel.twin import DigitalTwin``);
each module is loaded on first use, so that importing one of them (the event types, say)
does not load the configuration and numpy behind ``DigitalTwin``.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "DigitalTwin": "digital_twin",
    "StateManager": "state",
    "Event": "event_types",
    "EventCategory": "event_types",
    "EventSeverity": "event_types",
    "SimulationResultEvent": "event_types",
    "StateChangeEvent": "event_types",
    "SystemStateEvent": "event_types",
    "ThresholdEvent": "event_types",
    "EventManager": "events",
    "SubscriberError": "events",
    "CSVReplaySource": "sources",
    "DataSource": "sources",
    "ManualInputSource": "sources",
    "SimulatedSensorSource": "sources",
    "flatten_state": "sources",
    "nest_dotted": "sources",
    "Synchronizer": "sync",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'circman_kernel.twin' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"circman_kernel.twin.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
