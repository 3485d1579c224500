"""The re-runners behind ``RunStore.rerun`` and ``circman runs rerun RUN_ID``.

A stored run keeps its seed, its parameters (the model parameters in effect plus
``steps``, ``iterations``, ``uncertainty``, ...), its trajectories (whose first step is the
model's initial state) and, since schema 4, a snapshot of its configuration. Each
re-runner here separates what the store kept into what the original call took, runs it
again with the snapshot configuration (never the current ``configs/`` files) and compares
the result with what was stored: trajectories value by value, KPIs, LCA phases and
optimisation results key by key. Nothing is stored by a re-run.

The re-runners are registered in :mod:`circman_kernel.core.reruns` when this module is
imported; the top-level package imports it the first time a re-run is asked for. They
live here, at the top of the layers, because they need the simulation, the optimiser, the
LCA and the store at once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.core import reruns
from circman_kernel.core.errors import StoreError
from circman_kernel.core.state_schema import default_state
from circman_kernel.store.configs import Difference, first_difference, first_trajectory_difference

__all__ = ["initial_state_from_trajectory"]

_LINE = ("temperature", "energy_consumption", "production_rate", "efficiency", "defect_rate")
# solver bookkeeping that is not part of the result (wall-clock time)
_UNTIMED = ("runtime_s",)


# ----------------------------------------------------------------------------- helpers
def _seed(run: Mapping[str, Any]) -> int:
    if run.get("seed") is None:
        raise StoreError(
            f"run {run['id']} ({run['kind']}) was stored without a seed: its random draws "
            "cannot be repeated"
        )
    return int(run["seed"])


def initial_state_from_trajectory(
    trajectories: pd.DataFrame, parameters: Mapping[str, Any], config: Any
) -> dict[str, Any]:
    """Return the twin state a stored run started from: its trajectory's step 0.

    The first step of a simulation's trajectory is the model's initial state (line
    temperature, power, rate, efficiency, defect rate, running flag, material stocks and
    qualities); the cycle time in effect is a stored parameter.
    """
    first = trajectories[(trajectories["step"] == 0)]
    if "iteration" in first:
        first = first[first["iteration"] == first["iteration"].min()]
    x0 = dict(zip(first["variable"].astype(str), first["value"].astype(float), strict=True))
    missing = [v for v in ("production_line.temperature", "production_line.running") if v not in x0]
    if missing:
        raise StoreError(
            "the run kept no initial state (its trajectories have no step 0 of "
            f"{', '.join(missing)}): it cannot be re-run"
        )
    state = default_state(config)
    line = state["production_line"]
    for key in _LINE:
        line[key] = x0[f"production_line.{key}"]
    line["status"] = "running" if x0["production_line.running"] >= 0.5 else "idle"
    if "cycle_time" in parameters:
        line["cycle_time"] = float(parameters["cycle_time"])
    for material in ("silicon_wafer", "solar_glass"):
        for key in ("inventory", "quality"):
            state["materials"][material][key] = x0[f"materials.{material}.{key}"]
    return state


def _kpi_difference(stored: Mapping[str, float], rerun: Mapping[str, float]) -> Difference | None:
    for name, value in stored.items():
        new = rerun.get(name, math.nan)
        if not (value == new or (math.isnan(value) and math.isnan(float(new)))):
            return Difference(f"KPI {name}", value, float(new))
    return None


def _parameter_difference(
    stored: Mapping[str, Any], resolved: Mapping[str, Any]
) -> Difference | None:
    for name, value in resolved.items():
        if name in stored and stored[name] != value:
            return Difference(f"parameter {name}", stored[name], value)
    return None


# ----------------------------------------------------------------------------- simulations
def _engine(config: Any) -> Any:
    from circman_kernel.simulation.engine import SimulationEngine

    return SimulationEngine(config)


def _simulation(store: Any, run: dict[str, Any], config: Any) -> tuple[Difference | None, str]:
    from circman_kernel.simulation.results import _long_frame

    seed = _seed(run)
    stored = store.trajectories(run["id"])
    params = dict(run["parameters"])
    steps = int(params.pop("steps"))
    engine = _engine(config)
    given = {k: v for k, v in params.items() if k in engine.parameter_names()}
    state = initial_state_from_trajectory(stored, params, config)
    result = engine.run_simulation(steps, state, given, seed=seed)
    diff = _parameter_difference(params, result.parameters)
    diff = diff or first_trajectory_difference(stored, _long_frame(result.trajectory[:, :, None]))
    diff = diff or _kpi_difference(run["kpis"], result.kpis())
    return diff, f"{steps} steps, seed {run['seed']}"


def _monte_carlo(store: Any, run: dict[str, Any], config: Any) -> tuple[Difference | None, str]:
    from circman_kernel.simulation.engine import UNCERTAIN_PARAMETERS

    seed = _seed(run)
    stored = store.trajectories(run["id"])
    params = dict(run["parameters"])
    steps, iterations = int(params.pop("steps")), int(params.pop("iterations"))
    uncertainty, chunk_size = float(params.pop("uncertainty")), int(params.pop("chunk_size"))
    engine = _engine(config)
    state = initial_state_from_trajectory(stored, params, config)
    # Parameters passed to a Monte Carlo run are spread as well, and the store keeps only
    # the values in effect: pass back those that differ from the configuration (a
    # parameter passed at its configured value, or a cycle time passed rather than taken
    # from the state, cannot be told apart and shows as a difference at step 1).
    defaults = engine.default_parameters()
    given = {
        k: v for k, v in params.items() if k in defaults and k != "cycle_time" and v != defaults[k]
    }
    given.update({k: params[k] for k in UNCERTAIN_PARAMETERS if k in params})
    if "status" in params:
        given["status"] = params["status"]
    result = engine.run_monte_carlo_simulation(
        steps, state, given, iterations, uncertainty, seed=seed, chunk_size=chunk_size
    )
    diff = _parameter_difference(params, result.parameters)
    diff = diff or first_trajectory_difference(stored, result.to_frame())
    means = {k: float(v) for k, v in result.kpis().mean().items()}
    diff = diff or _kpi_difference(run["kpis"], means)
    return diff, f"{iterations} iterations x {steps} steps, seed {run['seed']}"


def _sweep(store: Any, run: dict[str, Any], config: Any) -> tuple[Difference | None, str]:
    from circman_kernel.simulation.sweeps import evaluate

    params = run["parameters"]
    if "experiments" not in params or "levers" in params or "discovery" in run.get("tags", []):
        raise StoreError(
            f"run {run['id']} is a sweep of {', '.join(run.get('tags') or ['another kind'])}; "
            "only sweeps stored by simulation.evaluate keep what re-runs them"
        )
    experiments = pd.DataFrame(params["experiments"])
    experiments.attrs["method"] = params.get("method")
    outcomes = evaluate(experiments, config=_engine(config), steps=int(params["steps"]),
                        seed=_seed(run))  # fmt: skip
    keys = list(outcomes)
    n = len(experiments)
    long = pd.DataFrame(
        {
            "iteration": np.repeat(np.arange(n, dtype=np.int64), len(keys)),
            "step": np.full(n * len(keys), int(params["steps"]), dtype=np.int64),
            "variable": np.tile(np.array(keys, dtype=object), n),
            "value": np.column_stack([outcomes[k] for k in keys]).reshape(-1),
        }
    )
    diff = first_trajectory_difference(store.trajectories(run["id"]), long)
    return diff, f"{n} experiments x {params['steps']} steps, seed {run['seed']}"


# ----------------------------------------------------------------------------- optimisation, LCA
def _records(store: Any, table: str, run_id: str) -> pd.DataFrame:
    return store.query(f"SELECT * FROM {table} WHERE run_id = ?", [run_id])


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # as the optimisation record stores it
    return value


def _plain(value: Any) -> Any:
    """``value`` as it reads back from the stored JSON (tuples as lists, NaN as null)."""
    return json.loads(json.dumps(_jsonable(value)))


def _untimed(result: dict[str, Any]) -> dict[str, Any]:
    solver = {k: v for k, v in result.get("solver", {}).items() if k not in _UNTIMED}
    return {**result, "solver": solver}


def _optimization(store: Any, run: dict[str, Any], config: Any) -> tuple[Difference | None, str]:
    from circman_kernel.ai.model import ManufacturingModel
    from circman_kernel.ai.optimize import ProcessOptimizer

    rows = _records(store, "optimizations", run["id"])
    if rows.empty or "robust" in (run.get("tags") or []):
        raise StoreError(
            f"run {run['id']} has no optimisation record to re-run from (robust "
            "optimisations keep their ensemble, not the search)"
        )
    stored = json.loads(rows["results"].iloc[0])
    state = default_state(config)
    for key, value in stored["fixed"].items():
        if key in state["production_line"]:
            state["production_line"][key] = value
    optimizer = ProcessOptimizer(
        ManufacturingModel.default(config), config, initial_state=state, seed=_seed(run)
    )
    result = optimizer.optimize_detailed(
        stored["objective"], stored["initial_params"], stored["constraints"],
        fixed=stored["fixed"],
    )  # fmt: skip
    diff = first_difference(_untimed(stored), _untimed(_plain(result.to_dict())))
    return diff, f"objective {stored['objective']}, seed {run['seed']}"


def _lca(store: Any, run: dict[str, Any], config: Any) -> tuple[Difference | None, str]:
    from circman_kernel.lca.analyzer import LCAAnalyzer

    impact = LCAAnalyzer(config=config).perform_full_lca(**run["parameters"])
    rows = _records(store, "lca_results", run["id"])
    diff = None
    if not rows.empty:
        phases = ("manufacturing_impact", "use_phase_impact", "end_of_life_impact",
                  "recycling_benefit", "total_impact")  # fmt: skip
        stored = {p: float(rows[p].iloc[0]) for p in phases}
        diff = _kpi_difference(stored, {p: float(getattr(impact, p)) for p in phases})
    floats = {k: v for k, v in impact.to_dict().items() if isinstance(v, float)}
    diff = diff or _kpi_difference(run["kpis"], floats)
    return diff, f"batch {run.get('name') or '(unnamed)'}"


def _replay(store: Any, run: dict[str, Any], config: Any) -> tuple[Difference | None, str]:
    from circman_kernel.core.paths import data_dir
    from circman_kernel.store.run_store import RunStore
    from circman_kernel.twin.digital_twin import DigitalTwin
    from circman_kernel.twin.sources import CSVReplaySource
    from circman_kernel.twin.sync import Synchronizer

    source = str(run["parameters"].get("source", ""))
    path = data_dir() / source.removeprefix("csv:")
    if not source.startswith("csv:") or not path.is_file():
        raise StoreError(
            f"run {run['id']} replayed {source or 'an unnamed source'}; only CSV files in "
            f"{data_dir()} can be replayed again"
        )
    # the replay is recorded into a scratch store and compared reading by reading
    with RunStore(":memory:") as scratch:
        twin = DigitalTwin(config, store=scratch, name=run["parameters"].get("twin"))
        twin.initialize()
        sync = Synchronizer(twin, CSVReplaySource(path))
        sync.run_batch(record=True)
        twin.close()
        replayed = scratch.trajectories(sync.run_id)
    return first_trajectory_difference(store.trajectories(run["id"]), replayed), f"replayed {path}"


_RERUNNERS = {
    "replay": _replay,
    "simulation": _simulation,
    "scenario": _simulation,
    "monte_carlo": _monte_carlo,
    "sweep": _sweep,
    "optimization": _optimization,
    "lca": _lca,
}
for _kind, _fn in _RERUNNERS.items():
    reruns.register(_kind, _fn)
