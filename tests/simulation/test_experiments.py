"""Levers, uncertainties and experiments crossing scenario x policy, on the real process model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from circman_kernel.core.errors import ParameterError
from circman_kernel.simulation.engine import SimulationEngine
from circman_kernel.simulation.experiments import (
    nominal_scenario,
    perform_experiments,
    run_ensemble,
)
from circman_kernel.simulation.levers import (
    Lever,
    Uncertainty,
    cross,
    sample_policies,
    sample_scenarios,
)
from circman_kernel.simulation.scenarios import run_columns_kpis

LEVERS = [Lever("target_temperature", 16.0, 30.0), Lever("cycle_time", 20.0, 60.0)]
UNCERTAIN = [
    Uncertainty("base_defect_rate", 0.005, 0.03),
    Uncertainty("temperature_noise", 0.05, 0.4, mode=0.1),
    Uncertainty("grid_region", categories=("EU_average", "China", "Sweden")),
]


def test_latin_hypercube_puts_one_draw_in_each_stratum() -> None:
    s = sample_scenarios([Uncertainty("base_defect_rate", 0.0, 0.04)], 40, seed=3)
    strata = np.floor(s["base_defect_rate"].to_numpy() / 0.001).astype(int)
    assert sorted(strata) == list(range(40))
    assert s.index.name == "scenario"


def test_distributions_follow_their_quantiles() -> None:
    n = 4000
    tri = sample_scenarios([Uncertainty("base_defect_rate", 0.0, 0.03, mode=0.01)], n, seed=1)
    v = tri["base_defect_rate"].to_numpy()
    # triangular(0, 0.01, 0.03): P(X < 0.01) = 1/3
    assert np.mean(v < 0.01) == pytest.approx(1 / 3, abs=0.01)
    normal = Uncertainty("target_temperature", 18.0, 27.0, dist=stats.norm(22.5, 1.0))
    w = sample_scenarios([normal], n, seed=2)["target_temperature"].to_numpy()
    assert w.mean() == pytest.approx(22.5, abs=0.05) and w.std() == pytest.approx(1.0, abs=0.05)
    cats = sample_scenarios([UNCERTAIN[2]], 300, seed=4)["grid_region"]
    assert isinstance(cats.dtype, pd.CategoricalDtype)
    assert cats.value_counts().to_dict() == {"EU_average": 100, "China": 100, "Sweden": 100}


def test_cross_is_every_policy_in_every_scenario() -> None:
    pol = sample_policies(LEVERS, 3, seed=1)
    sc = sample_scenarios(UNCERTAIN, 4, seed=2)
    x = cross(pol, sc)
    assert len(x) == 12 and list(x["policy"]) == [0] * 4 + [1] * 4 + [2] * 4
    assert x.loc[5, "cycle_time"] == pol["cycle_time"].iloc[1]
    assert x.loc[5, "base_defect_rate"] == sc["base_defect_rate"].iloc[1]
    with pytest.raises(ParameterError, match="both a lever and an uncertainty"):
        cross(pol, pol)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Lever("temperature_noise", 0.0, 1.0), "not a decision"),
        (lambda: Uncertainty("no_such_input", 0.0, 1.0), "unknown input"),
        (lambda: Uncertainty("base_defect_rate", 0.0, 2.0), "must lie in"),
        (lambda: Uncertainty("base_defect_rate", 0.0, 0.1, mode=0.2), "outside"),
        (lambda: Uncertainty("grid_region", 0.0, 1.0), "categories"),
        (lambda: Lever("cycle_time", categories=(20.0, 30.0)).bounds(), "needs a range"),
    ],
)
def test_bad_inputs_say_what_to_fix(make, message) -> None:
    with pytest.raises(ParameterError, match=message):
        make()


def test_a_policy_row_equals_a_lone_column_run_with_the_same_noise() -> None:
    engine = SimulationEngine()
    pol = sample_policies(LEVERS, 3, seed=1).reset_index(drop=True)
    kpis = run_ensemble(pol, pd.DataFrame(index=pd.RangeIndex(1)), config=engine, steps=60, seed=7)
    alone = run_columns_kpis(engine, pol, steps=60, seed=7, common_noise=True)
    for k in ("good_modules", "energy_kwh", "defect_rate", "carbon_kg"):
        np.testing.assert_allclose(kpis[k][:, 0], alone[k], rtol=1e-12)


def test_policies_in_one_scenario_share_its_noise() -> None:
    # Two identical policies in each scenario: same noise, so identical KPIs; the
    # scenarios differ from one another (own noise draws).
    pol = pd.DataFrame({"cycle_time": [25.0, 25.0]})
    sc = pd.DataFrame({"temperature_noise": [0.3, 0.3, 0.3]})
    kpis = run_ensemble(pol, sc, steps=50, seed=1)
    t = kpis["mean_temperature"]
    assert t.shape == (2, 3)
    np.testing.assert_array_equal(t[0], t[1])
    assert len(np.unique(t[0])) == 3


def test_chunked_policies_give_the_same_kpis() -> None:
    pol = sample_policies(LEVERS, 7, seed=3)
    sc = sample_scenarios(UNCERTAIN, 5, seed=4)
    whole = run_ensemble(pol, sc, steps=40, seed=2)
    chunked = run_ensemble(pol, sc, steps=40, seed=2, max_columns=10)
    for k in whole:
        np.testing.assert_allclose(whole[k], chunked[k], rtol=1e-12)


def test_carbon_uses_each_scenarios_impact_factors(config) -> None:
    sc = pd.DataFrame(
        {
            "grid_region": pd.Categorical(["Sweden", "China"]),
            "silicon_wafer_impact_factor": [100.0, 140.0],
        }
    )
    k = run_ensemble(pd.DataFrame(index=pd.RangeIndex(1)), sc, steps=30, seed=0)
    grid = config.impact_factors.GRID_CARBON_INTENSITIES
    glass = config.impact_factors.MATERIAL_IMPACT_FACTORS["solar_glass"]
    expected = (
        np.array([grid["Sweden"], grid["China"]]) * k["energy_kwh"][0]
        + np.array([100.0, 140.0]) * k["silicon_wafer_kg"][0]
        + glass * k["solar_glass_kg"][0]
    )
    np.testing.assert_allclose(k["carbon_kg"][0], expected)
    with pytest.raises(ParameterError, match="unknown grid_region"):
        run_ensemble(pd.DataFrame(index=pd.RangeIndex(1)),
                     pd.DataFrame({"grid_region": ["Atlantis"]}), steps=5)  # fmt: skip


def test_nominal_scenario_takes_the_configured_values() -> None:
    row = nominal_scenario(
        [
            *UNCERTAIN,
            Uncertainty("energy_impact_factor", 0.1, 0.9),
            Uncertainty("quality_decay", 0.0, 0.02, nominal=0.01),
        ]
    ).iloc[0]
    assert row["base_defect_rate"] == 0.01 and row["temperature_noise"] == 0.1
    assert row["grid_region"] == "EU_average" and row["energy_impact_factor"] == 0.5
    assert row["quality_decay"] == 0.01


def test_perform_experiments_is_stored_and_reproducible(store) -> None:
    x1, o1 = perform_experiments(LEVERS, UNCERTAIN, n_policies=4, n_scenarios=6, steps=30,
                                 seed=11, store=store, name="crossed")  # fmt: skip
    x2, o2 = perform_experiments(LEVERS, UNCERTAIN, n_policies=4, n_scenarios=6, steps=30, seed=11)
    assert len(x1) == 24 and o1["good_modules"].shape == (24,)
    pd.testing.assert_frame_equal(x1, x2)
    np.testing.assert_array_equal(o1["good_modules"], o2["good_modules"])
    runs = store.runs(kind="sweep")
    assert list(runs["name"]) == ["crossed"]
    run = store.get_run(runs["id"].iloc[0])
    assert run["tags"] == ["experiments"]
    assert run["kpis"]["good_modules"] == pytest.approx(float(o1["good_modules"].mean()))
    traj = store.trajectories(run["id"])
    assert len(traj) == 24 * len(o1) and set(traj["step"]) == {30}
