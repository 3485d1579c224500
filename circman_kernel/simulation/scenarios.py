"""What-if scenarios over the process model, and runs of many parameter sets as columns.

:class:`Scenario` / :class:`ScenarioManager`: named parameter overrides with a
description, kept in the run store's ``scenarios`` table (in memory without a store), run
one by one or compared side by side (:meth:`ScenarioManager.compare_scenarios`).
:func:`run_columns_kpis` runs every row of a parameter table as one column of ONE
vectorised model run (chunked over an optional ``concurrent.futures.Executor``, seeds from
``SeedSequence.spawn``, so the KPIs do not depend on where the chunks ran), with the
manufacturing carbon beside the KPIs; comparisons and sweeps
(:mod:`~circman_kernel.simulation.sweeps`) both run on it.
"""

from __future__ import annotations

import importlib.util
import itertools
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.core.errors import ParameterError
from circman_kernel.simulation import process as pm
from circman_kernel.simulation.chunks import _map, as_seed_sequence
from circman_kernel.simulation.engine import SimulationEngine
from circman_kernel.simulation.overrides import split_parameters
from circman_kernel.simulation.recurrences import draw_noise, simulate
from circman_kernel.simulation.results import SimulationResult, trajectory_kpis

__all__ = ["COMPARE_KPIS", "Scenario", "ScenarioManager", "run_columns_kpis"]

MAX_NAME_LENGTH = 200
#: KPIs of a scenario comparison (``carbon_kg`` needs ``circman_kernel.lca.analyzer``).
COMPARE_KPIS = (
    "output_modules",
    "good_modules",
    "energy_kwh",
    "energy_per_module_kwh",
    "defect_rate",
    "mean_efficiency",
    "silicon_wafer_kg",
    "solar_glass_kg",
    "carbon_kg",
)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(
            f"scenario name must be a non-empty string, got {name!r}", name="name", value=name
        )
    if len(name) > MAX_NAME_LENGTH:
        raise ParameterError(
            f"scenario name is {len(name)} characters; at most {MAX_NAME_LENGTH}",
            name="name",
            value=name[:40] + "...",
        )
    return name


@dataclass(frozen=True)
class Scenario:
    """A named what-if: parameter overrides (see ``SimulationEngine.parameter_names``).

    ``parameters`` may also override the initial state, nested or by dotted path
    (``{"production_line.temperature": 25.5}``), as ``run_simulation`` accepts.
    """

    name: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.parameters, Mapping):
            raise ParameterError("scenario parameters must be a mapping", name="parameters")
        if not isinstance(self.description, str):
            raise ParameterError("scenario description must be a string", name="description")
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "parameters": dict(self.parameters),
            "description": self.description,
        }


# --------------------------------------------------------------------------- column runs


def _carbon_kg(kpis: Mapping[str, np.ndarray], config: Any) -> np.ndarray | None:
    """Return the manufacturing carbon [kg CO2-eq] per column, or None without the LCA module."""
    if importlib.util.find_spec("circman_kernel.lca.analyzer") is None:
        return None
    from circman_kernel.lca.analyzer import LCAAnalyzer

    analyzer = LCAAnalyzer(config.impact_factors if config is not None else None)
    # The impact is linear in its inputs: evaluate the unit responses once, then combine.
    names = ("silicon_wafer", "solar_glass")
    zero = {m: 0.0 for m in names}
    base = analyzer.calculate_manufacturing_impact(zero, 0.0)
    per_kwh = analyzer.calculate_manufacturing_impact(zero, 1.0) - base
    total = base + per_kwh * np.asarray(kpis["energy_kwh"], dtype=float)
    for m in names:
        per_kg = analyzer.calculate_manufacturing_impact({**zero, m: 1.0}, 0.0) - base
        total = total + per_kg * np.asarray(kpis[f"{m}_kg"], dtype=float)
    return total


