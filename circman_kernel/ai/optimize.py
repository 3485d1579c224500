"""Process optimisation on the surrogate model, checked against the physics model.

:class:`ProcessOptimizer` solves the manual's problem (section 16.3.2)

.. math::

    \\min_\\theta f(\\theta) \\quad \\text{s.t.} \\quad g_i(\\theta) \\le 0,\\;
    h_j(\\theta) = 0,\\; \\theta_{min} \\le \\theta \\le \\theta_{max}

where :math:`f` and the outcome constraints are evaluated on the surrogate's prediction.
A constraint key naming a model input is a bound; a key naming an outcome
(``energy_used``, ``defect_rate``, ...) is an inequality :math:`lo \\le \\hat y(\\theta)
\\le hi`, or an equality when given as one number. Bounds merge, in increasing
priority: ``AI_INTEGRATION.OPTIMIZATION_CONSTRAINTS``, ``optimization.json``
``DEFAULT_CONSTRAINTS`` and the call's ``constraints``.

The ``"weighted"`` objective is :math:`f = \\sum_k w_k \\hat y_k` with the weights of
``OBJECTIVE_WEIGHTS``: the manual's ``-100 efficiency + 0.1 energy_used + 1000 defect_rate``
(section 7.3) and ``-10 output_amount`` [per module/h]. Without the output term the
objective is flat in every setting while the line stays in its temperature band (efficiency
and defects depend on the temperature only, the power draw on nothing the operator sets),
so the surrogate's fitting error alone would decide, and it halved the output.

Every optimum then goes through an honesty check: the physics process model is re-run
(seeded Monte Carlo, common random numbers) at the start and at the optimum, and the
predicted gain is compared with the simulated one. A gain the simulation does not show
is reported as ``"not reproduced"``, one far smaller than predicted as ``"partly
reproduced"``; an optimum outside the training data is flagged.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.ai.model import ManufacturingModel
from circman_kernel.core.errors import ModelError, OptimizationError, ParameterError

__all__ = [
    "HonestyCheck",
    "OptimizationResult",
    "ProcessOptimizer",
    "function_simulator",
]

log = logging.getLogger("circman.optimize")

Simulator = Callable[..., pd.DataFrame]
_VERDICTS = (
    "reproduced",
    "partly reproduced",
    "not reproduced",
    "no gain claimed",
    "not checked",
)


@dataclass(frozen=True)
class HonestyCheck:
    """The physics model's verdict on an optimum (objective units, gain > 0 is better).

    ``verdict`` is ``"reproduced"`` when the simulated gain is positive, exceeds
    ``sigma`` standard errors of the paired difference, the outcome constraints hold in
    simulation, and the gain is at least half the predicted one; ``"partly reproduced"``
    when all of that holds but the simulation shows less than half of the prediction (the
    gain is real, the surrogate overstates it: read ``reproduced_share``); ``"not
    reproduced"`` otherwise; ``"no gain claimed"`` when the surrogate itself predicts none.
    """

    verdict: str
    predicted_improvement: float
    simulated_improvement: float
    simulated_improvement_se: float
    simulated_before: Mapping[str, float]
    simulated_after: Mapping[str, float]
    constraints_hold_simulated: bool
    simulated_violations: Mapping[str, float]
    out_of_training_range: tuple[str, ...]
    iterations: int
    seed: int

    @property
    def reproduced(self) -> bool:
        """Whether the process model shows a real gain (fully or partly reproduced)."""
        return self.verdict in ("reproduced", "partly reproduced")

    @property
    def reproduced_share(self) -> float:
        """Simulated gain as a share of the predicted one [-] (NaN without a prediction)."""
        if not self.predicted_improvement > 0.0:
            return math.nan
        return self.simulated_improvement / self.predicted_improvement

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["reproduced"] = self.reproduced
        d["reproduced_share"] = self.reproduced_share
        return d


@dataclass(frozen=True)
class OptimizationResult:
    """Everything about one optimisation: parameters, predictions, honesty, solver."""

    objective: str
    params: Mapping[str, float]
    initial_params: Mapping[str, float]
    fixed: Mapping[str, float]
    bounds: Mapping[str, tuple[float, float]]
    outcome_constraints: Mapping[str, tuple[float, float]]
    predicted_before: Mapping[str, float]
    predicted_after: Mapping[str, float]
    objective_before: float
    objective_after: float
    out_of_training_range: tuple[str, ...]
    solver: Mapping[str, Any]
    honesty: HonestyCheck | None = None
    constraints: Mapping[str, Any] = field(default_factory=dict)

    @property
    def predicted_improvement(self) -> float:
        """Objective gain the surrogate predicts (objective units; > 0 is better)."""
        return self.objective_before - self.objective_after

    @property
    def simulated_improvement(self) -> float:
        """Objective gain the process model shows (NaN when not checked)."""
        return math.nan if self.honesty is None else self.honesty.simulated_improvement

    @property
    def verdict(self) -> str:
        return "not checked" if self.honesty is None else self.honesty.verdict

    def to_frame(self) -> pd.DataFrame:
        """Return a before/after table: parameters, predicted and simulated outcomes."""
        rows = []
        for name, after in self.params.items():
            rows.append(("parameter", name, self.initial_params[name], after, np.nan, np.nan))
        for name, after in self.predicted_after.items():
            sim_b = self.honesty.simulated_before.get(name, np.nan) if self.honesty else np.nan
            sim_a = self.honesty.simulated_after.get(name, np.nan) if self.honesty else np.nan
            rows.append(("outcome", name, self.predicted_before[name], after, sim_b, sim_a))
        rows.append(
            (
                "objective",
                self.objective,
                self.objective_before,
                self.objective_after,
                self.honesty.simulated_before.get("objective", np.nan) if self.honesty else np.nan,
                self.honesty.simulated_after.get("objective", np.nan) if self.honesty else np.nan,
            )
        )
        return pd.DataFrame(
            rows, columns=["kind", "name", "before", "after", "simulated_before", "simulated_after"]
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["honesty"] = None if self.honesty is None else self.honesty.to_dict()
        d["predicted_improvement"] = self.predicted_improvement
        d["simulated_improvement"] = self.simulated_improvement
        d["verdict"] = self.verdict
        return d


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


# --------------------------------------------------------------------------- the problem


@dataclass(frozen=True)
class _Problem:
    objective: str
    variables: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    start: np.ndarray
    fixed: dict[str, float]
    outcome_bounds: dict[str, tuple[float, float]]
    weights: dict[str, float]
    constraints: dict[str, Any]


class _Evaluator:
    """Surrogate evaluations in unit-box coordinates, batched and cached per point."""

    def __init__(self, model: ManufacturingModel, problem: _Problem, step: float) -> None:
        self.model = model
        self.p = problem
        self.step = step
        names = model.feature_names_
        self.var_idx = [names.index(v) for v in problem.variables]
        self.template = np.array([problem.fixed.get(f, 0.0) for f in names])
        self.targets = model.target_names_
        self.scale = np.asarray(model.y_scale_, dtype=float)
        self._cache: dict[bytes, tuple[float, np.ndarray, np.ndarray, np.ndarray]] = {}
        self.n_calls = 0

    def to_x(self, z: np.ndarray) -> np.ndarray:
        return self.p.lower + np.clip(z, 0.0, 1.0) * (self.p.upper - self.p.lower)

    def predict_z(self, Z: np.ndarray) -> np.ndarray:
        X = np.tile(self.template, (len(Z), 1))
        X[:, self.var_idx] = self.to_x(Z)
        self.n_calls += 1
        return self.model._predict_arrays(X, with_std=False)[0]

    def objective_values(self, Y: np.ndarray) -> np.ndarray:
        return objective_values(self.p.objective, self.p.weights, self.targets, Y)

    def constraint_values(self, Y: np.ndarray) -> np.ndarray:
        """g(z) >= 0 form, scaled by the target's spread; shape (n, m)."""
        cols = []
        for name, (lo, hi) in self.p.outcome_bounds.items():
            i = self.targets.index(name)
            if np.isfinite(hi):
                cols.append((hi - Y[:, i]) / self.scale[i])
            if np.isfinite(lo) and lo != hi:
                cols.append((Y[:, i] - lo) / self.scale[i])
        return np.column_stack(cols) if cols else np.zeros((len(Y), 0))

    def equality_values(self, Y: np.ndarray) -> np.ndarray:
        cols = [
            (Y[:, self.targets.index(n)] - lo) / self.scale[self.targets.index(n)]
            for n, (lo, hi) in self.p.outcome_bounds.items()
            if lo == hi
        ]
        return np.column_stack(cols) if cols else np.zeros((len(Y), 0))

    def evaluate(self, z: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """Return f, grad f, g (ineq, eq stacked) and its Jacobian at z (central diff.)."""
        key = np.asarray(z, dtype=float).tobytes()
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        d = len(z)
        h = self.step
        pts = np.vstack([z, z + h * np.eye(d), z - h * np.eye(d)])
        Y = self.predict_z(pts)
        f = self.objective_values(Y)
        g = np.hstack([self.constraint_values(Y), self.equality_values(Y)])
        grad = (f[1 : d + 1] - f[d + 1 :]) / (2 * h)
        jac = ((g[1 : d + 1] - g[d + 1 :]) / (2 * h)).T
        out = (float(f[0]), grad, g[0], jac)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = out
        return out


def objective_values(
    objective: str, weights: Mapping[str, float], targets: tuple[str, ...], Y: np.ndarray
) -> np.ndarray:
    """Return the objective (lower is better) for each row of outcomes ``Y``.

    ``"weighted"``: :math:`\\sum_k w_k Y_k` over ``weights`` (outcome -> weight, e.g.
    ``OBJECTIVE_WEIGHTS``); ``"efficiency"``: :math:`-\\eta`; ``"quality"``: the defect rate.

    >>> w = {"efficiency": -100.0, "energy_used": 0.1, "defect_rate": 1000.0,
    ...      "output_amount": -10.0}
    >>> targets = ("output_amount", "energy_used", "efficiency", "defect_rate")
    >>> objective_values("weighted", w, targets, np.array([[9.0, 120.0, 0.92, 0.02]]))
    array([-150.])
    """
    if objective == "weighted":
        return sum(w * Y[:, targets.index(k)] for k, w in weights.items())
    if objective == "efficiency":
        return -Y[:, targets.index("efficiency")]
    if objective == "quality":
        return Y[:, targets.index("defect_rate")]  # quality = 1 - defect_rate
    raise ParameterError(
        f"unknown objective {objective!r}; use weighted, efficiency or quality",
        name="objective",
        value=objective,
    )


# --------------------------------------------------------------------------- the optimiser


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
        ``row``, ``iteration`` and outcomes; see :func:`function_simulator`); ``None``
        skips the check (verdict ``"not checked"``).
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

        ``current_params`` names the decision variables and their start values;
        ``fixed`` holds other model inputs constant (missing ones sit at the training
        median). L-BFGS-B when only bounds apply, ``SOLVER.constrained_method`` when an
        outcome is constrained. The full result is :attr:`last_result_`.
        """
        return dict(
            self.optimize_detailed("weighted", current_params, constraints, fixed=fixed).params
        )

    def optimize_for_efficiency(
        self,
        current_params: Mapping[str, float],
        min_quality: float = 0.9,
        constraints: Mapping[str, Any] | None = None,
        *,
        fixed: Mapping[str, float] | None = None,
    ) -> dict[str, float]:
        """Maximise efficiency subject to quality = 1 - defect_rate >= ``min_quality``."""
        return dict(
            self.optimize_detailed(
                "efficiency",
                current_params,
                constraints,
                fixed=fixed,
                extra=quality_floor(min_quality),
            ).params
        )

    def optimize_for_quality(
        self,
        current_params: Mapping[str, float],
        max_energy: float | None = None,
        constraints: Mapping[str, Any] | None = None,
        *,
        fixed: Mapping[str, float] | None = None,
    ) -> dict[str, float]:
        """Maximise quality (minimise defect_rate) subject to energy_used <= ``max_energy`` [kW]."""
        return dict(
            self.optimize_detailed(
                "quality", current_params, constraints, fixed=fixed, extra=energy_cap(max_energy)
            ).params
        )

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
    ) -> OptimizationResult:
        """Solve one problem and return the full :class:`OptimizationResult`.

        ``objective`` is ``"weighted"``, ``"efficiency"`` or ``"quality"``; ``extra``
        adds outcome constraints (intersected with the configured ones).
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
        )
        if honesty and self.simulator is not None:
            result = _with_honesty(self, problem, result)
        solver = dict(result.solver)
        solver["runtime_s"] = time.perf_counter() - start_time
        result = _replace(result, solver=solver)
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
        from circman_kernel.ai.optimize_setup import build_problem

        if not isinstance(self.model, ManufacturingModel) or not self.model.is_trained:
            raise ModelError("the optimiser's model is not trained: train or load it first")
        return build_problem(
            self, objective, current_params, constraints, fixed, _checked_extra(extra)
        )


