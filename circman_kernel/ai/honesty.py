"""The honesty check: does the physics process model reproduce an optimum's predicted gain?

:func:`honesty_check` re-runs the reference simulator (by default the process model,
seeded Monte Carlo with common random numbers) at the start and at the optimum and
compares the simulated gain with the one the surrogate predicts: a gain the simulation
does not show is reported as ``"not reproduced"``, one far smaller than predicted as
``"partly reproduced"``, and an optimum outside the training data is flagged
(:class:`~circman_kernel.ai.problem.HonestyCheck`). :func:`function_simulator` turns a
deterministic function into such a reference simulator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.ai.problem import (
    HonestyCheck,
    OptimizationResult,
    Simulator,
    _Problem,
    objective_values,
)
from circman_kernel.ai.surrogate_data import simulate_outcomes
from circman_kernel.core.errors import ParameterError

__all__ = ["function_simulator", "honesty_check"]


def function_simulator(fn: Callable[[pd.DataFrame], pd.DataFrame | Mapping[str, Any]]) -> Simulator:
    """Wrap a deterministic vectorised ``fn(frame) -> outcomes`` as an honesty simulator.

    Useful when the model's inputs are not process-model inputs (a test function, a
    plant's own simulator). The wrapped simulator repeats the rows ``iterations`` times.
    """

    def simulate(frame: pd.DataFrame, *, seed: int, iterations: int) -> pd.DataFrame:
        out = pd.DataFrame(fn(frame.reset_index(drop=True)))
        out = pd.concat([out] * iterations, ignore_index=True)
        out.insert(0, "row", np.tile(np.arange(len(frame)), iterations))
        out.insert(1, "iteration", np.repeat(np.arange(iterations), len(frame)))
        return out

    return simulate


def honesty_check(opt: Any, problem: _Problem, result: OptimizationResult) -> HonestyCheck:
    """Re-run the reference simulator at the start and the optimum; compare the gains.

    ``opt`` is the :class:`~circman_kernel.ai.optimize.ProcessOptimizer` that found
    ``result``: its ``simulator``, ``seed``, ``initial_state`` and configuration are used.
    """
    cfg = opt._cfg()
    settings = cfg.optimization.SOLVER
    k, sigma = settings.honesty_iterations, settings.honesty_sigma
    frame = pd.DataFrame(
        [{**problem.fixed, **result.initial_params}, {**problem.fixed, **result.params}]
    )
    if opt.simulator == "process":
        sim = simulate_outcomes(
            frame, seed=opt.seed, iterations=k, initial_state=opt.initial_state, config=cfg
        )
    elif callable(opt.simulator):
        sim = opt.simulator(frame, seed=opt.seed, iterations=k)
    else:
        raise ParameterError(
            f"simulator must be 'process', a callable or None, got {opt.simulator!r}",
            name="simulator",
        )
    targets = tuple(c for c in sim.columns if c not in ("row", "iteration"))
    before = sim[sim["row"] == 0].sort_values("iteration")
    after = sim[sim["row"] == 1].sort_values("iteration")
    Yb, Ya = before[list(targets)].to_numpy(float), after[list(targets)].to_numpy(float)
    fb = objective_values(problem.objective, problem.weights, targets, Yb)
    fa = objective_values(problem.objective, problem.weights, targets, Ya)
    diff = fb - fa
    gain = float(diff.mean())
    se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else 0.0
    tol = 1e-9 * max(1.0, abs(float(fb.mean())))

    violations: dict[str, float] = {}
    for name, (lo, hi) in problem.outcome_bounds.items():
        if name not in targets:
            continue
        values = Ya[:, targets.index(name)]
        slack = sigma * (values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else 0.0)
        mean = float(values.mean())
        gap = max(lo - slack - mean, mean - hi - slack, 0.0)
        if gap > 1e-9 * max(1.0, abs(mean)):
            violations[name] = gap
    predicted = result.predicted_improvement
    if predicted <= tol:
        verdict = "no gain claimed"
    elif gain > max(sigma * se, tol) and not violations:
        # a real gain; "partly" when the simulation shows under half of the prediction
        verdict = "reproduced" if gain >= 0.5 * predicted else "partly reproduced"
    else:
        verdict = "not reproduced"
    sim_before = {t: float(Yb[:, i].mean()) for i, t in enumerate(targets)}
    sim_after = {t: float(Ya[:, i].mean()) for i, t in enumerate(targets)}
    sim_before["objective"], sim_after["objective"] = float(fb.mean()), float(fa.mean())
    return HonestyCheck(
        verdict=verdict,
        predicted_improvement=float(predicted),
        simulated_improvement=gain,
        simulated_improvement_se=se,
        simulated_before=sim_before,
        simulated_after=sim_after,
        constraints_hold_simulated=not violations,
        simulated_violations=violations,
        out_of_training_range=result.out_of_training_range,
        iterations=k,
        seed=opt.seed,
    )
