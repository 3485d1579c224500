"""Scenario discovery (PRIM) and feature scoring on samples with a planted structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import qmc

from circman_kernel.ai.discovery import cart_boxes, cases_of_interest, choose_box, discover
from circman_kernel.ai.feature_scoring import feature_scores, monte_carlo_sample
from circman_kernel.core.errors import ParameterError
from circman_kernel.simulation.levers import Uncertainty

N = 2048
T_EDGE, B_EDGE = 30.0, 0.015


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Defect rate 0.08 exactly when temperature > 30 and base defect rate > 0.015, else 0.03."""
    unit = qmc.LatinHypercube(d=3, rng=np.random.default_rng(7)).random(N)
    x = pd.DataFrame(
        {
            "target_temperature": 16.0 + 20.0 * unit[:, 0],
            "base_defect_rate": 0.005 + 0.025 * unit[:, 1],
            "irrelevant": unit[:, 2],
            "region": pd.array(
                np.random.default_rng(8).choice(["EU", "China", "Sweden"], N), dtype="str"
            ),
            "scenario": np.arange(N),  # an id column, never an input
        }
    )
    hot = (x["target_temperature"] > T_EDGE) & (x["base_defect_rate"] > B_EDGE)
    defect = np.where(hot, 0.08, 0.03) + 0.001 * unit[:, 2]
    return x, {"defect_rate": defect, "output_modules": 1700.0 - 400.0 * hot.to_numpy()}


def _direct_count(
    x: pd.DataFrame, cases: np.ndarray, limits: pd.DataFrame
) -> tuple[float, float, float]:
    inside = np.ones(len(x), dtype=bool)
    for name, row in limits.iterrows():
        inside &= (x[name] >= row["min"]).to_numpy() & (x[name] <= row["max"]).to_numpy()
    return cases[inside].sum() / cases.sum(), cases[inside].mean(), inside.mean()


def test_prim_recovers_the_planted_box(planted) -> None:
    x, outcomes = planted
    found = discover(x, outcomes, "defect_rate > 0.06")
    assert "scenario" not in found.inputs and "region" in found.inputs
    limits = found.limits()
    assert set(limits.index) == {"target_temperature", "base_defect_rate"}
    assert limits["significant"].all()
    # Each peel takes peel_alpha of the box's points: a limit is known to within that
    # share of the box's width (the sampling resolution), and the upper sides stay open.
    for name, edge, top in (
        ("target_temperature", T_EDGE, 36.0),
        ("base_defect_rate", B_EDGE, 0.03),
    ):
        row = limits.loc[name]
        assert abs(row["min"] - edge) <= 0.05 * (row["max"] - row["min"]), name
        assert row["max"] == pytest.approx(top, rel=1e-3) and np.isnan(row["qp_upper"])
    coverage, density, mass = _direct_count(x, found.cases, limits)
    assert found.coverage == pytest.approx(coverage, abs=1e-12)
    assert found.density == pytest.approx(density, abs=1e-12)
    assert found.mass == pytest.approx(mass, abs=1e-12)
    assert found.coverage > 0.95 and found.density > 0.95


