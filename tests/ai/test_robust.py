"""Robust optimisation: metrics by hand, a fragile nominal optimum, reproducibility, the run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from circman_kernel.ai.robust import robust_optimize
from circman_kernel.ai.robust_metrics import Robustness, parse_metric
from circman_kernel.core.errors import OptimizationError, ParameterError
from circman_kernel.simulation.levers import Lever, Uncertainty

LEVER = [Lever("target_temperature", 16.0, 30.0)]
# The line's upper temperature limit is uncertain (24..28 degC); nominally it is 28.
BAND = [Uncertainty("temperature_high", 24.0, 28.0, nominal=28.0)]


def cliff(policies: pd.DataFrame, scenarios: pd.DataFrame) -> dict[str, np.ndarray]:
    """Output grows with the set-point up to the scenario's limit and collapses beyond it."""
    x = policies["target_temperature"].to_numpy()[:, None]
    limit = scenarios["temperature_high"].to_numpy()[None, :]
    good = np.where(x <= limit, x, x - 20.0 * (x - limit))
    return {"good_modules": good, "defect_rate": np.where(x <= limit, 0.02, 0.2) + 0.0 * limit}


def test_metrics_by_hand() -> None:
    y = np.array([[1.0, 2.0, 3.0, 4.0], [4.0, 4.0, 0.0, 4.0]])
    best = np.array([4.0, 4.0, 3.0, 4.0])
    assert Robustness("mean", "good_modules").values(y).tolist() == [2.5, 3.0]
    assert parse_metric("p50(good_modules)").values(y).tolist() == [2.5, 4.0]
    assert parse_metric("regret(good_modules)").values(y, best).tolist() == [3.0, 3.0]
    share = parse_metric("satisficing(good_modules >= 3) >= 0.5", constraint=True)
    assert share.values(y).tolist() == [0.5, 0.75]
    assert share.violation(share.values(y)).tolist() == [0.0, -0.25]
    low = parse_metric("regret(defect_rate)")  # less is better: regret is the excess
    assert low.values(np.array([[0.03, 0.01]]), np.array([0.02, 0.01])).tolist() == pytest.approx(
        [0.01]
    )
    assert parse_metric("p10(good_modules)").minimised(np.array([2.0])).tolist() == [-2.0]
    for bad in (
        "p10 good_modules",
        "satisficing(defect_rate)",
        "mean(mystery)",
        "p120(good_modules)",
    ):
        with pytest.raises(ParameterError):
            parse_metric(bad)
    with pytest.raises(ParameterError, match="needs a bound"):
        parse_metric("p90(defect_rate)", constraint=True)


@pytest.fixture(scope="module")
def fragile():
    return robust_optimize(LEVER, BAND, objectives=["p10(good_modules)"], model=cliff,
                           population=24, generations=15, n_scenarios=64, seed=5)  # fmt: skip


def test_robust_choice_beats_the_fragile_nominal_optimum(fragile) -> None:
    # Nominally the limit is 28 degC, so the nominal optimum sits at the cliff's edge.
    assert fragile.nominal["target_temperature"] == pytest.approx(28.0, abs=0.05)
    limits = fragile.scenarios["temperature_high"].to_numpy()
    assert fragile.chosen["target_temperature"] == pytest.approx(np.percentile(limits, 10), abs=0.1)
    comp = fragile.comparison
    assert comp.loc["p10(good_modules)", "robust"] > comp.loc["p10(good_modules)", "nominal"] + 10
    assert comp.loc["p10(good_modules)", "better"] == "robust"
    # the table is a direct evaluation of both points in every scenario
    np.testing.assert_allclose(fragile.per_scenario["good_modules"],
                               cliff(pd.DataFrame([fragile.chosen, fragile.nominal]), fragile.scenarios)["good_modules"])  # fmt: skip
    assert comp.loc["mean(good_modules)", "robust"] == pytest.approx(
        fragile.per_scenario["good_modules"][0].mean()
    )
    assert fragile.honesty.verdict == "reproduced" and fragile.honesty.simulated_improvement > 10


def test_lower_regret_and_a_two_objective_front() -> None:
    res = robust_optimize(LEVER, BAND, objectives=["regret(good_modules)", "mean(defect_rate)"],
                          model=cliff, population=24, generations=15, n_scenarios=32, seed=2)  # fmt: skip
    comp = res.comparison
    assert (
        comp.loc["regret(good_modules)", "robust"] < comp.loc["regret(good_modules)", "nominal"] / 5
    )
    assert list(res.front.columns) == [
        "target_temperature",
        "regret(good_modules)",
        "mean(defect_rate)",
    ]
    assert res.front["regret(good_modules)"].is_monotonic_increasing


def test_same_seed_same_front() -> None:
    kwargs = dict(objectives=["p10(good_modules)", "mean(good_modules)"], model=cliff,
                  population=16, generations=8, n_scenarios=16, honesty=False)  # fmt: skip
    a = robust_optimize(LEVER, BAND, seed=9, **kwargs)
    b = robust_optimize(LEVER, BAND, seed=9, **kwargs)
    c = robust_optimize(LEVER, BAND, seed=10, **kwargs)
    pd.testing.assert_frame_equal(a.front, b.front)
    assert a.chosen == b.chosen
    assert not c.scenarios.equals(a.scenarios)


def test_constraints_bind_and_infeasible_ones_say_so() -> None:
    res = robust_optimize(LEVER, BAND, objectives=["mean(good_modules)"],
                          constraints=["satisficing(defect_rate <= 0.05) >= 0.95"], model=cliff,
                          population=24, generations=15, n_scenarios=64, seed=3)  # fmt: skip
    assert res.comparison.loc["satisficing(defect_rate <= 0.05)", "robust"] >= 0.95
    with pytest.raises(OptimizationError, match="constraints"):
        robust_optimize(LEVER, BAND, constraints=["p90(defect_rate) <= 0.001"], model=cliff,
                        population=8, generations=2, n_scenarios=8, honesty=False)  # fmt: skip


def test_process_model_run_is_stored(store) -> None:
    levers = [Lever("cycle_time", 20.0, 60.0), Lever("target_temperature", 18.0, 28.0)]
    uncertain = [Uncertainty("silicon_wafer_replenishment", 0.0, 6.0),
                 Uncertainty("base_defect_rate", 0.005, 0.03)]  # fmt: skip
    res = robust_optimize(levers, uncertain, objectives=["p10(good_modules)", "mean(energy_per_module_kwh)"],
                          population=12, generations=4, n_scenarios=8, steps=60, seed=1,
                          store=store, name="robust line")  # fmt: skip
    assert res.timing["model_share"] > 0.0 and res.timing["model_columns"] >= 12 * 8 * 4
    run = store.get_run(res.run_id)
    assert (
        run["kind"] == "optimization" and "robust" in run["tags"] and run["name"] == "robust line"
    )
    assert run["kpis"]["robust: p10(good_modules)"] == pytest.approx(
        res.comparison.loc["p10(good_modules)", "robust"]
    )
    conv = store.trajectories(res.run_id)
    assert set(conv["step"]) == set(range(1, 5)) and set(conv["iteration"]) == {0, 1}
    assert res.honesty is not None and res.honesty.iterations >= 2
