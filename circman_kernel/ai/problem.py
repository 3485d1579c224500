"""The optimisation problem and its results, shared by every optimiser of this subpackage.

``_Problem`` is the manual's problem (section 16.3.2) in solver terms,
:math:`\\min_\\theta f(\\theta)` s.t. :math:`g_i(\\theta) \\le 0`, :math:`h_j(\\theta) = 0`,
:math:`\\theta_{min} \\le \\theta \\le \\theta_{max}`, with :math:`f` and the outcome
constraints evaluated on the surrogate's prediction; ``_Evaluator`` evaluates it in
unit-box coordinates, :func:`objective_values` scores outcomes, and
:class:`OptimizationResult` with its :class:`HonestyCheck` is what an optimisation returns.
:mod:`~circman_kernel.ai.optimize_setup` builds the problem,
:mod:`~circman_kernel.ai.optimize` and :mod:`~circman_kernel.ai.pareto` solve it and
:mod:`~circman_kernel.ai.honesty` checks the answer; they all import from here, never
from one another.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from circman_kernel.core.errors import ParameterError

if TYPE_CHECKING:
    from circman_kernel.ai.model import ManufacturingModel

__all__ = ["HonestyCheck", "OptimizationResult", "Simulator", "objective_values"]

#: The honesty check's reference: ``sim(frame, *, seed, iterations) -> DataFrame``.
Simulator = Callable[..., pd.DataFrame]
#: The verdicts of :attr:`HonestyCheck.verdict` and :attr:`OptimizationResult.verdict`.
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
    #: Parameters the caller gave that were not optimised, at the value given: outcomes
    #: the model predicts, names it does not use (the manual's ``input_amount``) and
    #: twin readings held as the batch's context.
    held: Mapping[str, float] = field(default_factory=dict)

    def with_held(self, current_params: Mapping[str, Any]) -> dict[str, float]:
        """Return every key of ``current_params``: optimised ones at the optimum, others as given."""
        out = {k: float(self.params.get(k, v)) for k, v in current_params.items()}
        out.update((k, float(v)) for k, v in self.params.items())
        return out

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


# --------------------------------------------------------------------------- the problem


@dataclass(frozen=True)
class _Problem:
    """One problem in solver terms: decision variables, their bounds and start, held inputs.

    ``outcome_bounds`` are the outcome constraints :math:`lo \\le \\hat y(\\theta) \\le hi`
    (an equality when ``lo == hi``); ``constraints`` keeps every merged constraint as given.
    """

    objective: str
    variables: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    start: np.ndarray
    fixed: dict[str, float]
    outcome_bounds: dict[str, tuple[float, float]]
    weights: dict[str, float]
    constraints: dict[str, Any]
    held: dict[str, float] = field(default_factory=dict)


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

    The configured weights are the manual's ``-100 efficiency + 0.1 energy_used + 1000
    defect_rate`` (section 7.3) and ``-10 output_amount`` [per module/h]. Without the output
    term the objective is flat in every setting while the line stays in its temperature
    band (efficiency and defects depend on the temperature only, the power draw on nothing
    the operator sets), so the surrogate's fitting error alone would decide, and it halved
    the output.

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
