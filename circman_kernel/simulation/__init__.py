"""Simulation of the line: the process model, ``SimulationEngine``, scenarios and sweeps.

Owns ``process`` (the state variables and model parameters), ``equations`` (the step
model's equations and one transition), ``measurement`` (the output map: sensor readings),
``recurrences`` (noise, inputs and the vectorised solution over all steps), ``results``
(``SimulationResult``, ``MonteCarloResult``, KPIs and the state mapping), ``chunks``
(seeds and chunked runs on an executor), ``engine`` (``SimulationEngine``, single runs
and Monte Carlo), ``scenarios`` (``ScenarioManager`` and column runs), ``sweeps`` (sweep
sampling and evaluation), ``sensitivity`` (sensitivity analysis), ``levers`` (levers and
uncertainties), ``experiments`` (scenario x policy ensembles in one vectorised run) and
``distributed`` (sweeps and Monte Carlo runs on a cluster, each stored by its worker) and
``overrides`` (a run's parameters: model settings and state overrides by path).
May import ``core`` and ``lca`` (carbon KPIs). It starts from a state dict (schema in ``core``), so it needs
no twin. The main names are importable from here, each loaded on first use so that
importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "SimulationEngine": "engine",
    "SimulationResult": "results",
    "MonteCarloResult": "results",
    "Scenario": "scenarios",
    "ScenarioManager": "scenarios",
    "sample": "sweeps",
    "evaluate": "sweeps",
    "analyse": "sensitivity",
    "Lever": "levers",
    "Uncertainty": "levers",
    "cross": "levers",
    "sample_policies": "levers",
    "sample_scenarios": "levers",
    "perform_experiments": "experiments",
    "run_ensemble": "experiments",
    "store_sweep": "distributed",
    "store_monte_carlo": "distributed",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'circman_kernel.simulation' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"circman_kernel.simulation.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
