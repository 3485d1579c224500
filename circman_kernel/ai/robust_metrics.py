"""Robustness metrics: one number per policy from its KPI over an ensemble of scenarios.

A :class:`Robustness` reads ``metric(kpi)`` over the ``(n_policies, n_scenarios)`` KPI array
of :func:`~circman_kernel.simulation.experiments.run_ensemble`:

* ``mean(kpi)``, ``pNN(kpi)`` (the NN-th percentile over the scenarios: ``p10`` is the
  bad tail of a KPI to maximise, ``p90`` of one to minimise);
* ``regret(kpi)``: the largest shortfall over the scenarios against the best any reference
  policy reaches in that scenario (Savage's minimax regret; 0 where the policy is the best);
* ``satisficing(kpi <= value)``: the share of scenarios where the condition holds [-].

Written as text (``"p10(good_modules)"``, ``"satisficing(defect_rate <= 0.05) >= 0.9"``),
the part after the closing bracket turns the metric into a constraint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from circman_kernel.core.errors import ParameterError

__all__ = [
    "KPI_SENSE",
    "Robustness",
    "evaluate_metrics",
    "merge_best",
    "parse_metric",
    "scenario_best",
]

#: Whether more of a KPI is better ("max") or worse ("min").
KPI_SENSE: dict[str, str] = {
    "output_modules": "max", "good_modules": "max", "mean_efficiency": "max",
    "energy_kwh": "min", "energy_per_module_kwh": "min", "defect_rate": "min",
    "carbon_kg": "min", "silicon_wafer_kg": "min", "solar_glass_kg": "min",
    "final_power_kw": "min", "mean_temperature": "min",
}  # fmt: skip
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_SPEC = re.compile(
    rf"^\s*(mean|p\d+(?:\.\d+)?|regret|satisficing)\s*\(\s*(\w+)\s*(?:(<=|>=|<|>)\s*({_NUM}))?\s*\)"
    rf"\s*(?:(<=|>=)\s*({_NUM}))?\s*$"
)
_CMP = {"<=": np.less_equal, ">=": np.greater_equal, "<": np.less, ">": np.greater}


@dataclass(frozen=True)
class Robustness:
    """One robustness metric of one KPI, optionally bounded (a constraint).

    Parameters
    ----------
    metric : str
        ``"mean"``, ``"pNN"``, ``"regret"`` or ``"satisficing"``.
    kpi : str
        A KPI of ``run_ensemble`` (or of a custom model).
    op, threshold : str, float
        The satisficing condition ``kpi op threshold``.
    sense : {"max", "min"}
        Whether more of the KPI is better (default from :data:`KPI_SENSE`).
    bound_op, bound : str, float
        As a constraint: ``metric bound_op bound`` must hold.
    """

    metric: str
    kpi: str
    op: str | None = None
    threshold: float | None = None
    sense: str | None = None
    bound_op: str | None = None
    bound: float | None = None

    def __post_init__(self) -> None:
        if not (
            self.metric in ("mean", "regret", "satisficing")
            or re.fullmatch(r"p\d+(\.\d+)?", self.metric)
        ):
            raise ParameterError(
                f"unknown metric {self.metric!r}; use mean, pNN, regret or satisficing",
                name="metric",
            )
        if self.metric.startswith("p") and not 0 <= float(self.metric[1:]) <= 100:
            raise ParameterError(f"percentile {self.metric} must lie in p0..p100", name="metric")
        if (self.metric == "satisficing") != (self.op is not None):
            raise ParameterError(
                "satisficing needs a condition, e.g. satisficing(defect_rate <= 0.05); "
                "other metrics take none", name="metric",
            )  # fmt: skip
        sense = self.sense or KPI_SENSE.get(self.kpi)
        if sense not in ("max", "min"):
            raise ParameterError(
                f"say whether more {self.kpi} is better: sense='max' or 'min'", name="sense"
            )
        object.__setattr__(self, "sense", sense)
        if (self.bound_op is None) != (self.bound is None):
            raise ParameterError("a bound needs both bound_op and bound", name="bound")

    @property
    def label(self) -> str:
        inner = self.kpi if self.op is None else f"{self.kpi} {self.op} {self.threshold:g}"
        return f"{self.metric}({inner})"

    @property
    def higher_is_better(self) -> bool:
        if self.metric == "regret":
            return False
        return self.metric == "satisficing" or self.sense == "max"

    @property
    def needs_reference(self) -> bool:
        return self.metric == "regret"

    def values(self, kpi: np.ndarray, best: np.ndarray | None = None) -> np.ndarray:
        """Return the metric of each policy (row) over the scenarios (columns)."""
        y = np.asarray(kpi, dtype=float)
        if y.ndim != 2:
            raise ParameterError(f"{self.label}: need a (policies, scenarios) array", name="kpi")
        if self.metric == "mean":
            return np.nanmean(y, axis=1)
        if self.metric == "satisficing":
            with np.errstate(invalid="ignore"):
                return _CMP[self.op](y, self.threshold).mean(axis=1)
        if self.metric == "regret":
            if best is None:
                raise ParameterError(f"{self.label} needs the per-scenario best", name="metric")
            gap = (best[None, :] - y) if self.sense == "max" else (y - best[None, :])
            return np.nanmax(np.maximum(gap, 0.0), axis=1)
        return np.nanpercentile(y, float(self.metric[1:]), axis=1)

    def minimised(self, values: np.ndarray) -> np.ndarray:
        """Return ``values`` signed so that lower is better (pymoo minimises)."""
        return -values if self.higher_is_better else values

    def violation(self, values: np.ndarray) -> np.ndarray:
        """Return pymoo's ``G`` (<= 0 when the bound holds) for a constraint metric."""
        if self.bound_op is None:
            raise ParameterError(f"{self.label} has no bound", name="constraints")
        return (self.bound - values) if self.bound_op == ">=" else (values - self.bound)


