"""circman: analytics workbench for the digital twin of a PV module production line.

The manual's public classes (its section 16.2) are importable from here; each is loaded
on first use so that ``import circman_kernel`` stays fast in a dashboard kernel.
"""

from __future__ import annotations

import importlib
from typing import Any

from circman_kernel.core import reruns as _reruns
from circman_kernel.core.version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "CircmanConfig": "core.config",
    "load_config": "core.config",
    "default_config": "core.config",
    "DigitalTwin": "twin.digital_twin",
    "StateManager": "twin.state",
    "Event": "twin.event_types",
    "EventCategory": "twin.event_types",
    "EventSeverity": "twin.event_types",
    "EventManager": "twin.events",
    "ThresholdEvent": "twin.event_types",
    "Synchronizer": "twin.sync",
    "CSVReplaySource": "twin.sources",
    "SimulatedSensorSource": "twin.sources",
    "ManualInputSource": "twin.sources",
    "SimulationEngine": "simulation.engine",
    "Scenario": "simulation.scenarios",
    "ScenarioManager": "simulation.scenarios",
    "ManufacturingModel": "ai.model",
    "ProcessOptimizer": "ai.optimize",
    "AIIntegration": "ai.integration",
    "LCAAnalyzer": "lca.analyzer",
    "LCAIntegration": "lca.integration",
    "LifeCycleImpact": "lca.results",
    "RunStore": "store.run_store",
}

__all__ = ["__version__", *_EXPORTS]


def _load_rerunners() -> None:
    # RunStore.rerun needs the simulation, optimiser and LCA: loaded on the first re-run
    importlib.import_module("circman_kernel.cli.rerunners")


_reruns.add_loader(_load_rerunners)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'circman_kernel' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"circman_kernel.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
