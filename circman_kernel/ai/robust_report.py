"""What a robust optimisation reports: the ensemble comparison, the honesty check, the run.

Helpers of :func:`~circman_kernel.ai.robust.robust_optimize`: the process model as an
ensemble model (:func:`model_factory`), the nominal scenario, the table comparing the
robust and the nominal optimum across the ensemble (:func:`comparison`), the honesty
check on fresh ensembles (:func:`robust_honesty`) and the stored run (:func:`save_robust`).

The honesty check is :func:`~circman_kernel.ai.honesty.honesty_check` with the optimiser's
prediction replaced by the optimisation ensemble: its "start" is the nominal optimum, its
"optimum" the robust one, its objective the first robustness metric (signed so that lower
is better), and its reference simulator evaluates both on ``honesty_iterations`` fresh
ensembles (new scenario draws and new noise). ``"reproduced"`` then means the robust choice
beats the nominal one out of sample by more than ``honesty_sigma`` standard errors, with
the constraints holding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.ai.robust_metrics import (
    Robustness,
    evaluate_metrics,
    merge_best,
    scenario_best,
)

__all__ = ["comparison", "model_factory", "robust_honesty", "save_robust"]


def model_factory(
    model: Any, *, config: Any, steps: int, initial_state: Mapping[str, Any] | None
) -> Callable[[Any], Any]:
    """Return ``seed -> ensemble model``: the process model with that noise seed, or ``model``."""
    if model is not None:
        if not callable(model):
            from circman_kernel.core.errors import ParameterError

            raise ParameterError("model must be callable(policies, scenarios)", name="model")
        return lambda seed: model
    from circman_kernel.simulation.engine import SimulationEngine
    from circman_kernel.simulation.experiments import run_ensemble

    engine = config if isinstance(config, SimulationEngine) else SimulationEngine(config)
    return lambda seed: partial(run_ensemble, config=engine, steps=steps, seed=seed,
                                initial_state=initial_state)  # fmt: skip


def nominal_of(
    uncertainties: Sequence[Any] | None, scenarios: pd.DataFrame, config: Any
) -> pd.DataFrame:
    """Return the nominal scenario: the uncertainties' nominal values, else the scenarios' medians."""
    if uncertainties:
        from circman_kernel.simulation.experiments import nominal_scenario

        return nominal_scenario(uncertainties, config)
    row = {c: (scenarios[c].median() if pd.api.types.is_numeric_dtype(scenarios[c])
               else scenarios[c].mode().iloc[0]) for c in scenarios.columns}  # fmt: skip
    return pd.DataFrame([row])


def comparison(
    metrics: Sequence[Robustness],
    per_scenario: Mapping[str, np.ndarray],
    best: Mapping[str, np.ndarray],
) -> pd.DataFrame:
    """Return the robust (row 0) and the nominal (row 1) optimum's metrics across the ensemble.

    Rows: the objectives and constraints, then mean, P10 and P90 (and regret where a
    reference exists) of every KPI they use; columns ``robust``, ``nominal`` and ``better``.
    """
    rows: dict[str, Robustness] = {m.label: m for m in metrics}
    for kpi in dict.fromkeys(m.kpi for m in metrics):
        sense = next(m.sense for m in metrics if m.kpi == kpi)
        for name in ("mean", "p10", "p90", *(("regret",) if kpi in best else ())):
            extra = Robustness(name, kpi, sense=sense)
            rows.setdefault(extra.label, extra)
    values = evaluate_metrics(list(rows.values()), dict(per_scenario), dict(best))
    frame = pd.DataFrame(
        values.T, index=pd.Index(list(rows), name="metric"), columns=["robust", "nominal"]
    )
    signed = np.array([m.minimised(values[:, i]) for i, m in enumerate(rows.values())])
    frame["better"] = np.where(np.isclose(signed[:, 0], signed[:, 1]), "tie",
                               np.where(signed[:, 0] < signed[:, 1], "robust", "nominal"))  # fmt: skip
    return frame


def convergence_frame(
    log: list[np.ndarray], log_nominal: list[np.ndarray], objectives: Sequence[Robustness]
) -> pd.DataFrame:
    """Return the best value of each objective per generation (iteration 0 robust, 1 nominal)."""
    rows = []
    for it, entries in enumerate((log, log_nominal)):
        for gen, best in enumerate(entries, start=1):
            for m, f in zip(objectives, best, strict=True):
                rows.append((it, gen, m.label, float(-f if m.higher_is_better else f)))
    return pd.DataFrame(rows, columns=["iteration", "step", "variable", "value"]).astype(
        {"iteration": np.int64, "step": np.int64, "variable": "str"}
    )


@dataclass(frozen=True)
class _Checker:
    """What :func:`~circman_kernel.ai.honesty.honesty_check` reads from an optimiser."""

    simulator: Callable[..., pd.DataFrame]
    seed: int
    initial_state: Mapping[str, Any] | None
    config: Any

    def _cfg(self) -> Any:
        return self.config


def _config(config: Any) -> Any:
    from circman_kernel.core.config import load_config
    from circman_kernel.simulation.engine import SimulationEngine

    if isinstance(config, SimulationEngine):
        return config.config
    return config if config is not None else load_config()


def robust_honesty(
    result: Any, timed: Any, fresh_model: Any, uncertainties: Sequence[Any] | None, seed: Any,
    *, reference: pd.DataFrame | None, config: Any, initial_state: Mapping[str, Any] | None,
) -> Any:  # fmt: skip
    """Return the honesty check of the robust against the nominal optimum on fresh ensembles."""
    from circman_kernel.ai.honesty import honesty_check
    from circman_kernel.ai.problem import OptimizationResult, _Problem
    from circman_kernel.simulation.levers import sample_scenarios

    first, cons = result.objectives[0], list(result.constraints)
    metrics = [first, *cons]
    names, n_s = list(result.levers), len(result.scenarios)
    rng_seed = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key)

    def simulator(frame: pd.DataFrame, *, seed: int, iterations: int) -> pd.DataFrame:
        if uncertainties:
            fresh = sample_scenarios(uncertainties, iterations * n_s, seed=rng_seed)
        else:
            pick = np.random.default_rng(rng_seed).integers(n_s, size=iterations * n_s)
            fresh = result.scenarios.iloc[pick]
        fresh = fresh.reset_index(drop=True)
        policies = frame[names].reset_index(drop=True)
        kpis = timed(policies, fresh, model=fresh_model)
        best = scenario_best(metrics, kpis)
        if reference is not None and best:
            best = merge_best(
                best, scenario_best(metrics, timed(reference, fresh, model=fresh_model)), metrics
            )
        out = []
        for i in range(iterations):
            cols = slice(i * n_s, (i + 1) * n_s)
            vals = evaluate_metrics(metrics, {k: v[:, cols] for k, v in kpis.items()},
                                    {k: v[cols] for k, v in best.items()})  # fmt: skip
            for r in range(len(policies)):
                row = {
                    "row": r,
                    "iteration": i,
                    "f0": float(first.minimised(vals[r : r + 1, 0])[0]),
                }
                row.update({f"c{j}": float(vals[r, 1 + j]) for j in range(len(cons))})
                out.append(row)
        return pd.DataFrame(out)

    bounds = {f"c{j}": ((m.bound, math.inf) if m.bound_op == ">=" else (-math.inf, m.bound))
              for j, m in enumerate(cons)}  # fmt: skip
    comp = result.comparison
    before = {"f0": float(first.minimised(np.array([comp.loc[first.label, "nominal"]]))[0])}
    after = {"f0": float(first.minimised(np.array([comp.loc[first.label, "robust"]]))[0])}
    for j, m in enumerate(cons):
        before[f"c{j}"], after[f"c{j}"] = (
            float(comp.loc[m.label, "nominal"]),
            float(comp.loc[m.label, "robust"]),
        )
    lower = np.array([result.bounds[n][0] for n in names])
    upper = np.array([result.bounds[n][1] for n in names])
    problem = _Problem(
        objective="weighted", variables=tuple(names), lower=lower, upper=upper,
        start=np.array([result.nominal[n] for n in names]), fixed={}, outcome_bounds=bounds,
        weights={"f0": 1.0}, constraints={m.label: m.bound for m in cons},
    )  # fmt: skip
    opt = OptimizationResult(
        objective=f"robust {first.label}", params=dict(result.chosen),
        initial_params=dict(result.nominal), fixed={}, bounds=dict(result.bounds),
        outcome_constraints=bounds, predicted_before=before, predicted_after=after,
        objective_before=before["f0"], objective_after=after["f0"], out_of_training_range=(),
        solver={"method": "NSGA-II", "reference": "optimisation ensemble"},
    )  # fmt: skip
    cfg = _config(config)
    checker = _Checker(simulator, int(rng_seed.generate_state(1, np.uint32)[0]), initial_state, cfg)
    return honesty_check(checker, problem, opt)


def _plain(obj: Any) -> Any:
    """Return ``obj`` as JSON-ready values (NaN and infinities become None)."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [_plain(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer | np.bool_):
        return obj.item()
    return obj


