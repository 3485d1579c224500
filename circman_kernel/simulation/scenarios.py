"""What-if scenarios and parameter sweeps over the process model.

* :class:`Scenario` / :class:`ScenarioManager`: named parameter overrides with a
  description, kept in the run store's ``scenarios`` table (in memory without a store),
  run one by one or compared side by side (:meth:`ScenarioManager.compare_scenarios`).
* Sweeps, with the data shapes of the EMA Workbench: :func:`sample` returns the
  experiments as a DataFrame (one row per experiment, one column per parameter);
  :func:`evaluate` returns the outcomes as a dict of arrays aligned on its index;
  :func:`analyse` ranks the parameters by global sensitivity (SALib). All experiments of
  a sweep are columns of ONE vectorised model run (chunked over an optional
  ``concurrent.futures.Executor``, seeds from ``SeedSequence.spawn``, so the outcomes do
  not depend on where the chunks ran).

>>> exp = sample({"cycle_time": (20.0, 40.0), "target_temperature": (20.0, 30.0)}, 8, seed=1)
>>> out = evaluate(exp, steps=24, seed=1)
>>> sorted(out)[:3], out["output_modules"].shape
(['carbon_kg', 'defect_rate', 'energy_kwh'], (8,))
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import itertools
import logging
import math
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
from circman_kernel.simulation.engine import (
    SimulationEngine,
    SimulationResult,
    _map,
    as_seed_sequence,
    trajectory_kpis,
)

__all__ = [
    "COMPARE_KPIS",
    "Scenario",
    "ScenarioManager",
    "analyse",
    "evaluate",
    "run_columns_kpis",
    "sample",
]

log = logging.getLogger("circman.scenarios")

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
    """A named what-if: parameter overrides (see ``SimulationEngine.parameter_names``)."""

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
) -> dict[str, np.ndarray]:
    """Run every row of ``table`` (parameter overrides) as one column; return KPIs per row.

    Rows are validated first (a ParameterError names the bad column). Chunks of
    ``chunk_size`` rows get seeds from ``SeedSequence(seed).spawn``; with
    ``common_noise`` every row sees the same noise draws (fair what-if comparisons).
    """
    state, x0, params = engine.resolve(initial_state, None)
    params.pop("status", None)
    columns: dict[str, Any] = {}
    running0 = np.full(len(table), x0[pm.RUNNING])
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
        x = np.repeat(x0[:, None], hi - lo, axis=1)
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
    noise = pm.draw_noise(rng, steps, n, params)
    if task["common_noise"]:
        noise = {
            k: np.broadcast_to(v, (*v.shape[:-1], x0.shape[1])).copy() for k, v in noise.items()
        }
    return trajectory_kpis(pm.simulate(x0, params, steps, noise))


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
            from circman_kernel.simulation.engine import _long_frame

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
        for sc in items:
            self._validate(sc)
        table = pd.DataFrame([dict(sc.parameters) for sc in items])
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
        filled = table.copy()
        _, x0, defaults = self.engine.resolve(initial_state, None)
        status0 = "running" if x0[pm.RUNNING] > 0.5 else "idle"
        for col in filled.columns:
            if col == "status":
                filled[col] = [v if isinstance(v, str) else status0 for v in filled[col]]
            else:
                filled[col] = filled[col].astype(float).fillna(defaults[col])
        kpis = run_columns_kpis(
            self.engine, filled, steps=steps, initial_state=initial_state, seed=seed,
            common_noise=True,
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


# --------------------------------------------------------------------------- sweeps


def _space(space: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    if not isinstance(space, Mapping) or not space:
        raise ParameterError("space must be a non-empty mapping name -> (low, high)", name="space")
    out = {}
    for name, bounds in space.items():
        if name not in pm.PARAMETERS:
            raise ParameterError(
                f"unknown parameter {name!r}; valid names: {', '.join(sorted(pm.PARAMETERS))}",
                name=name,
            )
        try:
            lo, hi = (float(b) for b in bounds)
        except (TypeError, ValueError):
            raise ParameterError(
                f"{name}: expected (low, high), got {bounds!r}", name=name
            ) from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ParameterError(f"{name}: need finite low <= high, got {bounds!r}", name=name)
        pm.validate_parameters({name: np.array([lo, hi])})
        out[name] = (lo, hi)
    return out


def sample(
    space: Mapping[str, Any],
    n: int,
    *,
    method: str = "lhs",
    seed: Any = None,
) -> pd.DataFrame:
    """Return experiments: one row per point of the parameter ``space``, one column per name.

    Parameters
    ----------
    space : mapping
        ``name -> (low, high)`` over :data:`circman_kernel.simulation.process.PARAMETERS`.
    n : int
        Points for ``"lhs"`` / ``"sobol"`` (``scipy.stats.qmc``; Sobol wants a power of 2),
        levels per parameter for ``"full_factorial"`` (``n ** len(space)`` rows), base
        samples for ``"saltelli"`` (SALib's Sobol-index design, ``n * (2 d + 2)`` rows).
    method : {"lhs", "sobol", "full_factorial", "saltelli"}
    seed : int, Generator or None

    The frame's ``attrs`` keep ``method``, ``space`` and ``seed`` for :func:`analyse`.
    """
    bounds = _space(space)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ParameterError(f"n must be an int >= 1, got {n!r}", name="n", value=n)
    names = list(bounds)
    lo = np.array([bounds[k][0] for k in names])
    hi = np.array([bounds[k][1] for k in names])
    ss = as_seed_sequence(seed)
    seed_int = int(ss.generate_state(1, np.uint32)[0])
    if method in ("lhs", "sobol"):
        from scipy.stats import qmc

        rng = np.random.default_rng(ss)
        engine = (
            qmc.LatinHypercube(d=len(names), rng=rng)
            if method == "lhs"
            else qmc.Sobol(d=len(names), rng=rng)
        )
        unit = engine.random(n)
        values = qmc.scale(unit, lo, hi) if np.all(hi > lo) else lo + unit * (hi - lo)
    elif method == "full_factorial":
        levels = [np.linspace(a, b, n) for a, b in zip(lo, hi, strict=True)]
        values = np.array(list(itertools.product(*levels)), dtype=float)
    elif method == "saltelli":
        from SALib.sample import sobol as salib_sobol

        problem = {
            "num_vars": len(names),
            "names": names,
            "bounds": [list(b) for b in bounds.values()],
        }
        values = salib_sobol.sample(problem, n, calc_second_order=False, seed=seed_int)
    else:
        raise ParameterError(
            f"method must be lhs, sobol, full_factorial or saltelli, got {method!r}",
            name="method",
            value=method,
        )
    frame = pd.DataFrame(values, columns=names)
    frame.index.name = "experiment"
    frame.attrs.update(method=method, space=bounds, seed=seed_int)
    return frame


def evaluate(
    experiments: pd.DataFrame,
    *,
    config: Any = None,
    steps: int = 200,
    initial_state: Mapping[str, Any] | None = None,
    seed: Any = None,
    executor: Executor | None = None,
    chunk_size: int = 4096,
    progress: bool = False,
    store: Any = None,
    name: str | None = None,
) -> dict[str, np.ndarray]:
    """Return the outcomes of every experiment: KPI name -> array aligned on the index.

    All experiments are columns of one vectorised model run (chunks of ``chunk_size``
    columns on ``executor`` when given; same outcomes for the same ``seed`` whatever the
    executor). With ``store``, the sweep is saved as one run of kind ``"sweep"`` whose
    KPIs are the outcome means and whose trajectories hold one row per experiment and
    outcome (``iteration`` = experiment, ``step`` = ``steps``).
    """
    if not isinstance(experiments, pd.DataFrame) or experiments.empty:
        raise ParameterError("experiments must be a non-empty DataFrame", name="experiments")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ParameterError(f"steps must be an int >= 0, got {steps!r}", name="steps", value=steps)
    start = time.perf_counter()
    engine = config if isinstance(config, SimulationEngine) else SimulationEngine(config)
    ss = as_seed_sequence(seed)
    outcomes = run_columns_kpis(
        engine, experiments, steps=steps, initial_state=initial_state, seed=ss,
        executor=executor, chunk_size=chunk_size, progress=progress,
    )  # fmt: skip
    if store is not None:
        n = len(experiments)
        keys = list(outcomes)
        long = pd.DataFrame(
            {
                "iteration": np.repeat(np.arange(n, dtype=np.int64), len(keys)),
                "step": np.full(n * len(keys), steps, dtype=np.int64),
                "variable": pd.array(np.tile(np.array(keys, dtype=object), n), dtype="str"),
                "value": np.column_stack([outcomes[k] for k in keys]).reshape(-1),
            }
        )
        store.save_run(
            "sweep",
            name=name,
            parameters={"steps": steps, "experiments": experiments.reset_index(drop=True).to_dict("list"),
                        "method": experiments.attrs.get("method")},
            seed=int(ss.entropy) if isinstance(ss.entropy, int) and ss.entropy < 2**63 else None,
            config_hash=engine.config.config_hash,
            duration_s=time.perf_counter() - start,
            kpis={k: float(np.nanmean(v)) for k, v in outcomes.items()},
            trajectories=long,
        )  # fmt: skip
    return outcomes


def analyse(
    experiments: pd.DataFrame,
    outcomes: Mapping[str, np.ndarray],
    kpi: str = "output_modules",
    *,
    method: str | None = None,
    seed: int = 0,
    num_resamples: int = 10,
) -> pd.DataFrame:
    """Return a global sensitivity ranking of the swept parameters on ``kpi`` (SALib).

    ``method`` defaults to ``"sobol"`` for a ``"saltelli"`` design (first-order ``S1``
    and total ``ST`` Sobol indices, ranked by ``ST``) and to ``"rbd_fast"`` for any other
    sample, e.g. LHS (first-order ``S1`` by RBD-FAST, ranked by it, plus the PAWN median
    as a moment-free check). ``"delta"`` (Borgonovo, ``num_resamples`` bootstrap rounds)
    is slower. Rows sorted by importance, with a ``rank`` column (1 = most influential).
    """
    if kpi not in outcomes:
        raise ParameterError(f"unknown outcome {kpi!r}; known: {', '.join(outcomes)}", name="kpi")
    y = np.asarray(outcomes[kpi], dtype=float)
    if y.shape[0] != len(experiments):
        raise ParameterError("outcomes are not aligned on the experiments", name="outcomes")
    if not np.isfinite(y).all():
        raise ParameterError(f"outcome {kpi!r} has NaN/inf values; pick another KPI", name="kpi")
    space = experiments.attrs.get("space") or {
        c: (float(experiments[c].min()), float(experiments[c].max())) for c in experiments.columns
    }
    names = list(experiments.columns)
    problem = {"num_vars": len(names), "names": names, "bounds": [list(space[c]) for c in names]}
    method = method or ("sobol" if experiments.attrs.get("method") == "saltelli" else "rbd_fast")
    if method == "sobol":
        from SALib.analyze import sobol

        res = sobol.analyze(problem, y, calc_second_order=False, seed=seed)
        frame = pd.DataFrame({"S1": res["S1"], "S1_conf": res["S1_conf"], "ST": res["ST"],
                              "ST_conf": res["ST_conf"]}, index=pd.Index(names, name="parameter"))  # fmt: skip
        key = "ST"
    elif method == "rbd_fast":
        from SALib.analyze import pawn, rbd_fast

        x = experiments.to_numpy(dtype=float)
        res = rbd_fast.analyze(problem, x, y, seed=seed)
        frame = pd.DataFrame(
            {"S1": res["S1"], "S1_conf": res["S1_conf"],
             "pawn_median": pawn.analyze(problem, x, y, seed=seed)["median"]},
            index=pd.Index(names, name="parameter"),
        )  # fmt: skip
        key = "S1"
    elif method == "delta":
        from SALib.analyze import delta

        chatter = io.StringIO()  # SALib prints its binning notes
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            res = delta.analyze(
                problem,
                experiments.to_numpy(dtype=float),
                y,
                num_resamples=num_resamples,
                seed=seed,
            )
        for line in chatter.getvalue().splitlines():
            log.info("SALib delta: %s", line)
        d = "delta" if "delta" in res else "delta_raw"  # SALib >= 1.5 splits raw/balanced
        frame = pd.DataFrame(
            {
                "delta": res[d],
                "delta_conf": res[f"{d}_conf"],
                "S1": res["S1"],
                "S1_conf": res["S1_conf"],
            },
            index=pd.Index(names, name="parameter"),
        )
        key = "S1"
    else:
        raise ParameterError(
            f"method must be sobol, rbd_fast or delta, got {method!r}", name="method", value=method
        )
    frame = frame.sort_values(key, ascending=False)
    frame["rank"] = np.arange(1, len(frame) + 1)
    frame.attrs.update(kpi=kpi, method=method)
    return frame
