"""circman: analytics workbench for the digital twin of a PV module production line.

The manual's public classes (its section 16.2) are importable from here; each is loaded
on first use so that ``import circman_kernel`` stays fast in a dashboard kernel.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("circman-kernel")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "CircmanConfig": "config",
    "load_config": "config",
    "default_config": "config",
    "DigitalTwin": "twin",
    "StateManager": "state",
    "Event": "events",
    "EventCategory": "events",
    "EventSeverity": "events",
    "EventManager": "events",
    "ThresholdEvent": "events",
    "Synchronizer": "sync",
    "CSVReplaySource": "sync",
    "SimulatedSensorSource": "sync",
    "ManualInputSource": "sync",
    "SimulationEngine": "simulation",
    "Scenario": "scenarios",
    "ScenarioManager": "scenarios",
    "ManufacturingModel": "model",
    "ProcessOptimizer": "optimize",
    "AIIntegration": "optimize",
    "LCAAnalyzer": "lca",
    "LCAIntegration": "lca",
    "LifeCycleImpact": "lca",
    "RunStore": "store",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'circman_kernel' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"circman_kernel.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
