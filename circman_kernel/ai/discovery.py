"""Scenario discovery: which region of the inputs leads to the outcomes of interest (PRIM).

:func:`discover` marks the experiments whose outcomes meet a condition (``"defect_rate >
0.06"``, ``"defect_rate > p90"`` for the 90th percentile, a callable or a boolean array)
and runs the Patient Rule Induction Method on the inputs: a sequence of ever smaller boxes
(the *peeling trajectory*), each with its

* **coverage** [-]: share of all cases of interest that lie in the box,
* **density** [-]: share of the points in the box that are cases of interest,
* **mass** [-]: share of all points that lie in the box,

and, per restricted input, its limits and a quasi-p value (a one-sided binomial test of
whether the restriction matters, Bryant and Lempert 2010). PRIM itself is the EMA
Workbench's (``ema_workbench.analysis.prim``, BSD-3; imported on the first discovery, it
takes a few seconds); this module gives it the workbench's data shapes, picks a box
(:func:`choose_box`) and stores the result as a run. :func:`cart_boxes` is the CART
alternative (scikit-learn's decision tree, one box per leaf).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.ai.discovery_data import (
    Condition,
    cases_of_interest,
    input_codes,
    input_frame,
)
from circman_kernel.core.errors import ParameterError

__all__ = [
    "Discovery",
    "cart_boxes",
    "cases_of_interest",
    "choose_box",
    "discover",
    "input_codes",
    "input_frame",
]

#: A restriction whose quasi-p value is below this is called significant.
SIGNIFICANCE = 0.05


def choose_box(trajectory: pd.DataFrame, rule: str | float | int = "balanced") -> int:
    """Return the index of the box to report from a peeling trajectory.

    ``"balanced"`` (default): the box with the largest harmonic mean of coverage and
    density (trades the two off at equal weight); a float in (0, 1]: the box with the most
    coverage among those at least that dense (the densest if none is); an int: that box.
    """
    cov, den = trajectory["coverage"].to_numpy(float), trajectory["density"].to_numpy(float)
    if isinstance(rule, bool):
        raise ParameterError("box rule must be 'balanced', a density or a box index", name="box")
    if isinstance(rule, int | np.integer):
        if not 0 <= int(rule) < len(trajectory):
            raise ParameterError(
                f"box {rule} is not on the trajectory (0..{len(trajectory) - 1})", name="box"
            )
        return int(rule)
    if rule == "balanced":
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(cov + den > 0, 2 * cov * den / (cov + den), 0.0)
        return int(np.argmax(f))
    if isinstance(rule, float) and 0.0 < rule <= 1.0:
        ok = np.flatnonzero(den >= rule)
        return int(ok[np.argmax(cov[ok])]) if ok.size else int(np.argmax(den))
    raise ParameterError(
        f"box rule {rule!r}: use 'balanced', a density in (0, 1] or an index", name="box"
    )


@dataclass
class Discovery:
    """A PRIM peeling trajectory, the chosen box and the data it was found on."""

    condition: str
    inputs: tuple[str, ...]
    trajectory: pd.DataFrame
    chosen: int
    cases: np.ndarray
    settings: dict[str, Any]
    box_lims: list[pd.DataFrame] = field(repr=False)
    qp: list[dict[str, list[float]]] = field(repr=False)
    run_id: str | None = None

    @property
    def coverage(self) -> float:
        return float(self.trajectory.loc[self.chosen, "coverage"])

    @property
    def density(self) -> float:
        return float(self.trajectory.loc[self.chosen, "density"])

    @property
    def mass(self) -> float:
        return float(self.trajectory.loc[self.chosen, "mass"])

    def limits(self, i: int | None = None) -> pd.DataFrame:
        """Return the restricted inputs of box ``i`` (default: the chosen one).

        Columns: ``min`` and ``max`` (numeric inputs; NaN for a categorical one),
        ``categories`` (the kept categories, or None), ``qp_lower`` / ``qp_upper`` (the
        quasi-p value of each restricted side, NaN when that side is not restricted),
        ``significant`` (a restricted side has qp < 0.05), ``full_min`` / ``full_max``.
        Sorted by the smaller quasi-p value (the most significant restriction first).
        """
        i = self.chosen if i is None else choose_box(self.trajectory, int(i))
        box, init = self.box_lims[i], self.box_lims[0]
        rows = []
        for name, (lo_q, hi_q) in self.qp[i].items():
            lo_q = np.nan if lo_q < 0 else lo_q
            hi_q = np.nan if hi_q < 0 else hi_q
            lo, hi = box[name].iloc[0], box[name].iloc[1]
            categorical = isinstance(lo, set | frozenset)
            rows.append({
                "input": name,
                "min": np.nan if categorical else float(lo),
                "max": np.nan if categorical else float(hi),
                "categories": tuple(sorted(map(str, lo))) if categorical else None,
                "qp_lower": lo_q, "qp_upper": hi_q,
                "significant": bool(np.nanmin([lo_q, hi_q, np.inf]) < SIGNIFICANCE),
                "full_min": np.nan if categorical else float(init[name].iloc[0]),
                "full_max": np.nan if categorical else float(init[name].iloc[1]),
            })  # fmt: skip
        frame = pd.DataFrame(rows, columns=["input", "min", "max", "categories", "qp_lower",
                                            "qp_upper", "significant", "full_min", "full_max"])  # fmt: skip
        order = np.argsort(np.fmin(frame["qp_lower"], frame["qp_upper"]).fillna(1.0).to_numpy())
        return frame.iloc[order].set_index("input")

    def inspect(self, i: int | None = None) -> tuple[pd.Series, pd.DataFrame]:
        """Return (coverage, density, mass, n, k, res_dim of box ``i``; its limits)."""
        i = self.chosen if i is None else choose_box(self.trajectory, int(i))
        return self.trajectory.loc[i].copy(), self.limits(i)

    def in_box(self, experiments: pd.DataFrame, i: int | None = None) -> np.ndarray:
        """Return which rows of ``experiments`` lie inside box ``i`` (default: the chosen)."""
        mask = np.ones(len(experiments), dtype=bool)
        for name, row in self.limits(i).iterrows():
            col = experiments[name]
            if row["categories"] is not None:
                mask &= col.astype("str").isin(row["categories"]).to_numpy()
            else:
                v = col.to_numpy(float)
                mask &= (v >= row["min"]) & (v <= row["max"])
        return mask

    def to_dict(self) -> dict[str, Any]:
        lim = self.limits()
        return {
            "condition": self.condition, "inputs": list(self.inputs), "chosen": self.chosen,
            "coverage": self.coverage, "density": self.density, "mass": self.mass,
            "n_points": int(self.cases.size), "n_interest": int(self.cases.sum()),
            "settings": dict(self.settings),
            "box": {k: (list(r["categories"]) if r["categories"] is not None
                        else [r["min"], r["max"]]) for k, r in lim.iterrows()},
            "significance": {k: float(np.nanmin([r["qp_lower"], r["qp_upper"], 1.0]))
                             for k, r in lim.iterrows()},
        }  # fmt: skip


def _prim_class() -> Any:
    with warnings.catch_warnings():
        # the workbench warns about optional parallel back-ends we do not use
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

    return prim.Prim


def discover(
    experiments: pd.DataFrame,
    outcomes: Mapping[str, np.ndarray],
    condition: Condition,
    *,
    inputs: Any = None,
    peel_alpha: float = 0.05,
    paste_alpha: float = 0.05,
    mass_min: float = 0.05,
    box: str | float | int = "balanced",
    store: Any = None,
    name: str | None = None,
) -> Discovery:
    """Return the PRIM peeling trajectory towards the cases where ``condition`` holds.

    Parameters
    ----------
    experiments : DataFrame
        One row per experiment; every column but :data:`ID_COLUMNS` is an input unless
        ``inputs`` names them. Text and boolean columns are categorical.
    outcomes : mapping
        Outcome name -> array aligned on the experiments (as from ``evaluate``).
    condition : str, callable or bool array
        See :func:`cases_of_interest`.
    peel_alpha, paste_alpha : float
        Share of the box's points peeled off / pasted back per step [-].
    mass_min : float
        Smallest mass a box may have [-].
    box : "balanced", float or int
        Which box to report (:func:`choose_box`); any other stays open to :meth:`Discovery.inspect`.
    store : RunStore, optional
        Saves the discovery as a run of kind ``"sweep"`` tagged ``discovery``: the peeling
        trajectory as trajectories (``step`` = box), the chosen box's coverage, density and
        mass as KPIs and its limits in the parameters.
    """
    start = time.perf_counter()
    cases, text = cases_of_interest(experiments, outcomes, condition)
    if not cases.any():
        raise ParameterError(f"no experiment meets {text}: loosen the condition", name="condition")
    if cases.all():
        raise ParameterError(
            f"every experiment meets {text}: tighten the condition", name="condition"
        )
    for key, v in (
        ("peel_alpha", peel_alpha),
        ("paste_alpha", paste_alpha),
        ("mass_min", mass_min),
    ):
        if not 0.0 < float(v) < 1.0:
            raise ParameterError(f"{key} must lie in (0, 1), got {v}", name=key, value=v)
    x = input_frame(experiments, inputs)
    # EMA counts y >= threshold as of interest and keeps the final box only when its
    # density reaches the threshold: any value in (0, 1] counts the True cases, a tiny one
    # keeps every trajectory (the box to report is chosen below, not by PRIM).
    with warnings.catch_warnings():
        # pandas deprecations inside the workbench's own code, not ours
        warnings.filterwarnings("ignore", module="ema_workbench")
        prim = _prim_class()(x, cases, threshold=1e-9, peel_alpha=peel_alpha,
                             paste_alpha=paste_alpha, mass_min=mass_min)  # fmt: skip
        found = prim.find_box()
    keep = ["coverage", "density", "mass", "mean", "res_dim", "n", "k"]
    trajectory = (
        found.peeling_trajectory[keep]
        .astype({"res_dim": np.int64, "n": np.int64, "k": np.int64})
        .reset_index(drop=True)
    )
    trajectory.index.name = "box"
    result = Discovery(
        condition=text, inputs=tuple(x.columns), trajectory=trajectory,
        chosen=choose_box(trajectory, box), cases=cases,
        settings={"peel_alpha": peel_alpha, "paste_alpha": paste_alpha, "mass_min": mass_min,
                  "box_rule": box if isinstance(box, str) else float(box)},
        box_lims=list(found.box_lims), qp=list(found.qp),
    )  # fmt: skip
    if store is not None:
        result.run_id = _save(store, result, name, time.perf_counter() - start)
    return result


def _save(store: Any, result: Discovery, name: str | None, duration_s: float) -> str:
    stats = ["coverage", "density", "mass", "res_dim"]
    t = result.trajectory
    long = pd.DataFrame({
        "iteration": np.zeros(len(t) * len(stats), dtype=np.int64),
        "step": np.repeat(t.index.to_numpy(np.int64), len(stats)),
        "variable": pd.array(np.tile(np.array(stats, dtype=object), len(t)), dtype="str"),
        "value": t[stats].to_numpy(float).reshape(-1),
    })  # fmt: skip
    info = result.to_dict()
    return store.save_run(
        "sweep",
        name=name or f"discovery: {result.condition}",
        tags=("discovery", "prim"),
        parameters=info,
        duration_s=duration_s,
        kpis={
            "coverage": result.coverage,
            "density": result.density,
            "mass": result.mass,
            "n_interest": float(info["n_interest"]),
            "restricted_inputs": float(t.loc[result.chosen, "res_dim"]),
        },  # fmt: skip
        trajectories=long,
    )


def cart_boxes(
    experiments: pd.DataFrame,
    outcomes: Mapping[str, np.ndarray],
    condition: Condition,
    *,
    inputs: Any = None,
    mass_min: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Return the CART boxes (one per leaf of a decision tree): rule, coverage, density, mass.

    Leaves hold at least ``mass_min`` of the points; rows are sorted by density. Categorical
    inputs enter by their category codes (a rule then names the kept categories' codes).
    """
    from sklearn.tree import DecisionTreeClassifier

    cases, _ = cases_of_interest(experiments, outcomes, condition)
    x = input_frame(experiments, inputs)
    codes = input_codes(x)
    tree = DecisionTreeClassifier(
        min_samples_leaf=max(1, int(mass_min * len(x))), random_state=seed
    )
    tree.fit(codes.to_numpy(float), cases)
    leaves = tree.apply(codes.to_numpy(float))
    t = tree.tree_
    rules: dict[int, list[str]] = {0: []}
    for node in range(t.node_count):  # parents come before children in sklearn's tree arrays
        if t.children_left[node] >= 0:
            feat, thr = x.columns[t.feature[node]], t.threshold[node]
            rules[t.children_left[node]] = [*rules[node], f"{feat} <= {thr:.6g}"]
            rules[t.children_right[node]] = [*rules[node], f"{feat} > {thr:.6g}"]
    rows = []
    for leaf in np.unique(leaves):
        inside = leaves == leaf
        rows.append({"rule": " and ".join(rules[leaf]) or "(all)",
                     "coverage": cases[inside].sum() / cases.sum(),
                     "density": cases[inside].mean(), "mass": inside.mean()})  # fmt: skip
    return pd.DataFrame(rows).sort_values("density", ascending=False, ignore_index=True)