def test_every_box_on_the_trajectory_can_be_inspected(planted) -> None:
    x, outcomes = planted
    found = discover(x, outcomes, "defect_rate > 0.06")
    traj = found.trajectory
    assert list(traj.columns[:3]) == ["coverage", "density", "mass"]
    assert traj["mass"].is_monotonic_decreasing and traj.loc[0, "mass"] == 1.0
    assert traj.loc[0, "density"] == pytest.approx(found.cases.mean())
    for i in (3, len(traj) // 2, len(traj) - 1):
        stats, limits = found.inspect(i)
        cov, den, mass = _direct_count(x, found.cases, limits)
        assert (stats["coverage"], stats["density"], stats["mass"]) == pytest.approx(
            (cov, den, mass)
        )
    assert found.in_box(x).sum() == traj.loc[found.chosen, "n"]


def test_conditions_as_percentile_callable_and_array(planted) -> None:
    x, outcomes = planted
    by_pct, text = cases_of_interest(x, outcomes, "defect_rate >= p90")
    assert by_pct.sum() == pytest.approx(0.1 * N, abs=1) and "p90" in text
    fn = lambda e, o: o["output_modules"] < 1500.0  # noqa: E731
    by_fn, _ = cases_of_interest(x, outcomes, fn)
    by_text, _ = cases_of_interest(x, outcomes, "defect_rate > 0.06")
    np.testing.assert_array_equal(by_fn, by_text)
    for bad, message in (("defect_rate >> 1", "write"), ("nope > 1", "unknown outcome"),
                         (np.ones(3, bool), "booleans")):  # fmt: skip
        with pytest.raises(ParameterError, match=message):
            cases_of_interest(x, outcomes, bad)
    with pytest.raises(ParameterError, match="no experiment"):
        discover(x, outcomes, "defect_rate > 1.0")


def test_box_rules() -> None:
    traj = pd.DataFrame({"coverage": [1.0, 0.9, 0.6], "density": [0.2, 0.8, 1.0]})
    assert choose_box(traj) == 1  # harmonic means 0.33, 0.85, 0.75
    assert choose_box(traj, 0.95) == 2 and choose_box(traj, 0) == 0
    with pytest.raises(ParameterError, match="not on the trajectory"):
        choose_box(traj, 5)


def test_categorical_box(planted) -> None:
    x, outcomes = planted
    cases = (x["region"] == "China").to_numpy() & (x["irrelevant"] > 0.5).to_numpy()
    found = discover(x, outcomes, cases, box=0.99)
    limits = found.limits()
    assert limits.loc["region", "categories"] == ("China",)
    assert limits.loc["irrelevant", "min"] == pytest.approx(0.5, abs=0.05)
    inside = found.in_box(x)
    assert found.density == pytest.approx(cases[inside].mean())


def test_cart_finds_the_planted_leaf(planted) -> None:
    x, outcomes = planted
    boxes = cart_boxes(x.drop(columns="region"), outcomes, "defect_rate > 0.06")
    top = boxes.iloc[0]
    assert top["density"] == 1.0 and top["coverage"] > 0.9
    assert "target_temperature > 29.9" in top["rule"] or "target_temperature > 30" in top["rule"]
    assert boxes["mass"].sum() == pytest.approx(1.0)


def test_discovery_is_stored_as_a_run(planted, store) -> None:
    x, outcomes = planted
    found = discover(x, outcomes, "defect_rate > 0.06", store=store)
    run = store.get_run(found.run_id)
    assert run["kind"] == "sweep" and "discovery" in run["tags"]
    assert run["kpis"]["coverage"] == pytest.approx(found.coverage)
    assert run["parameters"]["box"]["target_temperature"][0] == pytest.approx(
        found.limits().loc["target_temperature", "min"]
    )
    traj = store.trajectories(found.run_id)
    density = traj[traj["variable"] == "density"].sort_values("step")["value"].to_numpy()
    np.testing.assert_allclose(density, found.trajectory["density"].to_numpy())


def test_feature_scores_rank_the_planted_irrelevant_input_last(planted) -> None:
    x, outcomes = planted
    rng = np.random.default_rng(2)
    effect = {"EU": 0.0, "China": 0.6, "Sweden": -0.3}
    y = (3.0 * x["target_temperature"] / 20.0 + (x["base_defect_rate"] * 40.0) ** 2
         + x["region"].map(effect).to_numpy() + 0.05 * rng.standard_normal(N))  # fmt: skip
    scores = feature_scores(x, {"y": y.to_numpy(), "hot": outcomes["defect_rate"] > 0.06})
    assert list(scores.index)[-1] == "irrelevant"
    assert scores["y"].sum() == pytest.approx(1.0)
    assert scores["y"].idxmax() in ("target_temperature", "base_defect_rate")
    assert scores.loc["region", "y"] > 5 * scores.loc["irrelevant", "y"]
    assert scores["hot"].sort_values().index[:2].tolist() in (
        ["irrelevant", "region"],
        ["region", "irrelevant"],
    )


def test_feature_scores_on_plain_monte_carlo_runs() -> None:
    uncertain = [
        Uncertainty("base_defect_rate", 0.005, 0.03),
        Uncertainty("temperature_noise", 0.05, 0.5),
        Uncertainty("solar_glass_impact_factor", 10.0, 40.0),  # moves carbon only
        Uncertainty("grid_region", categories=("Sweden", "China")),
    ]
    x, out = monte_carlo_sample(uncertain, 300, steps=48, seed=4)
    assert len(x) == 300 and out["defect_rate"].shape == (300,)
    scores = feature_scores(x, out, ["defect_rate", "carbon_kg"], seed=1)
    assert scores["defect_rate"].idxmax() == "base_defect_rate"
    assert scores["defect_rate"].idxmin() in ("solar_glass_impact_factor", "grid_region")
    assert scores["carbon_kg"].idxmax() == "grid_region"
    with pytest.raises(ParameterError, match="unknown outcome"):
        feature_scores(x, out, ["nope"])
