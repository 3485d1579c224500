"""Process model: hand-worked single steps, step == simulate, invariants over 10^5 steps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circman_kernel.core.errors import ParameterError
from circman_kernel.simulation import equations as eq
from circman_kernel.simulation import measurement as meas
from circman_kernel.simulation import process as pm
from circman_kernel.simulation import recurrences as rec


def _x0(n: int = 1, **values: float) -> np.ndarray:
    x = np.zeros((pm.N_VARS, n))
    base = {
        pm.TEMPERATURE: 22.5, pm.POWER: 120.5, pm.RATE: 8.3, pm.ATTAINABLE: 8.3,
        pm.EFFICIENCY: 0.92, pm.DEFECT: 0.02, pm.RUNNING: 1.0, pm.SI_INVENTORY: 850.0,
        pm.SI_QUALITY: 0.95, pm.GLASS_INVENTORY: 420.0, pm.GLASS_QUALITY: 0.98,
    }  # fmt: skip
    for idx, v in base.items():
        x[idx] = v
    for name, v in values.items():
        x[getattr(pm, name)] = v
    return x


def _noiseless(**over: float) -> dict[str, float]:
    p = pm.default_parameters()
    p.update(temperature_noise=0.0, energy_noise=0.0)
    p.update(over)
    return p


def _noise(steps: int, n: int, p: dict) -> dict[str, np.ndarray]:
    return rec.draw_noise(np.random.default_rng(0), steps, n, p)


# --------------------------------------------------------------------------- single equations


def test_manual_temperature_equation_one_step() -> None:
    # T(t+1) = 20 + (22.5 - 20) * 0.1 + 0.05 = 20.3
    assert eq.regulate_temperature(20.0, 22.5, 0.1, 0.05) == pytest.approx(20.3)
    assert eq.regulate_temperature(np.array([30.0]), 22.5, 0.1)[0] == pytest.approx(29.25)


def test_manual_energy_equation_running_and_idle() -> None:
    # running: 120.5 + 2.0 * 1.1 = 122.7; idle: 120.5 * 0.95 = 114.475
    out = eq.line_power(np.array([120.5, 120.5]), np.array([True, False]), 2.0, 1.1, 0.95)
    assert out.tolist() == pytest.approx([122.7, 114.475])
    # a factor below zero never lowers the draw while running
    assert eq.line_power(50.0, True, 2.0, -0.3) == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("temperature", "excursion", "efficiency", "defect"),
    [
        (22.5, 0.0, 0.92, 0.01 + 0.2 * 0.05),  # in band: quality term only
        (28.5, 1.5, 0.92 - 0.02 * 1.5, 0.01 + 0.01 * 1.5 + 0.2 * 0.05),
        (16.0, 2.0, 0.92 - 0.02 * 2.0, 0.01 + 0.01 * 2.0 + 0.2 * 0.05),
        (100.0, 73.0, 0.0, 0.01 + 0.73 + 0.01),  # efficiency cut at 0
    ],
)
def test_efficiency_and_defects_follow_the_temperature_band(
    temperature: float, excursion: float, efficiency: float, defect: float
) -> None:
    e = eq.temperature_excursion(temperature, 18.0, 27.0)
    assert e == pytest.approx(excursion)
    assert eq.line_efficiency(e, 0.92, 0.02) == pytest.approx(efficiency)
    assert eq.defect_rate(e, 0.95, 0.01, 0.01, 0.2) == pytest.approx(defect)


def test_rate_target_ramp_materials_quality_measure() -> None:
    # 10 modules/h * (30 s / 25 s) * 0.9 = 10.8 modules/h; idle -> 0
    assert eq.target_production_rate(0.9, True, 10.0, 30.0, 25.0) == pytest.approx(10.8)
    assert eq.target_production_rate(0.9, False, 10.0, 30.0, 25.0) == 0.0
    assert eq.ramp_production_rate(8.3, 10.8, 0.2) == pytest.approx(8.5)
    assert eq.ramp_production_rate(8.3, 5.0, 0.2) == pytest.approx(5.0)
    assert eq.producible_modules(10.0, 2.0, 0.5) == pytest.approx(24.0)
    assert math.isinf(eq.producible_modules(10.0, 0.0, 0.0))
    assert eq.material_quality(0.9, 0.1) == pytest.approx(0.81)
    assert meas.measure(20.0, 0.05, -2.0) == pytest.approx(18.0)
    assert meas.measure(8.5, 0.6, -2.0, 0.0) == 0.0  # a rate reading is cut at 0


def test_one_noiseless_step_of_the_whole_model_by_hand() -> None:
    p = _noiseless()
    x1 = eq.step(_x0(), np.array([True]), p)[:, 0]
    assert x1[pm.TEMPERATURE] == pytest.approx(22.5)  # at target, no noise
    assert x1[pm.POWER] == pytest.approx(122.5)  # 120.5 + 2.0
    assert x1[pm.EFFICIENCY] == pytest.approx(0.92)
    assert x1[pm.DEFECT] == pytest.approx(0.02)  # 0.01 + 0.2 * (1 - 0.95)
    assert x1[pm.ATTAINABLE] == pytest.approx(8.5)  # min(9.2, 8.3 + 0.2)
    assert x1[pm.RATE] == pytest.approx(8.5)  # 1 h step
    assert x1[pm.SI_USE] == pytest.approx(4.25)  # 8.5 modules * 0.5 kg
    assert x1[pm.GLASS_USE] == pytest.approx(1.7)  # 8.5 * 0.2
    assert x1[pm.SI_INVENTORY] == pytest.approx(845.75)
    assert x1[pm.GLASS_INVENTORY] == pytest.approx(418.3)
    assert x1[pm.ENERGY] == pytest.approx(122.5)  # 122.5 kW * 1 h
    assert x1[pm.OUTPUT] == pytest.approx(8.5)
    assert x1[pm.DEFECTIVE] == pytest.approx(0.17)


def test_material_shortage_limits_production_and_inventory_stays_non_negative() -> None:
    # 3 kg of glass at 0.2 kg/module allows 15 modules; 4 kg silicon at 0.5 -> 8 modules
    p = _noiseless()
    x = _x0(SI_INVENTORY=4.0, GLASS_INVENTORY=3.0, ATTAINABLE=20.0, RATE=20.0)
    p["nominal_production_rate"] = 30.0
    x1 = eq.step(x, np.array([True]), p)[:, 0]
    assert x1[pm.OUTPUT] == pytest.approx(8.0)
    assert x1[pm.SI_INVENTORY] == pytest.approx(0.0)
    assert x1[pm.GLASS_INVENTORY] == pytest.approx(3.0 - 1.6)
    x2 = eq.step(x1[:, None], np.array([True]), p)[:, 0]
    assert x2[pm.RATE] == 0.0 and x2[pm.SI_INVENTORY] == 0.0


def test_step_does_not_modify_its_input() -> None:
    x = _x0(3)
    before = x.copy()
    eq.step(x, np.array([True, False, True]), _noiseless())
    np.testing.assert_array_equal(x, before)


# --------------------------------------------------------------------------- step == simulate


def _random_parameters(rng: np.random.Generator, n: int) -> dict:
    p = pm.default_parameters()
    p.update(
        temperature_regulation=rng.uniform(0.0, 1.0, n),
        target_temperature=rng.uniform(10.0, 35.0, n),
        energy_consumption_increment=rng.uniform(0.0, 5.0, n),
        production_rate_increment=rng.uniform(0.0, 3.0, n),
        idle_energy_decay=rng.uniform(0.5, 1.0, n),
        nominal_production_rate=rng.uniform(0.0, 40.0, n),
        silicon_wafer_consumption_rate=rng.choice([0.0, 0.5, 2.0], n),
        solar_glass_consumption_rate=rng.uniform(0.0, 1.0, n),
        silicon_wafer_replenishment=rng.choice([0.0, 3.0], n),
        quality_decay=rng.uniform(0.0, 0.01, n),
        start_probability=rng.uniform(0.0, 0.3, n),
        stop_probability=rng.uniform(0.0, 0.3, n),
        temperature_noise=0.5,
    )
    return p


@pytest.mark.parametrize("n", [1, 7, 40])
def test_simulate_equals_iterating_step(n: int) -> None:
    rng = np.random.default_rng(5)
    steps = 60
    p = _random_parameters(rng, n)
    x0 = _x0(n, SI_INVENTORY=40.0, GLASS_INVENTORY=30.0)
    x0[pm.RUNNING] = rng.integers(0, 2, n)
    noise = _noise(steps, n, p)
    traj = rec.simulate(x0, p, steps, noise)
    run = traj[1:, pm.RUNNING] > 0.5
    x = x0
    for t in range(steps):
        x = eq.step(x, run[t], p, noise["temperature"][t], noise["energy_factor"][t])
        np.testing.assert_allclose(traj[t + 1], x, rtol=1e-9, atol=1e-8, err_msg=f"step {t + 1}")


def test_linear_recurrence_paths_agree() -> None:
    rng = np.random.default_rng(2)
    b = rng.normal(size=(50, 4))
    x0 = rng.normal(size=4)
    a = rng.uniform(0.2, 0.99, size=(50, 4))
    expected = np.empty_like(b)  # the recurrence written out, element by element
    for j in range(4):
        x = x0[j]
        for t in range(50):
            x = a[t, j] * x + b[t, j]
            expected[t, j] = x
    np.testing.assert_allclose(rec.linear_recurrence(a, b, x0), expected, rtol=1e-12)
    scalar = rec.linear_recurrence(0.8, b, x0)
    np.testing.assert_allclose(scalar, rec.linear_recurrence(np.full(4, 0.8), b, x0), rtol=1e-12)
    np.testing.assert_allclose(
        scalar,
        np.hstack(
            [rec.linear_recurrence(np.full((50, 1), 0.8), b[:, [i]], x0[i]) for i in range(4)]
        ),
        rtol=1e-12,
    )
    assert scalar[0].tolist() == pytest.approx((0.8 * x0 + b[0]).tolist(), rel=1e-12)


def test_running_schedule_markov_chain() -> None:
    u = np.array([[0.05, 0.5], [0.5, 0.05], [0.95, 0.95]])
    # column 0 starts idle: 0.05 < 0.1 starts it; column 1 running: 0.5 >= 0.2 keeps it
    out = rec.running_schedule([False, True], 3, 0.1, 0.2, u)
    assert out.tolist() == [[True, True], [True, False], [True, False]]


# --------------------------------------------------------------------------- invariants


def test_invariants_over_100k_random_steps() -> None:
    rng = np.random.default_rng(11)
    n, steps = 200, 500  # 10^5 column-steps with random parameters and switching status
    p = _random_parameters(rng, n)
    p["energy_noise"] = 0.8  # large noise: the cut at 0 must keep power monotone
    p["measurement_noise"] = rng.uniform(0.0, 1.0, n)  # sensors must not move the state
    x0 = _x0(n, SI_INVENTORY=300.0, GLASS_INVENTORY=150.0)
    x0[pm.RUNNING] = rng.integers(0, 2, n)
    noise = _noise(steps, n, p)
    assert "measurement" in noise
    traj = rec.simulate(x0, p, steps, noise)
    assert np.isfinite(traj).all()
    assert (traj[:, pm.TEMPERATURE] >= -100.0).all() and (traj[:, pm.TEMPERATURE] <= 500).all()
    y = meas.observe(traj, p, noise)
    assert y.shape == (steps + 1, 3, n) and np.isfinite(y).all()
    assert ((y[:, 0] >= -100.0) & (y[:, 0] <= 500.0)).all()
    assert (y[:, 1:] >= 0).all()  # measured power and rate are physical
    assert (y[1:, 1] != traj[1:, pm.POWER]).mean() > 0.9  # the noise did act on y
    for var in (pm.SI_INVENTORY, pm.GLASS_INVENTORY, pm.RATE, pm.SI_USE, pm.GLASS_USE):
        assert (traj[:, var] >= 0).all(), pm.VARIABLES[var]
    for var in (pm.EFFICIENCY, pm.DEFECT, pm.SI_QUALITY, pm.GLASS_QUALITY):
        assert ((traj[:, var] >= 0) & (traj[:, var] <= 1)).all(), pm.VARIABLES[var]
    running = traj[1:, pm.RUNNING] > 0.5
    rise = np.diff(traj[:, pm.POWER], axis=0)
    assert (rise[running] >= 0).all()
    assert (np.diff(traj[:, pm.ENERGY], axis=0) >= 0).all()
    assert (traj[1:, pm.RATE][~running] == 0).all()  # an idle line produces nothing
    # material balance: inventory = start + deliveries - use
    si = x0[pm.SI_INVENTORY] + np.asarray(p["silicon_wafer_replenishment"]) * steps
    np.testing.assert_allclose(
        traj[-1, pm.SI_INVENTORY] + traj[1:, pm.SI_USE].sum(0), si, atol=1e-6
    )
    assert 0.2 < running.mean() < 0.8  # both states were visited


def test_measurement_noise_never_enters_the_true_state() -> None:
    # x[t+1] = f(x, u, w) is the same with or without the output map's noise v.
    rng = np.random.default_rng(3)
    n, steps = 30, 80
    p = _random_parameters(rng, n)
    p["measurement_noise"] = 0.6
    x0 = _x0(n, SI_INVENTORY=40.0, GLASS_INVENTORY=30.0)
    noise = _noise(steps, n, p)
    without = {k: v for k, v in noise.items() if k != "measurement"}
    traj = rec.simulate(x0, p, steps, noise)
    np.testing.assert_array_equal(traj, rec.simulate(x0, p, steps, without))
    before = traj.copy()
    y = meas.observe(traj, p, noise)
    np.testing.assert_array_equal(traj, before)  # observe works on a copy
    np.testing.assert_array_equal(y[0], x0[list(pm.MEASURED)])  # step 0 read as given
    v = noise["measurement"]  # y = clip(x (1 + 0.6 v), range) for each measured row
    for i, var in enumerate(pm.MEASURED):
        lo, hi = pm.MEASURED_RANGES[i]
        expected = np.clip(traj[1:, var] * (1.0 + 0.6 * v[i]), lo, hi)
        np.testing.assert_allclose(y[1:, i], expected, rtol=1e-12)
    np.testing.assert_array_equal(meas.observe(traj, p, without), traj[:, list(pm.MEASURED)])


def test_observe_by_hand() -> None:
    x = np.zeros((2, pm.N_VARS, 2))
    x[:, pm.TEMPERATURE] = [[22.5, 22.5], [22.0, 400.0]]
    x[:, pm.POWER] = [[120.5, 120.5], [122.5, 100.0]]
    x[:, pm.RATE] = [[8.3, 8.3], [8.5, 0.0]]
    v = np.array([[[1.0, 1.0]], [[-1.0, -3.0]], [[-2.0, 5.0]]])  # (3, steps=1, n=2)
    y = meas.observe(x, {"measurement_noise": 0.6}, {"measurement": v})
    # column 0: 22 * 1.6 = 35.2; 122.5 * 0.4 = 49; 8.5 * (1 - 1.2) = -1.7 -> 0
    assert y[1, :, 0].tolist() == pytest.approx([35.2, 49.0, 0.0])
    # column 1: 400 * 1.6 = 640 -> 500; 100 * (1 - 1.8) = -80 -> 0; idle rate 0 reads 0
    assert y[1, :, 1].tolist() == pytest.approx([500.0, 0.0, 0.0])
    assert y[0, :, 0].tolist() == [22.5, 120.5, 8.3]


@settings(max_examples=60, deadline=None)
@given(
    inventory=st.floats(0.0, 50.0),
    rate=st.floats(0.0, 30.0),
    consumption=st.floats(0.0, 3.0),
    replenishment=st.floats(0.0, 5.0),
    running=st.booleans(),
)
def test_step_property_inventory_never_negative(
    inventory: float, rate: float, consumption: float, replenishment: float, running: bool
) -> None:
    p = _noiseless(
        silicon_wafer_consumption_rate=consumption, silicon_wafer_replenishment=replenishment,
        nominal_production_rate=rate,
    )  # fmt: skip
    x = _x0(SI_INVENTORY=inventory, ATTAINABLE=rate, RATE=rate)
    for _ in range(3):
        x = eq.step(x, np.array([running]), p)
        assert x[pm.SI_INVENTORY, 0] >= 0.0
        assert x[pm.SI_USE, 0] <= inventory + 3 * replenishment + 1e-9


# --------------------------------------------------------------------------- parameters


def test_default_parameters_come_from_config(config) -> None:
    p = pm.default_parameters(config)
    sim = config.digital_twin.SIMULATION_PARAMETERS
    assert p["temperature_regulation"] == sim.temperature_regulation
    assert (
        p["temperature_low"],
        p["temperature_high"],
    ) == config.digital_twin.PARAMETER_THRESHOLDS["production_line.temperature"]
    assert set(p) == set(pm.PARAMETERS)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"target_temprature": 22.0}, "valid names: .*target_temperature"),
        ({"target_temperature": float("nan")}, "finite"),
        ({"energy_noise": float("inf")}, "finite"),
        ({"temperature_regulation": 1.5}, r"\[0.0, 1.0\]"),
        ({"cycle_time": 0.0}, r"\(0.0"),
        ({"base_efficiency": "high"}, "number"),
        ({"base_efficiency": True}, "finite number"),
        ({"temperature_low": 30.0, "temperature_high": 20.0}, "must not exceed"),
    ],
)
def test_validate_parameters_rejects(params: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        pm.validate_parameters(params)
