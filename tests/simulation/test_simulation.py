"""SimulationEngine: run contract, reproducibility, Monte Carlo, typed errors, storing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from circman_kernel.core.errors import ParameterError, StateValidationError
from circman_kernel.core.state_merge import validated_copy
from circman_kernel.core.state_schema import copy_state, default_state
from circman_kernel.simulation import process as pm
from circman_kernel.simulation.engine import SimulationEngine
from circman_kernel.simulation.results import SimulationResult


@pytest.fixture
def engine(config) -> SimulationEngine:
    return SimulationEngine(config)


def test_run_returns_n_plus_one_states_and_never_mutates_initial_state(engine) -> None:
    initial = default_state()
    before = copy_state(initial)
    res = engine.run_simulation(steps=7, initial_state=initial, seed=3)
    assert isinstance(res, SimulationResult) and len(res) == 8
    assert res[0]["production_line"]["temperature"] == initial["production_line"]["temperature"]
    assert initial == before
    res[3]["production_line"]["temperature"] = -99.0  # states handed out are copies
    assert res[3]["production_line"]["temperature"] != -99.0
    assert [s["production_line"]["status"] for s in res] == ["running"] * 8
    assert len(res[2:5]) == 3 and res[-1] == res[7]


def test_states_follow_the_manual_equation_without_noise(engine) -> None:
    params = {"temperature_noise": 0.0, "energy_noise": 0.0}
    state = default_state()
    state["production_line"]["temperature"] = 20.0
    res = engine.run_simulation(steps=2, initial_state=state, parameters=params, seed=0)
    temps = [s["production_line"]["temperature"] for s in res]
    power = [s["production_line"]["energy_consumption"] for s in res]
    assert temps == pytest.approx([20.0, 20.25, 20.475])  # + (22.5 - T) * 0.1
    assert power == pytest.approx([120.5, 122.5, 124.5])  # + 2.0 per running step
    idle = engine.run_simulation(steps=2, parameters={**params, "status": "idle"}, seed=0)
    assert [s["production_line"]["energy_consumption"] for s in idle] == pytest.approx(
        [120.5, 114.475, 108.75125]
    )
    assert idle.kpis()["output_modules"] == 0.0


def test_timestamps_advance_by_the_step_duration(engine) -> None:
    state = default_state()
    state["timestamp"] = "2025-02-24T14:00:00"
    res = engine.run_simulation(
        steps=2, initial_state=state, parameters={"step_duration": 0.5}, seed=1
    )
    assert [s["timestamp"] for s in res] == [
        "2025-02-24T14:00:00", "2025-02-24T14:30:00", "2025-02-24T15:00:00",
    ]  # fmt: skip


@pytest.mark.parametrize("status", ["maintenance", "stopped", "idle", "error"])
def test_first_state_is_the_initial_state_whatever_its_status(engine, status: str) -> None:
    state = default_state()
    state["production_line"]["status"] = status
    state["timestamp"] = "2025-02-24T14:00:00.000+00:00"  # kept as written at step 0
    res = engine.run_simulation(steps=4, initial_state=state, seed=2,
                                running=[False, True, False, False])  # fmt: skip
    assert res[0] == state
    # the line keeps its status until it first runs; once it has run it is idle
    assert [s["production_line"]["status"] for s in res] == [
        status, status, "running", "idle", "idle",
    ]  # fmt: skip
    assert res[1]["timestamp"] == "2025-02-24T15:00:00+00:00"
    kept = engine.run_simulation(steps=3, initial_state=state, seed=2)  # no start: stays
    assert [s["production_line"]["status"] for s in kept] == [status] * 4
    assert kept.kpis()["output_modules"] == 0.0


@pytest.mark.parametrize("stamp", ["not a time", "2025-13-01T00:00:00", 12345, None])
def test_bad_initial_timestamp_is_a_state_error_naming_it(engine, stamp) -> None:
    state = default_state()
    state["timestamp"] = stamp
    with pytest.raises(StateValidationError, match=f"timestamp: .*{stamp!r}") as info:
        engine.run_simulation(steps=2, initial_state=state, seed=1)
    assert info.value.path == "timestamp" and info.value.value == stamp
    with pytest.raises(StateValidationError, match="timestamp"):
        engine.run_monte_carlo_simulation(steps=2, initial_state=state, iterations=2)


def test_timestamps_past_the_calendar_are_refused_before_the_run(engine) -> None:
    state = default_state()
    state["timestamp"] = "9999-12-31T00:00:00"
    with pytest.raises(ParameterError, match="after the year 9999"):
        engine.run_simulation(steps=48, initial_state=state, seed=1)
    assert engine.run_simulation(steps=23, initial_state=state, seed=1)[-1]["timestamp"] == (
        "9999-12-31T23:00:00"
    )


def _noisy_sensors(engine, steps: int, seed: int, rng: np.random.Generator):
    state = default_state()
    state["production_line"]["status"] = str(rng.choice(["running", "idle", "maintenance"]))
    state["materials"]["silicon_wafer"]["inventory"] = float(rng.uniform(0.0, 400.0))
    params = {
        "measurement_noise": float(rng.uniform(0.3, 1.0)),
        "start_probability": float(rng.uniform(0.0, 0.3)),
        "stop_probability": float(rng.uniform(0.0, 0.3)),
        "energy_noise": float(rng.uniform(0.0, 0.8)),
        "temperature_noise": float(rng.uniform(0.0, 2.0)),
        "idle_energy_decay": float(rng.uniform(0.5, 1.0)),
    }
    return engine.run_simulation(steps=steps, initial_state=state, parameters=params, seed=seed)


def _check_states(res) -> None:
    for i in range(len(res)):
        validated_copy(res[i])  # raises StateValidationError naming the bad path
        validated_copy(res.observed(i))
    traj = res.trajectory
    running = traj[1:, pm.RUNNING] > 0.5
    assert (np.diff(traj[:, pm.POWER])[running] >= 0).all()  # true power never falls
    k = res.kpis()
    assert k["final_power_kw"] == res[-1]["production_line"]["energy_consumption"]
    assert k["energy_kwh"] == pytest.approx(sum(s["production_line"]["energy_consumption"]
                                                for s in res[1:]))  # fmt: skip
    y = res.measurements
    assert y.shape == (len(res), 3) and (y[:, 1:] >= 0).all()


def test_measurement_noise_keeps_result_states_valid(engine) -> None:
    # the reported case: 0.6 measurement noise once gave rates of -5 and invalid states
    params = {"measurement_noise": 0.6, "start_probability": 0.2, "stop_probability": 0.2}
    res = engine.run_simulation(steps=200, parameters=params, seed=1)
    _check_states(res)
    assert res.measurements[:, 2].max() > res.trajectory[:, pm.RATE].max()  # noise shows
    quiet = engine.run_simulation(steps=200, parameters={**params, "measurement_noise": 0.0},
                                  seed=1)  # fmt: skip
    np.testing.assert_array_equal(res.trajectory, quiet.trajectory)  # x does not see v
    np.testing.assert_array_equal(quiet.measurements, quiet.trajectory[:, list(pm.MEASURED)])
    assert res.observed(5)["production_line"]["temperature"] == res.measurements[5, 0]
    mc = engine.run_monte_carlo_simulation(steps=30, iterations=12, parameters=params,
                                           seed=4, chunk_size=5)  # fmt: skip
    assert mc.measurements.shape == (31, 3, 12) and (mc.measurements[:, 1:] >= 0).all()
    assert (mc.trajectories[:, pm.RATE] >= 0).all()


@pytest.mark.slow
def test_every_state_is_valid_over_100k_steps_with_measurement_noise(engine) -> None:
    rng = np.random.default_rng(21)
    for run in range(50):  # 50 runs x 2,000 steps, each with its own random set-up
        _check_states(_noisy_sensors(engine, 2000, run, rng))


def test_same_seed_same_frame_different_seed_different(engine) -> None:
    a = engine.run_simulation(steps=50, seed=42).to_frame()
    b = engine.run_simulation(steps=50, seed=42).to_frame()
    c = engine.run_simulation(steps=50, seed=43).to_frame()
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert list(a.columns) == ["step", "variable", "value"]
    assert len(a) == 51 * len(pm.VARIABLES)
    g1 = engine.run_simulation(steps=20, seed=np.random.default_rng(9)).to_frame()
    g2 = engine.run_simulation(steps=20, seed=np.random.default_rng(9)).to_frame()
    pd.testing.assert_frame_equal(g1, g2)


def test_kpis_match_the_trajectory(engine) -> None:
    res = engine.run_simulation(steps=30, seed=5)
    wide = res.to_frame(wide=True)
    k = res.kpis()
    assert k["output_modules"] == pytest.approx(
        wide["production_line.production_rate"].iloc[1:].sum()
    )
    assert k["energy_kwh"] == pytest.approx(
        wide["production_line.energy_consumption"].iloc[1:].sum()
    )
    assert k["energy_per_module_kwh"] == pytest.approx(k["energy_kwh"] / k["output_modules"])
    assert k["silicon_wafer_kg"] == pytest.approx(0.5 * k["output_modules"])
    assert k["solar_glass_kg"] == pytest.approx(0.2 * k["output_modules"])
    assert k["defect_rate"] == pytest.approx(0.02)
    assert k["mean_efficiency"] == pytest.approx(0.92)


def test_parameters_and_cycle_time_change_the_output(engine) -> None:
    base = engine.run_simulation(steps=40, seed=1).kpis()["output_modules"]
    fast = engine.run_simulation(steps=40, seed=1, parameters={"cycle_time": 20.0}).kpis()
    assert fast["output_modules"] > base
    hot = engine.run_simulation(steps=40, seed=1, parameters={"target_temperature": 32.0}).kpis()
    assert hot["defect_rate"] > 0.03 and hot["mean_efficiency"] < 0.9


def test_running_schedule_input(engine) -> None:
    res = engine.run_simulation(steps=4, seed=1, running=[True, False, False, True])
    assert [s["production_line"]["status"] for s in res[1:]] == [
        "running",
        "idle",
        "idle",
        "running",
    ]
    with pytest.raises(ParameterError, match="one per step"):
        engine.run_simulation(steps=4, running=[True])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"parameters": {"bogus": 1.0}}, "valid names: .*cycle_time.*target_temperature"),
        ({"parameters": {"target_temperature": float("nan")}}, "finite"),
        ({"parameters": {"status": "sleeping"}}, "running, idle"),
        ({"steps": -1}, "steps must be >= 0"),
        ({"steps": 2.5}, "steps must be an int"),
        ({"seed": -3}, "seed"),
    ],
)
def test_run_simulation_typed_errors(engine, kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        engine.run_simulation(**kwargs)


def test_bad_initial_state_is_a_state_error(engine) -> None:
    state = default_state()
    state["materials"]["silicon_wafer"]["inventory"] = -5.0
    with pytest.raises(StateValidationError, match="silicon_wafer.inventory"):
        engine.run_simulation(steps=2, initial_state=state)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"iterations": 0}, "iterations"),
        ({"uncertainty": -0.1}, "uncertainty"),
        ({"uncertainty": float("nan")}, "uncertainty"),
        ({"steps": -5}, "steps"),
        ({"parameters": {"nope": 1}}, "valid names"),
        ({"chunk_size": 0}, "chunk_size"),
    ],
)
def test_monte_carlo_typed_errors_before_any_work(engine, kwargs: dict, match: str) -> None:
    class Refuse(ThreadPoolExecutor):
        def submit(self, *a, **k):  # pragma: no cover - must not be reached
            raise AssertionError("work started")

    with pytest.raises(ParameterError, match=match), Refuse() as ex:
        engine.run_monte_carlo_simulation(**{"steps": 5, **kwargs}, executor=ex)


def test_monte_carlo_shapes_percentiles_and_reproducibility(engine) -> None:
    mc = engine.run_monte_carlo_simulation(steps=20, iterations=50, uncertainty=0.2, seed=7)
    assert mc.trajectories.shape == (21, len(pm.VARIABLES), 50)
    pct = mc.percentiles()
    assert list(pct.columns) == ["step", "variable", "p5", "p50", "p95"]
    assert len(pct) == 21 * len(pm.VARIABLES)
    assert ((pct["p5"] <= pct["p50"]) & (pct["p50"] <= pct["p95"])).all()
    last = pct[(pct.step == 20) & (pct.variable == "output_modules")].iloc[0]
    assert last.p5 < last.p95  # parameter spread shows
    assert mc.final.shape == (50, len(pm.VARIABLES))
    assert mc.kpis().shape[0] == 50
    assert mc.parameter_draws.shape[0] == 50
    again = engine.run_monte_carlo_simulation(steps=20, iterations=50, uncertainty=0.2, seed=7)
    pd.testing.assert_frame_equal(mc.to_frame(), again.to_frame())
    other = engine.run_monte_carlo_simulation(steps=20, iterations=50, uncertainty=0.2, seed=8)
    assert not mc.to_frame().equals(other.to_frame())


def test_monte_carlo_identical_whatever_the_executor(engine) -> None:
    kw = {"steps": 15, "iterations": 35, "uncertainty": 0.1, "seed": 3, "chunk_size": 10}
    serial = engine.run_monte_carlo_simulation(**kw)
    with ThreadPoolExecutor(2) as ex:
        pooled = engine.run_monte_carlo_simulation(**kw, executor=ex)
    np.testing.assert_array_equal(serial.trajectories, pooled.trajectories)
    pd.testing.assert_frame_equal(serial.parameter_draws, pooled.parameter_draws)


def test_zero_uncertainty_leaves_only_process_noise(engine) -> None:
    mc = engine.run_monte_carlo_simulation(
        steps=10, iterations=20, uncertainty=0.0, seed=1, parameters={"temperature_noise": 0.0}
    )
    temps = mc.trajectories[:, pm.TEMPERATURE]
    assert np.ptp(temps) == 0.0  # no noise, no spread on temperature
    assert np.ptp(mc.trajectories[-1, pm.POWER]) > 0  # energy noise remains


def test_runs_are_stored(config, store) -> None:
    engine = SimulationEngine(config, store=store)
    res = engine.run_simulation(steps=5, seed=11, name="one")
    assert res.run_id is not None
    row = store.get_run(res.run_id)
    assert row["kind"] == "simulation" and row["seed"] == 11
    assert row["kpis"]["output_modules"] == pytest.approx(res.kpis()["output_modules"])
    traj = store.trajectories(res.run_id)
    assert len(traj) == 6 * len(pm.VARIABLES)
    mc = engine.run_monte_carlo_simulation(steps=4, iterations=3, seed=2)
    assert store.get_run(mc.run_id)["kind"] == "monte_carlo"
    assert len(store.trajectories(mc.run_id)) == 3 * 5 * len(pm.VARIABLES)
    unseeded = engine.run_simulation(steps=2)
    replay = SimulationEngine(config).run_simulation(
        steps=2, seed=store.get_run(unseeded.run_id)["seed"]
    )
    pd.testing.assert_frame_equal(unseeded.to_frame(), replay.to_frame())
