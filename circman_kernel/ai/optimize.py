"""``ProcessOptimizer``: single-objective optimisation on the surrogate, checked afterwards.

:class:`ProcessOptimizer` builds the problem (:mod:`~circman_kernel.ai.optimize_setup`,
types in :mod:`~circman_kernel.ai.problem`), solves it on the surrogate's prediction from
several starts (the weighted objective with L-BFGS-B, falling back to
``SOLVER.constrained_method`` when an outcome constraint is broken; efficiency and quality
with the constrained method) and sends every optimum through the honesty check of
:mod:`~circman_kernel.ai.honesty`, which re-runs the physics process model at the start
and at the optimum; :meth:`~ProcessOptimizer.optimize_pareto` hands the same problem to
NSGA-II (:mod:`~circman_kernel.ai.pareto`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.ai.honesty import honesty_check
from circman_kernel.ai.model import ManufacturingModel
from circman_kernel.ai.optimize_setup import (
    _checked_extra,
    build_problem,
    energy_cap,
    quality_floor,
)
from circman_kernel.ai.pareto import pareto_front
from circman_kernel.ai.problem import (
    OptimizationResult,
    Simulator,
    _Evaluator,
    _Problem,
    objective_values,
)
from circman_kernel.core.errors import ModelError, OptimizationError

__all__ = ["ProcessOptimizer"]

log = logging.getLogger("circman.optimize")


class ProcessOptimizer:
    """Optimise process parameters on a :class:`ManufacturingModel`, honestly.

    Parameters
    ----------
    model : ManufacturingModel
        A trained surrogate.
    config : CircmanConfig, optional
        Constraints, weights and solver settings; default: the configuration in effect.
    simulator : "process", callable or None
        The honesty check's reference: ``"process"`` re-runs
        :func:`circman_kernel.ai.surrogate_data.simulate_outcomes` (the physics process
        model); a callable ``sim(frame, *, seed, iterations) -> DataFrame`` (columns
        ``row``, ``iteration`` and outcomes; see
        :func:`~circman_kernel.ai.honesty.function_simulator`); ``None`` skips the check
        (verdict ``"not checked"``).
    initial_state : dict, optional
        Twin state the process simulator starts from (default state if ``None``).
    seed : int
        Seed of the multi-start points and the honesty check's Monte Carlo noise.

    Attributes
    ----------
    last_result_ : OptimizationResult
        The full result of the most recent optimisation.
    """

    def __init__(
        self,
        model: ManufacturingModel,
        config: Any = None,
        *,
        simulator: str | Simulator | None = "process",
        initial_state: Mapping[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.config = config
        self.simulator = simulator
        self.initial_state = initial_state
        self.seed = seed

    def _cfg(self) -> Any:
        if self.config is None:
            from circman_kernel.core.config import load_config

            self.config = load_config()
        return self.config

    # ------------------------------------------------------------- manual's API
    def optimize_process_parameters(
        self,
        current_params: Mapping[str, float],
        constraints: Mapping[str, Any] | None = None,
        *,
        fixed: Mapping[str, float] | None = None,
    ) -> dict[str, float]:
        """Minimise the weighted objective of ``OBJECTIVE_WEIGHTS``; return the parameters.

        ``current_params`` names the decision variables and their start values: the
        model's inputs among them are optimised; the others (outcomes such as
        ``efficiency``, the manual's ``input_amount`` ...) are held and come back as
        given, so the manual's ``DEFAULT_PARAMETERS`` work as they are. ``fixed`` holds
        other model inputs constant (missing ones sit at the training median). L-BFGS-B
        when only bounds apply, ``SOLVER.constrained_method`` when an outcome is
        constrained. The full result is :attr:`last_result_` (``held`` names what was
        not optimised).
        """
        result = self.optimize_detailed("weighted", current_params, constraints, fixed=fixed)
        return result.with_held(current_params)

    def optimize_for_efficiency(
        self,
        current_params: Mapping[str, float],
        min_quality: float = 0.9,
        constraints: Mapping[str, Any] | None = None,
        *,
        fixed: Mapping[str, float] | None = None,
    ) -> dict[str, float]:
        """Maximise efficiency subject to quality = 1 - defect_rate >= ``min_quality``.

        Every key of ``current_params`` comes back (see :meth:`optimize_process_parameters`).
        """
        return self.optimize_detailed(
            "efficiency",
            current_params,
            constraints,
            fixed=fixed,
            extra=quality_floor(min_quality),
        ).with_held(current_params)

    def optimize_for_quality(
        self,
        current_params: Mapping[str, float],
        max_energy: float | None = None,
        constraints: Mapping[str, Any] | None = None,
        *,
        fixed: Mapping[str, float] | None = None,
    ) -> dict[str, float]:
        """Maximise quality (minimise defect_rate) subject to energy_used <= ``max_energy`` [kW].

        Every key of ``current_params`` comes back (see :meth:`optimize_process_parameters`).
        """
        return self.optimize_detailed(
            "quality", current_params, constraints, fixed=fixed, extra=energy_cap(max_energy)
        ).with_held(current_params)

    # ------------------------------------------------------------- the work
    def optimize_detailed(
        self,
        objective: str,
        current_params: Mapping[str, float],
        constraints: Mapping[str, Any] | None = None,
        *,
        fixed: Mapping[str, float] | None = None,
        extra: Mapping[str, tuple[float, float]] | None = None,
        honesty: bool = True,
        held: Mapping[str, float] | None = None,
    ) -> OptimizationResult:
        """Solve one problem; return the full :class:`~circman_kernel.ai.problem.OptimizationResult`.

        ``objective`` is ``"weighted"``, ``"efficiency"`` or ``"quality"``; ``extra``
        adds outcome constraints (intersected with the configured ones). Names of
        ``current_params`` the model cannot move are held (``result.held``), as are the
        caller's ``held`` (values it kept out of the problem).
        """
        start_time = time.perf_counter()
        problem = self.build_problem(
            objective, current_params, constraints, fixed=fixed, extra=extra
        )
        cfg = self._cfg().optimization.SOLVER
        smooth = self.model.estimator_name_ in ("polynomial", "gaussian_process")
        ev = _Evaluator(self.model, problem, 1e-5 if smooth else 0.02)
        # The weighted objective runs the manual's L-BFGS-B (bounds only) and falls back to
        # the constrained method from a start whose result breaks an outcome constraint.
        if objective != "weighted":
            methods = (cfg.constrained_method,)
        elif problem.outcome_bounds:
            methods = (cfg.method, cfg.constrained_method)
        else:
            methods = (cfg.method,)
        from threadpoolctl import threadpool_limits  # a scikit-learn dependency

        # One BLAS thread: the solvers' vector work on a few variables only pays the
        # threads' start-up, which on a loaded machine made L-BFGS-B some 20 x slower.
        with threadpool_limits(limits=1, user_api="blas"):
            candidates, info = self._multistart(ev, problem, methods, cfg)
        z_best, f_best = min(candidates, key=lambda c: c[1])
        x_best = ev.to_x(z_best)
        params = {v: float(x) for v, x in zip(problem.variables, x_best, strict=True)}
        before = self._predict(problem, dict(zip(problem.variables, problem.start, strict=True)))
        after = self._predict(problem, params)
        ranges = self.model.feature_ranges_
        x_all = self.model.feature_matrix({**problem.fixed, **params})[0]
        outside = tuple(
            f
            for f, x in zip(self.model.feature_names_, x_all, strict=True)
            if not _within(x, ranges[f])
        )
        info.update(
            method="+".join(methods),
            n_starts=len(info["starts"]),
            runtime_s=0.0,
            surrogate_calls=ev.n_calls,
            fd_step=ev.step,
        )
        result = OptimizationResult(
            objective=objective,
            params=params,
            initial_params=dict(zip(problem.variables, map(float, problem.start), strict=True)),
            fixed=problem.fixed,
            bounds={
                v: (float(lo), float(hi))
                for v, lo, hi in zip(problem.variables, problem.lower, problem.upper, strict=True)
            },
            outcome_constraints=problem.outcome_bounds,
            predicted_before=before,
            predicted_after=after,
            objective_before=float(self._objective(problem, before)),
            objective_after=float(f_best),
            out_of_training_range=outside,
            solver=info,
            constraints=problem.constraints,
            held={**(held or {}), **problem.held},
        )
        if honesty and self.simulator is not None:
            result = replace(result, honesty=honesty_check(self, problem, result))
        solver = dict(result.solver)
        solver["runtime_s"] = time.perf_counter() - start_time
        result = replace(result, solver=solver)
        self.last_result_ = result
        log.info(
            "optimised %s: predicted gain %.4g, verdict %s",
            objective,
            result.predicted_improvement,
            result.verdict,
        )
        return result

    def _predict(self, problem: _Problem, params: Mapping[str, float]) -> dict[str, float]:
        X = self.model.feature_matrix({**problem.fixed, **params})
        Y = self.model._predict_arrays(X, with_std=False)[0]
        return {t: float(Y[0, i]) for i, t in enumerate(self.model.target_names_)}

    def _objective(self, problem: _Problem, outcomes: Mapping[str, float]) -> float:
        Y = np.array([[outcomes[t] for t in self.model.target_names_]])
        return float(
            objective_values(problem.objective, problem.weights, self.model.target_names_, Y)[0]
        )

    def _multistart(
        self, ev: _Evaluator, problem: _Problem, methods: tuple[str, ...], cfg: Any
    ) -> tuple[list[tuple[np.ndarray, float]], dict[str, Any]]:
        from scipy.optimize import minimize
        from scipy.stats import qmc

        d = len(problem.variables)
        span = problem.upper - problem.lower
        z0 = np.clip((problem.start - problem.lower) / np.where(span > 0, span, 1.0), 0.0, 1.0)
        starts = [z0]
        if cfg.n_starts > 1:
            lhs = qmc.LatinHypercube(d=d, rng=np.random.default_rng(self.seed))
            starts += list(lhs.random(cfg.n_starts - 1))
        n_ineq = ev.constraint_values(np.zeros((1, len(ev.targets)))).shape[1]
        cons = []
        if n_ineq:
            cons.append(
                {
                    "type": "ineq",
                    "fun": lambda z: ev.evaluate(z)[2][:n_ineq],
                    "jac": lambda z: ev.evaluate(z)[3][:n_ineq],
                }
            )
        if ev.equality_values(np.zeros((1, len(ev.targets)))).shape[1]:
            cons.append(
                {
                    "type": "eq",
                    "fun": lambda z: ev.evaluate(z)[2][n_ineq:],
                    "jac": lambda z: ev.evaluate(z)[3][n_ineq:],
                }
            )

        def violation(z: np.ndarray) -> float:
            g = ev.evaluate(z)[2]
            return max([0.0, *(-g[:n_ineq]), *np.abs(g[n_ineq:])])

        feasible: list[tuple[np.ndarray, float]] = []
        least = (math.inf, "")
        runs = []
        for z_start in starts:
            accepted = None
            for method in methods:
                options: dict[str, Any] = {"maxiter": cfg.maxiter}
                if method in ("SLSQP", "L-BFGS-B", "TNC"):
                    options["ftol"] = cfg.tolerance
                bounds_only = method in ("L-BFGS-B", "TNC", "Powell")
                try:
                    res = minimize(
                        lambda z: ev.evaluate(z)[:2],
                        z_start,
                        jac=True,
                        method=method,
                        bounds=[(0.0, 1.0)] * d,
                        constraints=() if bounds_only else cons,
                        options=options,
                    )
                except (ValueError, ArithmeticError) as exc:  # a start the solver cannot use
                    runs.append(
                        {
                            "method": method,
                            "success": False,
                            "nit": 0,
                            "message": str(exc),
                            "fun": math.nan,
                        }
                    )
                    continue
                z = np.clip(res.x, 0.0, 1.0)
                runs.append(
                    {
                        "method": method,
                        "success": bool(res.success),
                        "nit": int(getattr(res, "nit", 0)),
                        "message": str(res.message),
                        "fun": float(res.fun),
                    }
                )
                if violation(z) <= 1e-6:
                    accepted = z
                    break
                if violation(z) < least[0]:
                    least = (violation(z), self._worst(ev, z))
            if accepted is None and violation(z_start) <= 1e-6:
                accepted = z_start  # the solver did not improve on a feasible start
            if accepted is not None:
                feasible.append((accepted, ev.evaluate(accepted)[0]))
            elif violation(z_start) < least[0]:
                least = (violation(z_start), self._worst(ev, z_start))
        info = {"starts": runs, "feasible_candidates": len(feasible)}
        if not feasible:
            raise OptimizationError(
                f"no feasible parameters found from {len(starts)} starts: {least[1]}; relax the "
                "constraints or widen the bounds"
            )
        return feasible, info

    def _worst(self, ev: _Evaluator, z: np.ndarray) -> str:
        Y = ev.predict_z(z[None, :])[0]
        worst, text = 0.0, ""
        for name, (lo, hi) in ev.p.outcome_bounds.items():
            y = Y[ev.targets.index(name)]
            gap = max(lo - y, y - hi, 0.0) / ev.scale[ev.targets.index(name)]
            if gap >= worst:
                worst = gap
                text = f"best reachable {name} = {y:.4g} outside [{lo:.4g}, {hi:.4g}]"
        return text

    # ------------------------------------------------------------- problem set-up
    def build_problem(
        self,
        objective: str,
        current_params: Mapping[str, float],
        constraints: Mapping[str, Any] | None = None,
        *,
        fixed: Mapping[str, float] | None = None,
        extra: Mapping[str, tuple[float, float]] | None = None,
    ) -> _Problem:
        """Check every input and return the problem in solver terms (no solving)."""
        if not isinstance(self.model, ManufacturingModel) or not self.model.is_trained:
            raise ModelError("the optimiser's model is not trained: train or load it first")
        return build_problem(
            self, objective, current_params, constraints, fixed, _checked_extra(extra)
        )

    def optimize_pareto(
        self,
        current_params: Mapping[str, float],
        constraints: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """Return the Pareto front of output, energy and carbon; see :func:`~circman_kernel.ai.pareto.pareto_front`."""
        return pareto_front(self, current_params, constraints, **kwargs)


def _within(x: float, bounds: tuple[float, float]) -> bool:
    """Whether x lies in the training range, with the 1 % margin of ``in_training_range``."""
    lo, hi = bounds
    margin = 0.01 * (hi - lo) + 1e-12
    return lo - margin <= x <= hi + margin