def run_columns_kpis(
    engine: SimulationEngine,
    table: pd.DataFrame,
    *,
    steps: int,
    initial_state: Mapping[str, Any] | None = None,
    seed: Any = None,
    executor: Executor | None = None,
    chunk_size: int = 4096,
    common_noise: bool = False,
    progress: bool = False,
    x0: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Run every row of ``table`` (parameter overrides) as one column; return KPIs per row.

    Rows are validated first (a ParameterError names the bad column). Chunks of
    ``chunk_size`` rows get seeds from ``SeedSequence(seed).spawn``; with
    ``common_noise`` every row sees the same noise draws (fair what-if comparisons).
    ``x0`` (``(n_vars, len(table))``) gives each row its own initial state vector
    (scenarios that override the state); default: ``initial_state``'s for every row.
    """
    state, x_start, params = engine.resolve(initial_state, None)
    params.pop("status", None)
    columns: dict[str, Any] = {}
    if x0 is None:
        x0 = np.repeat(x_start[:, None], len(table), axis=1)
    running0 = x0[pm.RUNNING].copy()
    for name in table.columns:
        if name == "status":
            values = table[name].tolist()
            bad = [v for v in values if v not in ("running", "idle")]
            if bad:
                raise ParameterError(
                    f"parameter 'status' must be running or idle, got {bad[0]!r}", name="status"
                )
            running0 = np.array([1.0 if v == "running" else 0.0 for v in values])
            continue
        try:
            values = np.asarray(table[name], dtype=float)
        except (TypeError, ValueError):
            raise ParameterError(f"parameter {name!r} must be numeric", name=name) from None
        columns[name] = values
    pm.validate_parameters(columns)
    merged = {**params, **columns}
    pm.validate_parameters(merged)
    n = len(table)
    ss = as_seed_sequence(seed)
    bounds = [*range(0, n, chunk_size), n]
    tasks = []
    # Common random numbers: every chunk draws what a lone run with this seed draws (so a
    # compared scenario's row equals its own run_scenario); otherwise independent streams.
    seeds = [ss] * max(len(bounds) - 1, 1) if common_noise else ss.spawn(max(len(bounds) - 1, 1))
    for (lo, hi), child in zip(itertools.pairwise(bounds), seeds, strict=False):
        chunk = {
            k: (v[lo:hi] if isinstance(v, np.ndarray) and v.ndim else v) for k, v in merged.items()
        }
        x = x0[:, lo:hi].copy()
        x[pm.RUNNING] = running0[lo:hi]
        tasks.append(
            {
                "x0": x,
                "parameters": chunk,
                "steps": steps,
                "seed": child,
                "kpis_only": True,
                "common_noise": common_noise,
            }
        )
    outputs = _map(tasks, executor, progress, desc="sweep", worker=_kpi_task)
    kpis = {k: np.concatenate([o[k] for o in outputs]) for k in outputs[0]} if outputs else {}
    carbon = _carbon_kg(kpis, engine.config) if kpis else None
    if carbon is not None:
        kpis["carbon_kg"] = carbon
    return kpis


def _kpi_task(task: dict[str, Any]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(task["seed"])
    x0, params, steps = task["x0"], task["parameters"], task["steps"]
    n = 1 if task["common_noise"] else x0.shape[1]
    noise = draw_noise(rng, steps, n, params)
    if task["common_noise"]:
        noise = {
            k: np.broadcast_to(v, (*v.shape[:-1], x0.shape[1])).copy() for k, v in noise.items()
        }
    return trajectory_kpis(simulate(x0, params, steps, noise))


# --------------------------------------------------------------------------- scenario manager


class ScenarioManager:
    """Create, list, get, update, delete, run and compare named scenarios.

    Scenarios live in ``store``'s ``scenarios`` table when a store is given, otherwise in
    this object (a plain dict). Runs are stored with kind ``"scenario"``.
    """

    def __init__(self, config: Any = None, *, store: Any = None) -> None:
        self.engine = SimulationEngine(config)
        self.config = self.engine.config
        self.store = store
        self._memory: dict[str, Scenario] = {}

    def _validate(self, scenario: Scenario) -> None:
        self.engine.resolve(None, scenario.parameters)

    def create_scenario(
        self, name: str, parameters: Mapping[str, Any] | None = None, description: str = ""
    ) -> Scenario:
        """Validate and save a new scenario; an existing name raises ParameterError."""
        scenario = Scenario(name, parameters or {}, description)
        self._validate(scenario)
        if self._exists(name):
            raise ParameterError(
                f"scenario {name!r} already exists; use update_scenario to change it", name="name"
            )
        self._save(scenario, overwrite=False)
        return scenario

    def update_scenario(
        self,
        name: str,
        parameters: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> Scenario:
        """Replace a scenario's parameters and/or description; return the new scenario."""
        old = self.get_scenario(name)
        scenario = Scenario(
            name,
            old.parameters if parameters is None else parameters,
            old.description if description is None else description,
        )
        self._validate(scenario)
        self._save(scenario, overwrite=True)
        return scenario

    def _exists(self, name: str) -> bool:
        if self.store is not None:
            return self.store.get_scenario(name) is not None
        return name in self._memory

    def _save(self, scenario: Scenario, *, overwrite: bool) -> None:
        if self.store is not None:
            self.store.save_scenario(
                scenario.name,
                dict(scenario.parameters),
                scenario.description,
                overwrite=overwrite,
            )
        else:
            self._memory[scenario.name] = scenario

    def get_scenario(self, name: str) -> Scenario:
        """Return a scenario by name; ParameterError listing the known names if absent."""
        _check_name(name)
        if self.store is not None:
            row = self.store.get_scenario(name)
            if row is not None:
                return Scenario(row["name"], row["parameters"] or {}, row["description"] or "")
        elif name in self._memory:
            return self._memory[name]
        known = ", ".join(repr(n) for n in self.list_scenarios()["name"]) or "none"
        raise ParameterError(f"no scenario named {name!r}; known: {known}", name="name", value=name)

    def list_scenarios(self) -> pd.DataFrame:
        """Return the scenarios: name, description, parameters (sorted by name)."""
        if self.store is not None:
            frame = self.store.list_scenarios()
            return frame[["name", "description", "parameters"]].reset_index(drop=True)
        rows = [self._memory[k].to_dict() for k in sorted(self._memory)]
        return pd.DataFrame(rows, columns=["name", "description", "parameters"])

    def delete_scenario(self, name: str) -> bool:
        """Delete a scenario; return False if there was none of that name."""
        _check_name(name)
        if self.store is not None:
            return bool(self.store.delete_scenario(name))
        return self._memory.pop(name, None) is not None

    def _resolve(self, item: str | Scenario) -> Scenario:
        return item if isinstance(item, Scenario) else self.get_scenario(item)

    def run_scenario(
        self,
        scenario: str | Scenario,
        steps: int | None = None,
        initial_state: Mapping[str, Any] | None = None,
        *,
        seed: Any = None,
    ) -> SimulationResult:
        """Simulate one scenario; stored with kind ``"scenario"`` when there is a store."""
        sc = self._resolve(scenario)
        start = time.perf_counter()
        result = self.engine.run_simulation(steps, initial_state, dict(sc.parameters), seed=seed)
        if self.store is not None:
            from circman_kernel.simulation.results import _long_frame

            result.run_id = self.store.save_run(
                "scenario",
                name=sc.name,
                parameters={**result.parameters, "steps": len(result) - 1},
                seed=result.seed,
                config_hash=self.config.config_hash,
                duration_s=time.perf_counter() - start,
                kpis=result.kpis(),
                trajectories=_long_frame(result.trajectory[:, :, None]),
            )
        return result

    def compare_scenarios(
        self,
        scenarios: Sequence[str | Scenario],
        baseline: str | Scenario | None = None,
        *,
        steps: int | None = None,
        initial_state: Mapping[str, Any] | None = None,
        seed: Any = 0,
    ) -> pd.DataFrame:
        """Return a KPI table (one row per scenario) with differences against a baseline.

        All scenarios run as columns of one model run with common random numbers, so the
        differences come from the parameters, not the noise. A scenario's row does not
        depend on the scenarios it is compared with: what it does not override comes from
        ``initial_state`` and the configuration, as in :meth:`run_scenario`.

        Columns: each KPI of :data:`COMPARE_KPIS`, then ``<kpi>_diff`` (scenario -
        baseline) and ``<kpi>_pct`` (100 * diff / baseline). The baseline defaults to the
        first scenario; a baseline not in the list is added as the first row.
        """
        items = [self._resolve(s) for s in scenarios]
        if not items:
            raise ParameterError("compare_scenarios needs at least one scenario", name="scenarios")
        base = items[0] if baseline is None else self._resolve(baseline)
        if base.name not in [s.name for s in items]:
            items.insert(0, base)
        names = [s.name for s in items]
        if len(set(names)) != len(names):
            raise ParameterError(f"scenario names repeat: {names}", name="scenarios")
        # Each scenario resolved as a lone run of it would be: its model parameters and,
        # when it overrides the state (nested or dotted paths), its own initial state.
        resolved = [self.engine.resolve(initial_state, sc.parameters) for sc in items]
        table = pd.DataFrame([split_parameters(sc.parameters)[0] for sc in items])
        steps = (
            steps
            if steps is not None
            else self.config.digital_twin.SIMULATION_PARAMETERS.default_simulation_steps
        )
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ParameterError(f"steps must be an int >= 0, got {steps!r}", name="steps")
        # A parameter one scenario sets and another leaves out must take, in the other,
        # the value a lone run of it would: the one resolved from initial_state (e.g.
        # its cycle_time and status), not the configuration's default.
        filled = table.drop(columns=["status"], errors="ignore")  # in x0's running row
        for col in filled.columns:
            filled[col] = [params[col] for _, _, params in resolved]
        kpis = run_columns_kpis(
            self.engine, filled, steps=steps, initial_state=initial_state, seed=seed,
            common_noise=True, x0=np.column_stack([x for _, x, _ in resolved]),
        )  # fmt: skip
        frame = pd.DataFrame(
            {k: kpis[k] for k in COMPARE_KPIS if k in kpis}, index=pd.Index(names, name="scenario")
        )
        ref = frame.loc[base.name]
        for col in list(frame.columns):
            frame[f"{col}_diff"] = frame[col] - ref[col]
            with np.errstate(divide="ignore", invalid="ignore"):
                frame[f"{col}_pct"] = 100.0 * frame[f"{col}_diff"] / ref[col]
        frame.attrs["baseline"] = base.name
        return frame
