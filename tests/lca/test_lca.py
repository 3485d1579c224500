"""LCA: hand-worked phases, invariants, bad input, Monte Carlo, profiles, twin integration."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circman_kernel.core.config_schema import ImpactFactors
from circman_kernel.core.errors import (
    ConfigError,
    NotInitializedError,
    ParameterError,
    StateValidationError,
)
from circman_kernel.core.state_schema import default_state
from circman_kernel.lca.analyzer import LCAAnalyzer
from circman_kernel.lca.factors import PHASES, available_profiles, sample_factor_multipliers
from circman_kernel.lca.integration import LCAIntegration
from circman_kernel.lca.results import LifeCycleImpact

ALL = {
    "silicon_wafer": 2.0,
    "solar_glass": 10.0,
    "aluminum_frame": 3.0,
    "copper_wiring": 0.5,
    "silver_paste": 0.02,
    "EVA_encapsulant": 1.0,
    "backsheet": 0.8,
}

# (inputs, expected manufacturing, use, end of life, recycling, total), worked by hand with
# the manual's factors; transport 0.025 kg CO2-eq per tonne-km.
CASES = {
    "two materials": (
        dict(
            material_inputs={"silicon_wafer": 2.0, "solar_glass": 10.0},
            energy_consumption=10.0,
            lifetime_years=25,
            annual_energy_generation=400.0,
            grid_carbon_intensity=0.275,
            recycling_rates={"silicon_wafer": 0.9, "solar_glass": 0.5},
            transport_distance=100.0,
        ),
        # 2*120 + 10*25 + 10*0.5; 10000*0.01 - 10000*0.275; 2*0.1*10 + 10*0.5*5 + 12e-3*100*0.025;
        # 2*0.9*-80 + 10*0.5*-20
        # total = first three (manual 16.3.3), net = total + recycling credit (module D)
        (495.0, -2650.0, 27.03, -244.0, -2127.97, -2371.97),
    ),
    "all materials, EU grid by name": (
        dict(
            material_inputs=ALL,
            energy_consumption=10.0,
            lifetime_years=25,
            annual_energy_generation=400.0,
            grid_carbon_intensity="EU_average",
            recycling_rates={"silicon_wafer": 0.9, "solar_glass": 0.5, "aluminum_frame": 0.95},
            transport_distance=100.0,
        ),
        # 660.9 + 5; disposal 2 + 25 + 1.2 + 3.5 + 0.3 + 12 + 11.2, transport 17.32e-3*100*0.025
        (665.9, -2650.0, 55.2433, -343.75, -1928.8567, -2272.6067),
    ),
    "Germany, nothing recycled, long haul": (
        dict(
            material_inputs={"aluminum_frame": 20.0, "copper_wiring": 1.0},
            energy_consumption=50.0,
            lifetime_years=30,
            annual_energy_generation=300.0,
            grid_carbon_intensity="Germany",
            recycling_rates={},
            transport_distance=500.0,
        ),
        # 800 + 35 + 25; 90 - 9000*0.338; 160 + 7 + 21e-3*500*0.025
        (860.0, -2952.0, 167.2625, 0.0, -1924.7375, -1924.7375),
    ),
    "everything recycled, no use": (
        dict(
            material_inputs={"silver_paste": 0.1, "silicon_wafer": 1.0},
            energy_consumption=0.0,
            lifetime_years=0,
            annual_energy_generation=0.0,
            grid_carbon_intensity=0.0,
            recycling_rates={"silver_paste": 1.0, "silicon_wafer": 1.0},
            transport_distance=0.0,
        ),
        (140.0, 0.0, 0.0, -98.0, 140.0, 42.0),
    ),
}


@pytest.fixture(scope="module")
def an() -> LCAAnalyzer:
    return LCAAnalyzer()


@pytest.mark.parametrize("case", CASES)
def test_hand_worked_phases(an: LCAAnalyzer, case: str) -> None:
    inputs, expected = CASES[case]
    impact = an.perform_full_lca(**inputs)
    got = [getattr(impact, p) for p in PHASES] + [impact.total_impact, impact.net_impact]
    assert got == pytest.approx(expected, abs=1e-9)
    # The single-phase methods give the same numbers.
    q, rates = inputs["material_inputs"], inputs["recycling_rates"]
    assert an.calculate_manufacturing_impact(q, inputs["energy_consumption"]) == pytest.approx(
        expected[0]
    )
    assert an.calculate_use_phase_impact(
        inputs["lifetime_years"],
        inputs["annual_energy_generation"],
        inputs["grid_carbon_intensity"],
    ) == pytest.approx(expected[1])
    assert an.calculate_end_of_life_impact(q, rates, inputs["transport_distance"]) == pytest.approx(
        expected[2]
    )
    assert an.calculate_recycling_benefit(q, rates) == pytest.approx(expected[3], abs=1e-12)


def test_breakdown_sums_to_phases(an: LCAAnalyzer) -> None:
    impact = an.perform_full_lca(**CASES["all materials, EU grid by name"][0])
    frame = impact.to_frame()
    assert list(frame.index[:7]) == list(ALL)
    assert list(frame.index[7:]) == ["energy", "transport", "operation", "avoided_grid"]
    sums = frame.sum()
    for phase in PHASES:
        assert sums[phase] == pytest.approx(getattr(impact, phase), abs=1e-9)
    assert frame.loc["silicon_wafer"].tolist() == pytest.approx(
        [240.0, 0.0, 2.0, -144.0, 242.0, 98.0]
    )
    assert frame.loc["avoided_grid", "use_phase_impact"] == pytest.approx(-2750.0)
    d = impact.to_dict()
    assert d["total_impact"] == pytest.approx(-1928.8567)
    assert d["net_impact"] == pytest.approx(-2272.6067)
    assert d["breakdown"]["transport"]["end_of_life_impact"] == pytest.approx(0.0433)
    json.dumps(d)  # JSON-ready


def test_fast_construction_sets_every_field(an: LCAAnalyzer) -> None:
    impact = an.perform_full_lca(**CASES["two materials"][0], n_modules=2)
    assert set(vars(impact)) == {f.name for f in dataclasses.fields(LifeCycleImpact)}
    rebuilt = LifeCycleImpact(**vars(impact))
    assert rebuilt.to_dict() == impact.to_dict()
    with pytest.raises(dataclasses.FrozenInstanceError):
        impact.total = 1.0  # type: ignore[attr-defined]


def test_every_array_of_an_assessment_is_read_only(an: LCAAnalyzer) -> None:
    impact = an.perform_full_lca(**CASES["two materials"][0], n_modules=2)
    frame, d = impact.to_frame(), impact.to_dict()
    for name in ("activity", "factors"):
        array = getattr(impact, name)
        assert not array.flags.writeable, name
        with pytest.raises(ValueError, match="read-only"):
            array[0, 0] = 1e9 if array.ndim == 2 else 0.0
        with pytest.raises(ValueError, match="read-only"):
            array *= 2.0
    pd.testing.assert_frame_equal(impact.to_frame(), frame)
    assert impact.to_dict() == d
    assert impact.manufacturing_impact == pytest.approx(495.0)
    # Built by hand from the caller's arrays: the value keeps its own read-only copies.
    mine = impact.activity.copy()
    rebuilt = LifeCycleImpact(**{**vars(impact), "activity": mine})
    assert mine.flags.writeable and not rebuilt.activity.flags.writeable
    mine[0, 0] = 1e9
    assert rebuilt.to_dict() == d
    # The Monte Carlo distribution is frozen the same way.
    mc = an.monte_carlo(**CASES["two materials"][0], samples=50, seed=1)
    for array in (mc.samples, mc.spreads, mc.deterministic.activity):
        assert not array.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        mc.spreads[0] = 5.0


def test_life_cycle_impact_is_frozen_and_manual_compatible() -> None:
    impact = LifeCycleImpact(1.0, -2.0, 3.0, -4.0)
    assert impact.total_impact == 2.0  # manufacturing + use + end of life (manual 16.3.3)
    assert impact.net_impact == -2.0  # with the recycling credit (module D)
    with pytest.raises(AttributeError):
        impact.manufacturing_impact = 5.0  # type: ignore[misc]
    assert impact.to_frame().loc["total", "total_impact"] == 2.0
    assert impact.to_frame().loc["total", "net_impact"] == -2.0


def test_functional_units(an: LCAAnalyzer) -> None:
    impact = an.perform_full_lca(**CASES["two materials"][0], n_modules=2)
    embodied = 495.0 + 27.03 - 244.0
    assert impact.embodied_impact == pytest.approx(embodied)
    assert impact.impact_per_module == pytest.approx(embodied / 2)
    assert impact.capacity_kwp == pytest.approx(0.8)  # 2 modules x 0.4 kWp
    assert impact.impact_per_kwp == pytest.approx(embodied / 0.8)
    assert impact.impact_per_kwh == pytest.approx((embodied + 100.0) / 10_000)
    assert impact.energy_payback_time_years == pytest.approx(10.0 / 400.0)
    assert impact.carbon_payback_time_years == pytest.approx(embodied / (400 * (0.275 - 0.01)))
    # Without modules or generation the per-unit scores are NaN, never a silent 0.
    bare = an.perform_full_lca(**CASES["everything recycled, no use"][0])
    assert math.isnan(bare.impact_per_module) and math.isnan(bare.impact_per_kwh)
    assert bare.carbon_payback_time_years == math.inf
    explicit = an.perform_full_lca(**CASES["two materials"][0], n_modules=2, capacity_kwp=1.0)
    assert explicit.impact_per_kwp == pytest.approx(embodied)


rate = st.floats(0.0, 1.0)
qty = st.floats(0.0, 1e4)
materials = st.dictionaries(st.sampled_from(list(ALL)), qty, min_size=1)


@settings(max_examples=150, deadline=None)
@given(materials, st.data())
def test_more_recycling_never_raises_end_of_life(q: dict, data: st.DataObject) -> None:
    an = LCAAnalyzer()
    low = {m: data.draw(rate) for m in q}
    high = {m: data.draw(st.floats(low[m], 1.0)) for m in q}
    before = an.calculate_end_of_life_impact(q, low, 100.0) + an.calculate_recycling_benefit(q, low)
    after = an.calculate_end_of_life_impact(q, high, 100.0) + an.calculate_recycling_benefit(
        q, high
    )
    assert after <= before + 1e-9 * max(1.0, abs(before))


@settings(max_examples=150, deadline=None)
@given(materials, st.floats(0.0, 1e5), st.floats(0.0, 1e5), st.data())
def test_longer_transport_never_lowers_end_of_life(
    q: dict, d1: float, d2: float, data: st.DataObject
) -> None:
    an = LCAAnalyzer()
    rates = {m: data.draw(rate) for m in q}
    near, far = sorted((d1, d2))
    assert an.calculate_end_of_life_impact(q, rates, far) >= an.calculate_end_of_life_impact(
        q, rates, near
    )


@settings(max_examples=150, deadline=None)
@given(
    materials,
    st.floats(0.0, 1e6),
    st.floats(0.0, 50.0),
    st.floats(0.0, 1e5),
    st.one_of(st.floats(0.0, 2.0), st.sampled_from(["China", "Sweden"])),
    st.data(),
)
def test_total_is_sum_of_phases(q, energy, years, annual, grid, data) -> None:
    an = LCAAnalyzer()
    rates = {m: data.draw(rate) for m in q}
    impact = an.perform_full_lca(q, energy, years, annual, grid, rates, 250.0)
    phases = [getattr(impact, p) for p in PHASES]
    assert impact.total_impact == pytest.approx(sum(phases[:3]), rel=1e-12, abs=1e-9)
    assert impact.net_impact == pytest.approx(sum(phases), rel=1e-12, abs=1e-9)
    assert impact.recycling_benefit <= 0.0 <= impact.end_of_life_impact
    assert impact.manufacturing_impact == pytest.approx(
        an.calculate_manufacturing_impact(q, energy)
    )


BAD = {
    "negative quantity": ({"material_inputs": {"silicon_wafer": -1.0}}, "outside"),
    "rate above 1": ({"recycling_rates": {"silicon_wafer": 1.5}}, "outside [0.0, 1.0]"),
    "rate below 0": ({"recycling_rates": {"solar_glass": -0.1}}, "outside"),
    "unknown material": (
        {"material_inputs": {"unobtanium": 1.0}},
        "known materials: silicon_wafer",
    ),
    "unknown rate material": ({"recycling_rates": {"glas": 0.5}}, "EVA_encapsulant"),
    "unknown region": ({"grid_carbon_intensity": "Atlantis"}, "known regions: EU_average"),
    "NaN quantity": ({"material_inputs": {"silicon_wafer": float("nan")}}, "NaN"),
    "NaN energy": ({"energy_consumption": float("nan")}, "NaN"),
    "NaN grid": ({"grid_carbon_intensity": float("nan")}, "NaN"),
    "infinite distance": ({"transport_distance": float("inf")}, "infinite"),
    "negative lifetime": ({"lifetime_years": -1}, "outside"),
    "string quantity": ({"material_inputs": {"silicon_wafer": "2"}}, "expected a number"),
    "bool energy": ({"energy_consumption": True}, "expected a number"),
    "list of inputs": ({"material_inputs": [2.0]}, "expected a mapping"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_raises_parameter_error(an: LCAAnalyzer, case: str) -> None:
    change, message = BAD[case]
    inputs = {**CASES["two materials"][0], **change}
    with pytest.raises(ParameterError, match=message.replace("[", r"\[").replace("]", r"\]")):
        an.perform_full_lca(**inputs)


def test_numpy_scalars_are_accepted(an: LCAAnalyzer) -> None:
    impact = an.perform_full_lca(
        {"silicon_wafer": np.float32(2.0)},
        np.int64(10),
        25,
        400.0,
        0.275,
        {"silicon_wafer": np.float64(0.5)},
        10,
    )
    assert impact.manufacturing_impact == pytest.approx(245.0)


# ----------------------------------------------------------------------------- Monte Carlo


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("distribution", ["lognormal", "normal"])
def test_monte_carlo_zero_spread_is_deterministic(an: LCAAnalyzer, case: str, distribution: str):
    inputs = CASES[case][0]
    mc = an.monte_carlo(**inputs, samples=50, spread=0.0, distribution=distribution, seed=1)
    expected = [getattr(mc.deterministic, p) for p in PHASES]
    assert mc.samples.shape == (50, 4)
    np.testing.assert_array_equal(mc.samples, np.tile(expected, (50, 1)))
    np.testing.assert_allclose(mc["total_impact"], CASES[case][1][4], atol=1e-9)
    np.testing.assert_allclose(mc["net_impact"], CASES[case][1][5], atol=1e-9)


def test_monte_carlo_same_seed_same_distribution(an: LCAAnalyzer) -> None:
    inputs = CASES["all materials, EU grid by name"][0]
    a = an.monte_carlo(**inputs, samples=2000, seed=42)
    b = an.monte_carlo(**inputs, samples=2000, seed=np.random.default_rng(42))
    c = an.monte_carlo(**inputs, samples=2000, seed=43)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, c.samples)
    assert a.percentiles().equals(b.percentiles())


def test_monte_carlo_distribution_is_centred_and_spread(an: LCAAnalyzer) -> None:
    inputs = CASES["two materials"][0]
    mc = an.monte_carlo(**inputs, samples=20_000, seed=7)
    table = mc.percentiles()
    assert list(table.columns) == ["p5", "p50", "p95", "mean", "std", "deterministic"]
    assert list(table.index) == [*PHASES, "total_impact", "net_impact"]
    # Mean-preserving multipliers: the mean of every phase is the deterministic value.
    for phase, row in table.iterrows():
        assert row["mean"] == pytest.approx(row["deterministic"], rel=0.01, abs=0.5), phase
        assert row["p5"] < row["p50"] < row["p95"]
    # Manufacturing: 240 and 250 kg at 20 % spread, 5 kg at 10 % -> std ~ sqrt(48^2+50^2+0.5^2).
    assert table.loc["manufacturing_impact", "std"] == pytest.approx(69.3, rel=0.05)
    # Lognormal keeps signs: the recycling credit never turns into a burden.
    assert (mc["recycling_benefit"] <= 0).all()
    assert mc.to_frame().shape == (20_000, 6)


def test_monte_carlo_spread_overrides(an: LCAAnalyzer) -> None:
    inputs = CASES["two materials"][0]
    only_si = an.monte_carlo(
        **inputs,
        samples=5000,
        seed=1,
        spread={
            **dict.fromkeys(an.impact_factors.FACTOR_UNCERTAINTY, 0.0),
            "MATERIAL_IMPACT_FACTORS.silicon_wafer": 0.1,
        },
    )
    mfg = only_si["manufacturing_impact"]
    assert mfg.std() == pytest.approx(24.0, rel=0.05)  # 240 kg CO2-eq x 10 %
    np.testing.assert_array_equal(only_si["use_phase_impact"], -2650.0)
    with pytest.raises(ParameterError, match="no entry 'unobtanium'"):
        an.monte_carlo(**inputs, samples=10, spread={"MATERIAL_IMPACT_FACTORS.unobtanium": 0.1})
    with pytest.raises(ParameterError, match="unknown factor group"):
        an.monte_carlo(**inputs, samples=10, spread={"LUCK": 0.1})
    with pytest.raises(ParameterError, match="samples"):
        an.monte_carlo(**inputs, samples=0)
    with pytest.raises(ParameterError, match="distribution"):
        an.monte_carlo(**inputs, samples=10, distribution="uniform")


def test_sample_multipliers_moments() -> None:
    m = sample_factor_multipliers(
        np.array([0.0, 0.3, 0.3]), 200_000, np.random.default_rng(0), "lognormal"
    )
    assert (m[:, 0] == 1.0).all()
    assert m[:, 1].mean() == pytest.approx(1.0, abs=0.005)
    assert m[:, 1].std() == pytest.approx(0.3, rel=0.02)
    assert (m > 0).all()


# ----------------------------------------------------------------------------- profiles


def test_profiles_by_name_path_mapping(config, tmp_path) -> None:
    assert {"default", "low_carbon_grid", "coal_heavy_grid"} <= set(available_profiles())
    inputs = CASES["two materials"][0]
    base = LCAAnalyzer().perform_full_lca(**inputs)
    low = LCAAnalyzer("low_carbon_grid")
    assert low.profile_name == "low_carbon_grid"
    assert (
        low.impact_factors.MATERIAL_IMPACT_FACTORS == config.impact_factors.MATERIAL_IMPACT_FACTORS
    )
    # Only the energy factor changes: 10 kWh x (0.5 - 0.03).
    assert base.manufacturing_impact - low.perform_full_lca(**inputs).manufacturing_impact == (
        pytest.approx(4.7)
    )
    assert LCAAnalyzer("coal_heavy_grid").calculate_use_phase_impact(1, 100.0, "Poland") == (
        pytest.approx(1.0 - 75.0)
    )
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"TRANSPORT_MASS_UNIT_KG": 1.0}))
    per_kg_km = LCAAnalyzer(str(path))
    # Factor read per kg-km: 12 kg x 100 km x 0.025 = 30 kg CO2-eq of transport.
    assert per_kg_km.calculate_end_of_life_impact(inputs["material_inputs"], {}, 100.0) == (
        pytest.approx(20.0 + 50.0 + 30.0)
    )
    mapped = LCAAnalyzer({"ENERGY_IMPACT_FACTOR": 1.0})
    assert mapped.calculate_manufacturing_impact({}, 10.0) == 10.0
    assert (
        LCAAnalyzer(ImpactFactors(ENERGY_IMPACT_FACTOR=2.0)).calculate_manufacturing_impact(
            {}, 10.0
        )
        == 20.0
    )
    assert LCAAnalyzer(config).profile_name == "default"


def test_bad_profiles(tmp_path) -> None:
    with pytest.raises(ParameterError, match="known profiles: default.*low_carbon_grid"):
        LCAAnalyzer("no_such_profile")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"ENERGY_IMPACT_FACTOR": -1.0}))
    with pytest.raises(ConfigError, match="ENERGY_IMPACT_FACTOR"):
        LCAAnalyzer(bad)
    with pytest.raises(ConfigError, match="FACTOR_UNCERTAINTY"):
        LCAAnalyzer({"FACTOR_UNCERTAINTY": {"LUCK": 0.1}})
    with pytest.raises(ConfigError, match="RECYCLING_BENEFIT_FACTORS"):
        LCAAnalyzer({"RECYCLING_BENEFIT_FACTORS": {"silicon_wafer": 5.0}})
    with pytest.raises(ParameterError):
        LCAAnalyzer(42)


def test_carbon_footprint_kpis(an: LCAAnalyzer) -> None:
    kpis = {
        "energy_kwh": 100.0,
        "silicon_wafer_kg": 5.0,
        "solar_glass_kg": 2.0,
        "output_modules": 10.0,
        "defect_rate": 0.02,
    }
    out = an.carbon_footprint_kpis(kpis)
    assert out["carbon_footprint_kg_co2e"] == pytest.approx(600 + 50 + 50)
    assert out["carbon_footprint_per_module_kg_co2e"] == pytest.approx(70.0)


# ----------------------------------------------------------------------------- twin integration


def _state(**flows) -> dict:
    state = default_state()
    state["batch_id"] = "B-42"
    state["materials"]["silicon_wafer"].update(consumption=5.0, waste=1.0, recycled=0.5)
    state["materials"]["solar_glass"].update(consumption=2.0, waste=0.0, recycled=0.0)
    for path, value in flows.items():
        material, field = path.split("__")
        state["materials"][material][field] = value
    return state


# 10 modules (5 kg / 0.5 kg per module) -> 4 kWp -> 4000 kWh/yr -> 100 MWh over 25 years.
STATE_EXPECTED = {
    "manufacturing_impact": 5 * 120 + 2 * 25 + 120.5 * 0.5,  # 710.25
    "use_phase_impact": 1000.0 - 100_000 * 0.275,  # -26500
    "end_of_life_impact": 5 * 0.5 * 10 + 2 * 5 + 7e-3 * 100 * 0.025,  # 35.0175
    "recycling_benefit": 5 * 0.5 * -80,  # -200
}


def test_extract_tables_from_state(config) -> None:
    lca = LCAIntegration(config=config)
    materials = lca.extract_material_data_from_state(_state())
    assert list(materials.columns) == [
        "batch_id",
        "timestamp",
        "material_type",
        "quantity_used",
        "waste_generated",
        "recycled_amount",
    ]
    assert materials["material_type"].tolist() == ["silicon_wafer", "solar_glass"]
    assert materials["quantity_used"].tolist() == [5.0, 2.0]
    assert materials["recycled_amount"].tolist() == [0.5, 0.0]
    assert (materials["batch_id"] == "B-42").all()
    energy = lca.extract_energy_data_from_state(_state())
    assert energy["energy_consumption"].tolist() == [120.5]
    with pytest.raises(NotInitializedError):
        lca.extract_material_data_from_state()


def test_perform_lca_analysis_hand_worked_and_stored(config, store, tmp_path, monkeypatch) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    lca = LCAIntegration(config=config, store=store)
    impact = lca.perform_lca_analysis(_state())
    for phase, value in STATE_EXPECTED.items():
        assert getattr(impact, phase) == pytest.approx(value), phase
    assert impact.total_impact == pytest.approx(-25754.7325)
    assert impact.net_impact == pytest.approx(-25954.7325)
    assert impact.n_modules == pytest.approx(10.0) and impact.capacity_kwp == pytest.approx(4.0)
    assert list(cwd.iterdir()) == []  # no output_dir -> no file
    runs = store.runs("lca")
    assert len(runs) == 1
    run = store.get_run(runs["id"].iloc[0])
    assert 0 < run["duration_s"] < 5  # timed like every other run (was left empty)
    assert run["kpis"]["total_impact"] == pytest.approx(-25754.7325)
    assert run["kpis"]["net_impact"] == pytest.approx(-25954.7325)
    assert run["kpis"]["manufacturing_impact"] == pytest.approx(710.25)
    rows = store.query("SELECT * FROM lca_results")
    assert rows["batch_id"].tolist() == ["B-42"]
    assert rows["recycling_benefit"].tolist() == pytest.approx([-200.0])
    assert rows["total_impact"].tolist() == pytest.approx([-25754.7325])
    assert lca.lca_results_history[-1]["run_id"] == runs["id"].iloc[0]
    lca.perform_lca_analysis(_state(), batch_id="B-43", save_results=False)
    assert len(store.runs("lca")) == 1 and len(lca.lca_results_history) == 2
    lca.perform_lca_analysis(_state(), save_results=False, output_dir=tmp_path / "reports")
    (report,) = (tmp_path / "reports").iterdir()
    assert json.loads(report.read_text())["impact"]["total_impact"] == pytest.approx(-25754.7325)


def test_state_errors(config) -> None:
    lca = LCAIntegration(config=config)
    with pytest.raises(StateValidationError, match="exceeds its waste"):
        lca.perform_lca_analysis(_state(silicon_wafer__recycled=2.0), save_results=False)
    with pytest.raises(StateValidationError) as err:
        lca.perform_lca_analysis(_state(solar_glass__consumption=float("nan")))
    assert err.value.path == "materials.solar_glass.consumption"
    state = _state()
    state["materials"]["graphene"] = {"consumption": 1.0}
    with pytest.raises(ParameterError, match="unknown material 'graphene'"):
        lca.perform_lca_analysis(state, save_results=False)
    with pytest.raises(ParameterError, match="known regions"):
        LCAIntegration(config=config, grid_carbon_intensity="Narnia")


def test_compare_improve_report(config) -> None:
    lca = LCAIntegration(config=config)
    better = _state(silicon_wafer__recycled=1.0)  # all silicon waste recycled
    cmp = lca.compare_scenarios(_state(), better, "full recycling")
    assert cmp["scenario_name"] == "full recycling"
    # 2.5 kg more silicon recycled: -2.5*10 disposal, -2.5*80 credit.
    assert cmp["differences"]["end_of_life_impact"] == pytest.approx(-25.0)
    assert cmp["differences"]["recycling_benefit"] == pytest.approx(-200.0)
    assert cmp["differences"]["total_impact"] == pytest.approx(-25.0)  # module D beside it
    assert cmp["differences"]["net_impact"] == pytest.approx(-225.0)
    assert cmp["differences"]["manufacturing_impact"] == 0.0
    assert lca.lca_results_history == []

    out = lca.simulate_lca_improvements(
        {"less silicon": {"silicon_wafer": 0.1}, "efficient line": {"energy": 0.5}}, _state()
    )
    base = out["baseline"]
    assert base.total_impact == pytest.approx(-25754.7325)
    assert base.manufacturing_impact - out["less silicon"].manufacturing_impact == pytest.approx(
        60.0
    )
    assert base.manufacturing_impact - out["efficient line"].manufacturing_impact == pytest.approx(
        30.125
    )
    assert out["less silicon"].use_phase_impact == base.use_phase_impact  # same modules
    with pytest.raises(ParameterError, match="unknown input 'silicon'"):
        lca.simulate_lca_improvements({"x": {"silicon": 0.1}}, _state())
    with pytest.raises(ParameterError, match="outside"):
        lca.simulate_lca_improvements({"x": {"energy": 1.5}}, _state())

    for batch in ("a", "b", "c"):
        lca.perform_lca_analysis(_state(), batch_id=batch, save_results=False)
    report = lca.generate_lca_report(num_results=2)
    assert [r["batch_id"] for r in report["results"]] == ["b", "c"]
    assert report["total_analyses"] == 3
    assert report["summary"]["mean"]["total_impact"] == pytest.approx(-25754.7325)
    assert report["summary"]["mean"]["net_impact"] == pytest.approx(-25954.7325)
    assert LCAIntegration(config=config).generate_lca_report()["results"] == []
    with pytest.raises(ParameterError):
        lca.generate_lca_report(num_results=0)


def test_with_real_twin_and_store(config, store) -> None:
    from circman_kernel.twin.digital_twin import DigitalTwin

    twin = DigitalTwin(config=config, store=store, seed=3)
    twin.initialize()
    twin.update()
    lca = LCAIntegration(twin)
    assert lca.store is store
    state = twin.get_current_state()
    impact = lca.perform_lca_analysis()
    consumption = {m: v["consumption"] for m, v in state["materials"].items()}
    energy = state["production_line"]["energy_consumption"]
    expected = LCAAnalyzer(config.impact_factors).calculate_manufacturing_impact(
        consumption, energy
    )
    assert impact.manufacturing_impact == pytest.approx(expected)
    assert len(store.runs("lca")) == 1
    assert lca.extract_material_data_from_state()["batch_id"].iloc[0] == state.get("batch_id")
