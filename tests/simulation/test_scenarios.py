"""Scenarios (CRUD in memory and in DuckDB, comparison) and sweeps (sample, evaluate, analyse)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from circman_kernel.core.errors import ParameterError
from circman_kernel.core.state_schema import default_state
from circman_kernel.simulation.scenarios import Scenario, ScenarioManager
from circman_kernel.simulation.sensitivity import analyse
from circman_kernel.simulation.sweeps import evaluate, sample

HOSTILE = "x'); DROP TABLE scenarios; --\"ü"


@pytest.fixture(params=["memory", "store"])
def manager(request, config, store) -> ScenarioManager:
    return ScenarioManager(config, store=store if request.param == "store" else None)


def test_crud_round_trip(manager) -> None:
    created = manager.create_scenario("fast", {"cycle_time": 25.0}, "faster line")
    assert created == Scenario("fast", {"cycle_time": 25.0}, "faster line")
    manager.create_scenario(HOSTILE, {"status": "idle"})
    assert manager.get_scenario(HOSTILE).parameters == {"status": "idle"}
    assert sorted(manager.list_scenarios()["name"]) == sorted(["fast", HOSTILE])
    updated = manager.update_scenario("fast", description="25 s cycle")
    assert updated.parameters == {"cycle_time": 25.0} and updated.description == "25 s cycle"
    assert manager.get_scenario("fast").description == "25 s cycle"
    assert manager.delete_scenario("fast") is True
    assert manager.delete_scenario("fast") is False
    with pytest.raises(ParameterError, match="no scenario named 'fast'"):
        manager.get_scenario("fast")


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, None])
def test_bad_names(manager, name) -> None:
    with pytest.raises(ParameterError, match="name"):
        manager.create_scenario(name, {})


def test_bad_parameters_and_duplicates(manager) -> None:
    with pytest.raises(ParameterError, match="valid names"):
        manager.create_scenario("x", {"cycletime": 3})
    with pytest.raises(ParameterError, match="finite"):
        manager.create_scenario("x", {"cycle_time": float("nan")})
    manager.create_scenario("x", {})
    with pytest.raises(ParameterError, match="already exists"):
        manager.create_scenario("x", {})
    assert manager.list_scenarios().shape[0] == 1


def test_scenario_is_frozen() -> None:
    sc = Scenario("a", {"cycle_time": 20.0})
    with pytest.raises(AttributeError):
        sc.name = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        sc.parameters["cycle_time"] = 1.0  # type: ignore[index]


def test_run_scenario_is_stored(config, store) -> None:
    manager = ScenarioManager(config, store=store)
    manager.create_scenario("fast", {"cycle_time": 20.0})
    res = manager.run_scenario("fast", steps=12, seed=4)
    row = store.get_run(res.run_id)
    assert row["kind"] == "scenario" and row["name"] == "fast"
    assert (
        res.kpis()["output_modules"]
        > manager.run_scenario(Scenario("base"), steps=12, seed=4).kpis()["output_modules"]
    )


def test_compare_scenarios_by_hand(config) -> None:
    manager = ScenarioManager(config)
    manager.create_scenario("base", {})
    manager.create_scenario("fast", {"cycle_time": 20.0})
    manager.create_scenario("stopped", {"status": "idle"})
    table = manager.compare_scenarios(["fast", "stopped"], baseline="base", steps=10, seed=1)
    assert list(table.index) == ["base", "fast", "stopped"]
    # base: rate ramps 8.5, 8.7, 8.9, 9.1 then 9.2 x 6 -> 35.2 + 55.2 = 90.4 modules
    assert table.loc["base", "output_modules"] == pytest.approx(90.4)
    # fast: target 10 * 30/20 * 0.92 = 13.8; ramp 8.5 ... 13.7 (27 steps) -> reaches none in 10
    assert table.loc["fast", "output_modules"] == pytest.approx(
        sum(8.3 + 0.2 * k for k in range(1, 11))
    )
    assert table.loc["stopped", "output_modules"] == 0.0
    assert table.loc["base", "output_modules_diff"] == 0.0
    assert table.loc["fast", "output_modules_diff"] == pytest.approx(
        table.loc["fast", "output_modules"] - 90.4
    )
    # common random numbers: same status and noise -> same energy for base and fast
    assert table.loc["fast", "energy_kwh"] == pytest.approx(table.loc["base", "energy_kwh"])
    assert table.loc["stopped", "energy_kwh_diff"] < 0
    assert table.loc["base", "silicon_wafer_kg"] == pytest.approx(0.5 * 90.4)
    assert "carbon_kg" in table.columns
    from circman_kernel.lca.analyzer import LCAAnalyzer

    k = table.loc["base"]
    expected = LCAAnalyzer(config.impact_factors).calculate_manufacturing_impact(
        {"silicon_wafer": k["silicon_wafer_kg"], "solar_glass": k["solar_glass_kg"]},
        k["energy_kwh"],
    )
    assert k["carbon_kg"] == pytest.approx(expected)
    assert table.attrs["baseline"] == "base"


COMPANIONS = [
    [],
    ["fast"],
    ["stopped", "fast"],
    ["fast", "noisy", "switching", "stopped"],
]


@pytest.mark.parametrize("status", ["running", "maintenance"])
@pytest.mark.parametrize("companions", COMPANIONS)
def test_a_scenario_row_does_not_depend_on_its_companions(config, companions, status) -> None:
    manager = ScenarioManager(config)
    manager.create_scenario("base", {})
    manager.create_scenario("fast", {"cycle_time": 20.0})
    manager.create_scenario("stopped", {"status": "idle"})
    manager.create_scenario("noisy", {"measurement_noise": 0.6, "temperature_noise": 0.5})
    manager.create_scenario("switching", {"start_probability": 0.3, "stop_probability": 0.3})
    state = default_state(config)
    state["production_line"]["cycle_time"] = 60.0
    state["production_line"]["status"] = status
    alone = manager.compare_scenarios(["base"], steps=10, initial_state=state, seed=1)
    table = manager.compare_scenarios(["base", *companions], steps=10, initial_state=state,
                                      seed=1)  # fmt: skip
    kpis = [c for c in alone.columns if not c.endswith(("_diff", "_pct"))]
    # equal up to rounding: a column's sums take another NumPy path next to others
    pd.testing.assert_series_equal(table.loc["base", kpis], alone.loc["base", kpis], rtol=1e-12)
    # by hand: target 10 * 30/60 * 0.92 = 4.6 < 8.3 + 0.2, so 4.6 per step for 10 steps
    expected = 46.0 if status == "running" else 0.0
    assert table.loc["base", "output_modules"] == pytest.approx(expected)
    lone = manager.run_scenario("base", steps=10, initial_state=state, seed=1).kpis()
    assert lone["output_modules"] == pytest.approx(expected)  # same parameters as alone
    if "fast" in companions:  # 13.8 target; ramp 8.5 ... 10.3 only if the line runs
        fast = sum(8.3 + 0.2 * k for k in range(1, 11)) if status == "running" else 0.0
        assert table.loc["fast", "output_modules"] == pytest.approx(fast)


# --------------------------------------------------------------------------- sweeps

SPACE = {
    "cycle_time": (20.0, 40.0),
    "target_temperature": (18.0, 32.0),
    "base_efficiency": (0.8, 0.95),
}


@pytest.mark.parametrize(("method", "n", "rows"), [("lhs", 16, 16), ("sobol", 16, 16),
                                                    ("full_factorial", 3, 27), ("saltelli", 8, 40)])  # fmt: skip
def test_sample_shapes_bounds_and_seed(method: str, n: int, rows: int) -> None:
    a = sample(SPACE, n, method=method, seed=3)
    assert a.shape == (rows, 3) and list(a.columns) == list(SPACE)
    for name, (lo, hi) in SPACE.items():
        assert a[name].between(lo, hi).all()
    pd.testing.assert_frame_equal(a, sample(SPACE, n, method=method, seed=3))
    if method != "full_factorial":
        assert not a.equals(sample(SPACE, n, method=method, seed=4))
    if method == "lhs":  # one point per stratum in every dimension
        strata = np.floor((a["cycle_time"] - 20.0) / 20.0 * n).astype(int)
        assert sorted(strata) == list(range(n))


@pytest.mark.parametrize(
    ("space", "kwargs", "match"),
    [({"nope": (0, 1)}, {}, "valid names"), ({"cycle_time": (5, 1)}, {}, "low <= high"),
     ({"cycle_time": (0, 10)}, {}, "cycle_time"), ({"cycle_time": (1, 2)}, {"method": "grid"}, "method"),
     ({"cycle_time": (1, 2)}, {"n": 0}, "n must")],
)  # fmt: skip
def test_sample_errors(space, kwargs, match) -> None:
    with pytest.raises(ParameterError, match=match):
        sample(space, **{"n": 4, **kwargs})


def test_evaluate_equals_single_runs_without_noise(config) -> None:
    exp = sample({"cycle_time": (20.0, 40.0)}, 4, seed=1)
    exp["temperature_noise"] = 0.0
    exp["energy_noise"] = 0.0
    out = evaluate(exp, config=config, steps=30, seed=2)
    from circman_kernel.simulation.engine import SimulationEngine

    engine = SimulationEngine(config)
    for i, row in exp.iterrows():
        single = engine.run_simulation(steps=30, parameters=row.to_dict(), seed=9).kpis()
        assert out["output_modules"][i] == pytest.approx(single["output_modules"])
        assert out["energy_kwh"][i] == pytest.approx(single["energy_kwh"])


def test_evaluate_chunks_and_executor_give_identical_outcomes(config) -> None:
    exp = sample(SPACE, 40, seed=5)
    one = evaluate(exp, config=config, steps=25, seed=7, chunk_size=16)
    with ThreadPoolExecutor(2) as ex:
        two = evaluate(exp, config=config, steps=25, seed=7, chunk_size=16, executor=ex)
    for k in one:
        np.testing.assert_array_equal(one[k], two[k])
    other = evaluate(exp, config=config, steps=25, seed=8, chunk_size=16)
    assert not np.array_equal(one["energy_kwh"], other["energy_kwh"])


def test_evaluate_stores_a_sweep(config, store) -> None:
    exp = sample(SPACE, 8, seed=1)
    out = evaluate(exp, config=config, steps=10, seed=1, store=store, name="lhs8")
    runs = store.runs(kind="sweep")
    assert len(runs) == 1
    traj = store.trajectories(runs["id"].iloc[0])
    got = traj[traj.variable == "output_modules"].sort_values("iteration")["value"].to_numpy()
    np.testing.assert_allclose(got, out["output_modules"])


def test_analyse_ranks_the_dominant_parameter_first(config) -> None:
    lhs = sample(SPACE, 256, seed=1)
    ranking = analyse(lhs, evaluate(lhs, config=config, steps=100, seed=1), "output_modules")
    assert ranking.index[0] == "cycle_time" and ranking["rank"].tolist() == [1, 2, 3]
    design = sample(SPACE, 64, method="saltelli", seed=1)
    sobol = analyse(design, evaluate(design, config=config, steps=50, seed=1), "defect_rate")
    assert sobol.index[0] == "target_temperature"  # only the band excursion moves defects
    assert sobol.loc["target_temperature", "ST"] > 0.8
    with pytest.raises(ParameterError, match="unknown outcome"):
        analyse(lhs, {"x": np.zeros(256)}, "output")


@pytest.mark.slow
def test_dask_local_cluster_sweep_equals_serial_sweep(config) -> None:
    distributed = pytest.importorskip("distributed")
    exp = sample(SPACE, 64, seed=11)
    serial = evaluate(exp, config=config, steps=50, seed=3, chunk_size=16)
    with (
        distributed.LocalCluster(
            # ":0": a free port for its HTTP server (two clusters at once would clash on 8787)
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = evaluate(
            exp, config=config, steps=50, seed=3, chunk_size=16, executor=client.get_executor()
        )
        workers = client.run(lambda: __import__("os").getpid())
    assert len(set(workers.values())) == 2
    for k in serial:
        np.testing.assert_array_equal(serial[k], remote[k])


def test_compared_rows_equal_each_scenario_run_alone(config) -> None:
    """Common random numbers are the draws of a lone run with the same seed."""
    sm = ScenarioManager(config)
    sm.create_scenario("base", {})
    sm.create_scenario("hot", {"target_temperature": 28.5})  # out of band: noise matters
    sm.create_scenario("fast", {"cycle_time": 25.0})
    table = sm.compare_scenarios(["base", "hot", "fast"], steps=48, seed=7)
    for name in ("base", "hot", "fast"):
        alone = sm.run_scenario(name, steps=48, seed=7).kpis()
        for kpi in ("output_modules", "energy_kwh", "defect_rate"):
            assert table.loc[name, kpi] == pytest.approx(alone[kpi], rel=1e-12), (name, kpi)
    assert table.loc["hot", "defect_rate"] > table.loc["base", "defect_rate"]


def test_common_noise_is_shared_across_chunks(config) -> None:
    from circman_kernel.simulation.scenarios import run_columns_kpis

    sm = ScenarioManager(config)
    rows = pd.DataFrame({"target_temperature": [28.5] * 5})
    kpis = run_columns_kpis(
        sm.engine, rows, steps=24, seed=3, chunk_size=2, common_noise=True
    )  # three chunks, one set of draws
    assert np.ptp(kpis["defect_rate"]) == 0.0 and np.ptp(kpis["energy_kwh"]) == 0.0
    independent = run_columns_kpis(sm.engine, rows, steps=24, seed=3, chunk_size=2)
    assert np.ptp(independent["energy_kwh"]) > 0.0