def save_robust(
    store: Any, result: Any, *, name: str | None, seed: int, steps: int, population: int,
    generations: int, config: Any, custom_model: bool,
) -> str:  # fmt: skip
    """Store a robust optimisation as one run; return its id."""
    comp = result.comparison
    kpis = {f"{col}: {label}": float(comp.loc[label, col])
            for label in comp.index for col in ("robust", "nominal")
            if math.isfinite(float(comp.loc[label, col]))}  # fmt: skip
    kpis["model_share"] = float(result.timing.get("model_share", math.nan))
    honesty = None if result.honesty is None else result.honesty.to_dict()
    if honesty is not None and math.isfinite(result.honesty.simulated_improvement):
        kpis["simulated_improvement"] = float(result.honesty.simulated_improvement)
    kpis = {k: v for k, v in kpis.items() if math.isfinite(v)}
    results = {
        "chosen": result.chosen, "nominal": result.nominal,
        "front": result.front.to_dict("list"), "nominal_front": result.nominal_front.to_dict("list"),
        "comparison": comp.reset_index().to_dict("list"), "honesty": honesty,
        "timing": result.timing, "verdict": result.verdict,
    }  # fmt: skip
    config_hash = None if custom_model else _config(config).config_hash
    improvement = kpis.get("simulated_improvement")
    return store.save_run(
        "optimization",
        name=name or f"robust {result.objectives[0].label}",
        tags=("robust", "nsga2", result.verdict),
        parameters=_plain({
            "levers": result.bounds, "objectives": [m.label for m in result.objectives],
            "constraints": [m.label for m in result.constraints],
            "n_scenarios": len(result.scenarios), "population": population,
            "generations": generations, "steps": steps, "chosen": result.chosen,
        }),
        seed=int(seed) if isinstance(seed, int | np.integer) else None,
        config_hash=config_hash,
        duration_s=float(result.timing.get("total_s", 0.0)),
        kpis=kpis,
        trajectories=result.convergence,
        records={"optimizations": [{
            "parameters": _plain(result.chosen),
            "constraints": [m.label for m in result.constraints],
            "results": _plain(results), "improvement": improvement,
        }]},
    )  # fmt: skip