def _within(x: float, bounds: tuple[float, float]) -> bool:
    """Whether x lies in the training range, with the 1 % margin of ``in_training_range``."""
    lo, hi = bounds
    margin = 0.01 * (hi - lo) + 1e-12
    return lo - margin <= x <= hi + margin


def _finite(name: str, value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{name} must be a number, got {value!r}", name=name, value=value
        ) from None
    if not math.isfinite(out):
        raise ParameterError(
            f"{name} must be a finite number, got {value!r}", name=name, value=value
        )
    return out


def quality_floor(min_quality: Any) -> dict[str, tuple[float, float]]:
    """Return the outcome constraint quality = 1 - defect_rate >= ``min_quality``.

    >>> quality_floor(0.9)
    {'defect_rate': (-inf, 0.09999999999999998)}
    """
    q = _finite("min_quality", min_quality)
    if not 0.0 <= q <= 1.0:
        raise ParameterError(
            f"min_quality must lie in [0, 1], got {q}", name="min_quality", value=min_quality
        )
    return {"defect_rate": (-math.inf, 1.0 - q)}


def energy_cap(max_energy: Any) -> dict[str, tuple[float, float]]:
    """Return the outcome constraint energy_used <= ``max_energy`` [kW] (none for ``None``)."""
    if max_energy is None:
        return {}
    return {"energy_used": (-math.inf, _finite("max_energy", max_energy))}


