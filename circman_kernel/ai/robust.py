"""Robust optimisation: lever settings that hold up across an ensemble of uncertain futures.

:func:`robust_optimize` searches the levers with NSGA-II (pymoo) for the best trade-off of
robustness metrics (:mod:`~circman_kernel.ai.robust_metrics`: mean, percentiles, regret,
satisficing share) over ``n_scenarios`` scenarios drawn from the uncertainties, under
constraints on such metrics. Every generation's whole population is evaluated in all
scenarios as columns of one vectorised model run
(:func:`~circman_kernel.simulation.experiments.run_ensemble`), with the same noise per
scenario for every policy. The same search at the nominal scenario alone gives the
*nominal* optimum; both chosen points (the best of each front on the first objective) are
then compared across the ensemble (:attr:`RobustResult.comparison`), the honesty check
re-runs them on fresh ensembles (:mod:`~circman_kernel.ai.robust_report`), and the whole
optimisation is stored as a run of kind ``"optimization"`` tagged ``robust``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.ai.robust_metrics import (
    Robustness,
    evaluate_metrics,
    merge_best,
    parse_metric,
    scenario_best,
)
from circman_kernel.core.errors import OptimizationError, ParameterError

__all__ = ["RobustResult", "robust_optimize"]

#: ``model(policies, scenarios) -> {kpi: (n_policies, n_scenarios) array}``.
EnsembleModel = Callable[[pd.DataFrame, pd.DataFrame], Mapping[str, np.ndarray]]


@dataclass
class RobustResult:
    """The robust and the nominal optimum, and how each fares across the ensemble."""

    levers: tuple[str, ...]
    bounds: dict[str, tuple[float, float]]
    objectives: tuple[Robustness, ...]
    constraints: tuple[Robustness, ...]
    front: pd.DataFrame
    nominal_front: pd.DataFrame
    chosen: dict[str, float]
    nominal: dict[str, float]
    comparison: pd.DataFrame
    per_scenario: dict[str, np.ndarray] = field(repr=False)
    scenarios: pd.DataFrame = field(repr=False)
    convergence: pd.DataFrame = field(repr=False)
    timing: dict[str, float] = field(default_factory=dict)
    honesty: Any = None
    run_id: str | None = None

    @property
    def verdict(self) -> str:
        return "not checked" if self.honesty is None else self.honesty.verdict


class _Timed:
    """The ensemble model, counting its calls, columns and the time spent in it."""

    def __init__(self, model: EnsembleModel) -> None:
        self.model, self.seconds, self.calls, self.columns = model, 0.0, 0, 0

    def __call__(
        self, policies: pd.DataFrame, scenarios: pd.DataFrame, model: EnsembleModel | None = None
    ) -> dict[str, np.ndarray]:
        t = time.perf_counter()
        raw = (model or self.model)(policies, scenarios)
        out = {k: np.asarray(v, dtype=float) for k, v in raw.items()}
        self.seconds += time.perf_counter() - t
        self.calls += 1
        self.columns += len(policies) * len(scenarios)
        for k, v in out.items():
            if v.shape != (len(policies), len(scenarios)):
                raise ParameterError(f"the model's {k!r} has shape {v.shape}, expected "
                                     f"{(len(policies), len(scenarios))}", name="model")  # fmt: skip
        return out


def _nsga2(
    model: _Timed, names: list[str], lower: np.ndarray, upper: np.ndarray,
    scenarios: pd.DataFrame, objectives: list[Robustness], constraints: list[Robustness],
    best: dict[str, np.ndarray], population: int, generations: int, seed: int,
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:  # fmt: skip
    """Return (front levers, front minimised objectives, best objectives per generation)."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.callback import Callback
    from pymoo.core.problem import Problem
    from pymoo.optimize import minimize

    metrics = [*objectives, *constraints]

    class _Ensemble(Problem):
        def __init__(self) -> None:
            super().__init__(n_var=len(names), n_obj=len(objectives),
                             n_ieq_constr=len(constraints), xl=lower, xu=upper)  # fmt: skip

        def _evaluate(self, X: np.ndarray, out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
            values = evaluate_metrics(
                metrics, model(pd.DataFrame(X, columns=names), scenarios), best
            )
            F = np.column_stack([m.minimised(values[:, i]) for i, m in enumerate(objectives)])
            # a metric that cannot be computed (no output at all) ranks last
            out["F"] = np.where(np.isfinite(F), F, 1e30)
            if constraints:
                G = np.column_stack([m.violation(values[:, len(objectives) + i])
                                     for i, m in enumerate(constraints)])  # fmt: skip
                out["G"] = np.where(np.isfinite(G), G, 1e30)

    class _Log(Callback):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[np.ndarray] = []

        def notify(self, algorithm: Any) -> None:
            self.rows.append(algorithm.pop.get("F").min(axis=0))

    log = _Log()
    res = minimize(_Ensemble(), NSGA2(pop_size=population), ("n_gen", generations),
                   seed=seed, callback=log, verbose=False)  # fmt: skip
    if res.X is None:
        raise OptimizationError(
            "no lever setting met the constraints in the ensemble: loosen a constraint or "
            "widen the levers' ranges"
        )
    return np.atleast_2d(res.X), np.atleast_2d(res.F), log.rows


def _pick(F: np.ndarray) -> int:
    """The front's best point on the first objective (the sum of the others breaks ties)."""
    return int(np.lexsort((F[:, 1:].sum(axis=1), F[:, 0]))[0])


def _front(
    X: np.ndarray, F: np.ndarray, names: list[str], objectives: list[Robustness]
) -> pd.DataFrame:
    frame = pd.DataFrame(X, columns=names)
    for i, m in enumerate(objectives):
        frame[m.label] = -F[:, i] if m.higher_is_better else F[:, i]
    return frame.sort_values(objectives[0].label, ascending=not objectives[0].higher_is_better,
                             ignore_index=True)  # fmt: skip


def robust_optimize(
    levers: Sequence[Any],
    uncertainties: Sequence[Any] | pd.DataFrame,
    *,
    objectives: Sequence[str | Robustness] = ("p10(good_modules)",),
    constraints: Sequence[str | Robustness] = (),
    n_scenarios: int = 64,
    nominal: pd.DataFrame | None = None,
    population: int = 64,
    generations: int = 30,
    steps: int = 200,
    seed: int = 0,
    config: Any = None,
    initial_state: Mapping[str, Any] | None = None,
    model: EnsembleModel | None = None,
    reference_policies: int = 64,
    honesty: bool = True,
    store: Any = None,
    name: str | None = None,
) -> RobustResult:
    """Return the robust and the nominal optimum of the levers and their ensemble performance.

    Parameters
    ----------
    levers : sequence of Lever
        The decisions, each with a range ``(low, high)``.
    uncertainties : sequence of Uncertainty, or DataFrame
        Drawn (Latin hypercube) into ``n_scenarios`` scenarios, or the scenarios themselves.
    objectives, constraints : sequence of str or Robustness
        E.g. ``"p10(good_modules)"``, ``"mean(energy_per_module_kwh)"``,
        ``"regret(good_modules)"``; constraints with a bound, e.g.
        ``"satisficing(defect_rate <= 0.05) >= 0.9"``. The first objective picks the
        reported point of each front.
    nominal : DataFrame, optional
        The one-row nominal scenario (default: every uncertainty at its nominal value).
    population, generations : int
        NSGA-II's population size and number of generations.
    steps, seed, config, initial_state
        The process model's run length [steps], seed (scenarios, noise and NSGA-II; same
        seed, same front), configuration and start state.
    model : callable, optional
        ``model(policies, scenarios) -> {kpi: (n_p, n_s) array}`` instead of the process
        model (then ``steps``, ``config`` and ``initial_state`` are unused).
    reference_policies : int
        Latin-hypercube policies that set the per-scenario best for regret metrics.
    honesty : bool
        Re-run both chosen points on fresh ensembles (:func:`~circman_kernel.ai.robust_report.robust_honesty`).
    store : RunStore, optional
        Saves the optimisation as a run (kind ``"optimization"``, tags ``robust``, ``nsga2``).
    """
    from circman_kernel.ai import robust_report as report
    from circman_kernel.simulation.chunks import as_seed_sequence
    from circman_kernel.simulation.levers import Lever, sample_policies, sample_scenarios

    start = time.perf_counter()
    objs = [parse_metric(o) for o in objectives]
    cons = [parse_metric(c, constraint=True) for c in constraints]
    if not objs:
        raise ParameterError("give at least one objective", name="objectives")
    for lever in levers:
        if not isinstance(lever, Lever):
            raise ParameterError(f"{getattr(lever, 'name', lever)!r} is not a Lever", name="levers")
    names = [lv.name for lv in levers]
    bounds = np.array([lv.bounds() for lv in levers], dtype=float).reshape(-1, 2)
    for key, v in (
        ("population", population),
        ("generations", generations),
        ("n_scenarios", n_scenarios),
    ):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ParameterError(f"{key} must be an int >= 1, got {v!r}", name=key, value=v)
    ss = as_seed_sequence(seed)
    s_scen, s_noise, s_ref, s_fresh = ss.spawn(4)
    algo_seed = int(ss.generate_state(1, np.uint32)[0])
    make = report.model_factory(model, config=config, steps=steps, initial_state=initial_state)
    timed = _Timed(make(s_noise))
    if isinstance(uncertainties, pd.DataFrame):
        scenarios, uncs = uncertainties.reset_index(drop=True), None
    else:
        uncs = list(uncertainties)
        scenarios = sample_scenarios(uncs, n_scenarios, seed=s_scen).reset_index(drop=True)
    if nominal is None:
        nominal = report.nominal_of(uncs, scenarios, config)
    metrics = [*objs, *cons]
    ref = sample_policies(list(levers), reference_policies, seed=s_ref).reset_index(drop=True)
    need_ref = any(m.needs_reference for m in metrics)
    best = scenario_best(metrics, timed(ref, scenarios)) if need_ref else {}
    best_nom = scenario_best(metrics, timed(ref, nominal)) if need_ref else {}

    X, F, log = _nsga2(timed, names, bounds[:, 0], bounds[:, 1], scenarios, objs, cons, best,
                       population, generations, algo_seed)  # fmt: skip
    Xn, Fn, log_n = _nsga2(timed, names, bounds[:, 0], bounds[:, 1], nominal, objs, cons,
                           best_nom, population, generations, algo_seed)  # fmt: skip
    chosen = dict(zip(names, map(float, X[_pick(F)]), strict=True))
    nom = dict(zip(names, map(float, Xn[_pick(Fn)]), strict=True))
    both = pd.DataFrame([chosen, nom], columns=names)
    per_scenario = timed(both, scenarios)
    if need_ref:
        best = merge_best(best, scenario_best(metrics, per_scenario), metrics)
    result = RobustResult(
        levers=tuple(names), bounds={n: (float(lo), float(hi)) for n, (lo, hi) in zip(names, bounds, strict=True)},
        objectives=tuple(objs), constraints=tuple(cons),
        front=_front(X, F, names, objs), nominal_front=_front(Xn, Fn, names, objs),
        chosen=chosen, nominal=nom,
        comparison=report.comparison(metrics, per_scenario, best),
        per_scenario=per_scenario, scenarios=scenarios,
        convergence=report.convergence_frame(log, log_n, objs),
    )  # fmt: skip
    if honesty:
        result.honesty = report.robust_honesty(
            result,
            timed,
            make(s_fresh),
            uncs,
            s_fresh,
            reference=ref if need_ref else None,
            config=config,
            initial_state=initial_state,
        )
    total = time.perf_counter() - start
    result.timing = {"total_s": total, "model_s": timed.seconds, "model_share": timed.seconds / total,
                     "model_calls": float(timed.calls), "model_columns": float(timed.columns)}  # fmt: skip
    if store is not None:
        result.run_id = report.save_robust(
            store,
            result,
            name=name,
            seed=seed,
            steps=steps,
            population=population,
            generations=generations,
            config=config,
            custom_model=model is not None,
        )
    return result