def parse_metric(spec: str | Robustness, *, constraint: bool = False) -> Robustness:
    """Return the :class:`Robustness` written as ``spec`` (e.g. ``"p10(good_modules)"``).

    With ``constraint`` the spec must carry a bound (``"p90(defect_rate) <= 0.04"``).
    """
    if isinstance(spec, Robustness):
        metric = spec
    else:
        m = _SPEC.match(str(spec))
        if m is None:
            raise ParameterError(
                f"metric {spec!r}: write e.g. 'p10(good_modules)', 'regret(output_modules)' or "
                "'satisficing(defect_rate <= 0.05) >= 0.9'",
                name="metric",
            )
        name, kpi, op, thr, bop, bound = m.groups()
        metric = Robustness(name, kpi, op, None if thr is None else float(thr),
                            bound_op=bop, bound=None if bound is None else float(bound))  # fmt: skip
    if constraint and metric.bound is None:
        raise ParameterError(
            f"constraint {metric.label} needs a bound, e.g. '... >= 0.9'", name="constraints"
        )
    return metric


def evaluate_metrics(
    metrics: list[Robustness], kpis: dict[str, Any], best: dict[str, np.ndarray] | None
) -> np.ndarray:
    """Return an ``(n_policies, len(metrics))`` array of the metric values."""
    cols = []
    for m in metrics:
        if m.kpi not in kpis:
            raise ParameterError(
                f"{m.label}: the model has no KPI {m.kpi!r}; it has {', '.join(kpis)}",
                name="metric",
            )
        cols.append(m.values(kpis[m.kpi], None if best is None else best.get(m.kpi)))
    return np.column_stack(cols) if cols else np.zeros((0, 0))


def scenario_best(
    metrics: Sequence[Robustness], kpis: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Return the per-scenario best of every KPI a regret needs, over the evaluated policies."""
    out = {}
    for m in metrics:
        if m.needs_reference:
            y = kpis[m.kpi]
            out[m.kpi] = np.nanmax(y, axis=0) if m.sense == "max" else np.nanmin(y, axis=0)
    return out


def merge_best(
    a: dict[str, np.ndarray], b: dict[str, np.ndarray], metrics: Sequence[Robustness]
) -> dict[str, np.ndarray]:
    sense = {m.kpi: m.sense for m in metrics}
    return {k: (np.fmax if sense[k] == "max" else np.fmin)(a[k], b[k]) for k in a}