def _checked_extra(extra: Any) -> dict[str, tuple[float, float]]:
    """Return the call's extra outcome constraints as ``(lo, hi)``; NaN, lo > hi raise."""
    from circman_kernel.ai.optimize_setup import parse_constraint

    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise ParameterError(
            f"extra must be a dict of outcome -> (min, max), got {type(extra).__name__}",
            name="extra",
        )
    return {name: parse_constraint(name, value) for name, value in extra.items()}


def _replace(result: OptimizationResult, **changes: Any) -> OptimizationResult:
    from dataclasses import replace

    return replace(result, **changes)


def _with_honesty(
    opt: ProcessOptimizer, problem: _Problem, result: OptimizationResult
) -> OptimizationResult:
    from circman_kernel.ai.optimize_setup import honesty_check

    return _replace(result, honesty=honesty_check(opt, problem, result))


def __getattr__(name: str) -> Any:
    if name == "AIIntegration":
        from circman_kernel.ai.integration import AIIntegration

        return AIIntegration
    raise AttributeError(f"module 'circman_kernel.ai.optimize' has no attribute {name!r}")


def _optimize_pareto(
    self: ProcessOptimizer,
    current_params: Mapping[str, float],
    constraints: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Return the Pareto front of output, energy and carbon; see :func:`~circman_kernel.ai.pareto.pareto_front`."""
    from circman_kernel.ai.pareto import pareto_front

    return pareto_front(self, current_params, constraints, **kwargs)


ProcessOptimizer.optimize_pareto = _optimize_pareto  # type: ignore[attr-defined]
