"""Sentences for the guided notebooks, written from the numbers they explain.

Where a notebook's text depends on a computed result (a verdict, a sign, a ranking, which
scenario changed nothing), the notebook prints one of these instead of fixed prose, so
the words cannot contradict the numbers when the model, a seed or the configuration
changes. Each function takes the package's own result object and returns plain text
(Markdown-friendly); :func:`non_dominated` is the check behind the Pareto plot's claim.

>>> import pandas as pd
>>> front = pd.DataFrame({"good": [1.0, 2.0, 2.0, 3.0], "carbon": [1.0, 2.0, 3.0, 3.0]})
>>> non_dominated(front, maximise="good", minimise="carbon").tolist()
[True, True, False, True]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "honesty_story",
    "lca_units_story",
    "non_dominated",
    "pareto_story",
    "scenario_story",
    "sensitivity_story",
]


# ----------------------------------------------------------------------------- 04
def honesty_story(result: Any, *, before: Any = None) -> str:
    """Say what the honesty check of ``result`` found, in the verdict's own terms.

    With ``before`` (an earlier result), say whether this verdict agrees with that one.
    """
    h = result.honesty
    verdict = result.verdict
    if h is None:
        text = "The optimum was not re-run through the process model (no honesty check)."
    elif verdict == "reproduced":
        text = (
            f"Verdict: reproduced. The process model confirms the gain beyond its noise, "
            f"{h.reproduced_share:.0%} of what the surrogate promised."
        )
    elif verdict == "partly reproduced":
        text = (
            f"Verdict: partly reproduced. The gain is real (the process model shows "
            f"{h.simulated_improvement:+.3g}, beyond its Monte Carlo noise), but only "
            f"{h.reproduced_share:.0%} of the {h.predicted_improvement:+.3g} the surrogate "
            "promised: believe the process model's number."
        )
    elif verdict == "not reproduced":
        text = (
            f"Verdict: not reproduced. The surrogate promised {h.predicted_improvement:+.3g}; "
            f"the process model shows {h.simulated_improvement:+.3g}, no gain beyond its "
            "noise: the promise comes from the surrogate's fit, not from the line."
        )
    else:
        text = f"Verdict: {verdict}."
    if before is not None and before.honesty is not None and h is not None:
        same = before.honesty.reproduced == h.reproduced
        text += (
            " As before, the process model "
            + ("confirms a gain." if h.reproduced else "shows no gain.")
            if same
            else " Unlike the first optimum, the process model "
            + ("now confirms a gain." if h.reproduced else "shows no gain this time.")
        )
    return text


def non_dominated(front: pd.DataFrame, *, maximise: str, minimise: str) -> np.ndarray:
    """Return a mask of the rows no other row dominates on the two plotted objectives.

    A row dominates another when it is at least as good on both (``maximise`` higher,
    ``minimise`` lower) and strictly better on one; equal rows do not dominate each other.
    """
    up = front[maximise].to_numpy(dtype=float)
    down = front[minimise].to_numpy(dtype=float)
    better_eq = (up[:, None] >= up[None, :]) & (down[:, None] <= down[None, :])
    strictly = (up[:, None] > up[None, :]) | (down[:, None] < down[None, :])
    dominated = (better_eq & strictly).any(axis=0)
    return ~dominated


def pareto_story(front: pd.DataFrame, *, good: str, carbon: str, lever: str) -> str:
    """Describe the trade-off of a two-objective front: its ends and the price of output."""
    mask = non_dominated(front, maximise=good, minimise=carbon)
    points = front.loc[mask].drop_duplicates(subset=[good, carbon]).sort_values(good)
    low, high = points.iloc[0], points.iloc[-1]
    slope = (high[carbon] - low[carbon]) / (high[good] - low[good])
    corr = float(np.corrcoef(points[good], points[carbon])[0, 1])
    return (
        f"{len(points)} settings are mutually non-dominated: none makes more good modules "
        f"with less carbon than another. From {low[good]:.0f} good modules at "
        f"{low[carbon] / 1000:.1f} t CO2-eq ({lever} {low[lever]:.1f} s) to "
        f"{high[good]:.0f} at {high[carbon] / 1000:.1f} t ({lever} {high[lever]:.1f} s), "
        f"each extra good module costs about {slope:.0f} kg CO2-eq (correlation "
        f"{corr:+.2f}: more output, more carbon)."
    )


# ----------------------------------------------------------------------------- 03
def scenario_story(
    table: pd.DataFrame,
    scenarios: Mapping[str, Mapping[str, float]],
    band: tuple[float, float],
    *,
    baseline: str = "baseline",
) -> str:
    """Explain the scenarios whose KPIs do not differ from the baseline at all."""
    pct = table.filter(like="_pct")
    unchanged = [n for n in table.index if n != baseline and bool((pct.loc[n].abs() < 1e-9).all())]
    if not unchanged:
        return "Every scenario changes at least one KPI against the baseline."
    lines = []
    low, high = band
    for name in unchanged:
        params = dict(scenarios.get(name, {}))
        setpoint = params.get("target_temperature")
        if setpoint is not None and low <= setpoint <= high:
            lines.append(
                f"'{name}' changes nothing (0 % on every KPI): its set-point of {setpoint:g} °C "
                f"keeps the line inside its {low:g}–{high:g} °C band, and inside the band the "
                "model's efficiency, defects and power do not depend on the temperature. "
                "Cooling pays only where the line would otherwise leave its band."
            )
        else:
            lines.append(
                f"'{name}' changes no KPI against the baseline ({params or 'no overrides'})."
            )
    return "\n".join(lines)


def sensitivity_story(ranking: pd.DataFrame) -> str:
    """Explain sensitivity indices that are negative or not distinguishable from zero."""
    weak = ranking[(ranking["S1"] < 0) | (ranking["S1"].abs() < ranking["S1_conf"])]
    if weak.empty:
        return "Every first-order index is clearly above zero."
    parts = [f"{name}: S1 = {row.S1:+.3f} ± {row.S1_conf:.3f}" for name, row in weak.iterrows()]
    negative = bool((weak["S1"] < 0).any())
    return (
        "Not distinguishable from zero: " + "; ".join(parts) + ". "
        + (
            "A variance share cannot be negative: RBD-FAST estimates S1 from a finite "
            "sample, and an estimate below zero means no measurable influence (the true "
            "value lies within the ± interval). "
            if negative
            else ""
        )
        + "Rank such parameters by PAWN (pawn_median) if you need an order among them."
    )  # fmt: skip


# ----------------------------------------------------------------------------- 05
def lca_units_story(impact: Any) -> str:
    """Say what the per-module score counts and how it relates to the batch's totals."""
    n = impact.n_modules
    net = impact.net_impact
    per = impact.impact_per_module
    return (
        f"impact_per_module ({per:,.2f} kg CO2-eq) is the embodied footprint of one module: "
        f"(manufacturing {impact.manufacturing_impact:,.0f} + end of life "
        f"{impact.end_of_life_impact:,.0f} + recycling credit {impact.recycling_benefit:,.0f}) "
        f"/ {n:g} modules. It leaves the use phase ({impact.use_phase_impact:,.0f}, the grid "
        f"electricity the modules displace) out: that is what the modules do, not what they "
        f"are. With it the batch's net total is {net:,.0f} kg CO2-eq "
        f"({'a net saving' if net < 0 else 'a net burden'}), {net / n:,.0f} per module; "
        f"total_impact ({impact.total_impact:,.0f}) is the same without the recycling credit."
        if n and math.isfinite(per)
        else "No module count was given, so there is no per-module score."
    )
