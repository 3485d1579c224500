"""ProcessOptimizer, honesty check, Pareto front and AIIntegration on real parts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from circman_kernel.ai.honesty import function_simulator
from circman_kernel.ai.integration import AIIntegration
from circman_kernel.ai.model import ManufacturingModel
from circman_kernel.ai.optimize import ProcessOptimizer
from circman_kernel.ai.optimize_setup import parse_constraint
from circman_kernel.core.errors import ModelError, OptimizationError, ParameterError


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIRCMAN_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


# A surface with a known optimum. With OBJECTIVE_WEIGHTS (-100, 0.1, 1000, output -10):
#   f = -100 (0.9 - 0.001 (x - 30)^2) + 0.1 (40 + 2 (y - 4)^2) + 1000 * 0.02 - 10 * 9
#     = -156 + 0.1 (x - 30)^2 + 0.2 (y - 4)^2       -> minimum -156 at x = 30, y = 4.
# The output is a constant 9 modules/h here, so it moves f but not the optimum.
# defect_rate = 0.002 x (0.04 .. 0.12 over x in [20, 60]) makes quality constraints bite.
def truth(frame: pd.DataFrame) -> pd.DataFrame:
    x, y = frame["cycle_time"].to_numpy(), frame["y"].to_numpy()
    return pd.DataFrame(
        {
            "efficiency": 0.9 - 0.001 * (x - 30) ** 2,
            "energy_used": 40 + 2 * (y - 4) ** 2,
            "defect_rate": np.full(len(x), 0.02) if "flat" in frame.attrs else 0.002 * x,
            "output_amount": np.full(len(x), 9.0),
        }
    )


def weighted_truth(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.attrs["flat"] = True
    return truth(frame)


def train_on(fn, n: int = 500, seed: int = 0) -> ManufacturingModel:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"cycle_time": rng.uniform(20, 60, n), "y": rng.uniform(0, 10, n)})
    model = ManufacturingModel()
    model.train_optimization_model(pd.concat([X, fn(X)], axis=1))
    return model


@pytest.fixture(scope="module")
def flat_model() -> ManufacturingModel:
    return train_on(weighted_truth)


@pytest.fixture(scope="module")
def sloped_model() -> ManufacturingModel:
    return train_on(truth)


def test_weighted_optimum_found_by_l_bfgs_b(config, flat_model) -> None:
    opt = ProcessOptimizer(flat_model, config, simulator=function_simulator(weighted_truth))
    params = opt.optimize_process_parameters({"cycle_time": 50.0, "y": 9.0})
    assert params["cycle_time"] == pytest.approx(30.0, abs=0.05)
    assert params["y"] == pytest.approx(4.0, abs=0.05)
    res = opt.last_result_
    assert res.objective_after == pytest.approx(-156.0, abs=1e-3)
    assert res.solver["starts"][0]["method"] == "L-BFGS-B"
    # The honesty check replays the true function: gain = f(50, 9) - f(30, 4) = 40 + 5.
    assert res.honesty.verdict == "reproduced"
    assert res.honesty.simulated_improvement == pytest.approx(45.0, abs=0.01)
    assert res.predicted_improvement == pytest.approx(45.0, abs=0.01)


def test_active_bound_is_respected(config, flat_model) -> None:
    opt = ProcessOptimizer(flat_model, config, simulator=None)
    params = opt.optimize_process_parameters(
        {"cycle_time": 50.0, "y": 1.0}, constraints={"cycle_time": (35.0, 60.0)}
    )
    assert params["cycle_time"] == pytest.approx(35.0, abs=1e-6)
    assert 35.0 <= params["cycle_time"] <= 60.0
    assert params["y"] == pytest.approx(4.0, abs=0.05)
    assert opt.last_result_.verdict == "not checked"


def test_efficiency_with_active_quality_constraint(config, sloped_model) -> None:
    # max efficiency s.t. 1 - 0.002 x >= 0.95  ->  x <= 25: optimum on the constraint.
    opt = ProcessOptimizer(sloped_model, config, simulator=function_simulator(truth))
    params = opt.optimize_for_efficiency({"cycle_time": 22.0, "y": 5.0}, min_quality=0.95)
    assert params["cycle_time"] == pytest.approx(25.0, abs=0.02)
    res = opt.last_result_
    assert res.predicted_after["defect_rate"] <= 0.05 + 1e-6
    assert res.solver["method"] == config.optimization.SOLVER.constrained_method
    # Unconstrained (quality 0.9 -> x <= 50) the optimum is the bowl's bottom, x = 30.
    free = opt.optimize_for_efficiency({"cycle_time": 22.0, "y": 5.0}, min_quality=0.9)
    assert free["cycle_time"] == pytest.approx(30.0, abs=0.05)
    assert opt.last_result_.honesty.simulated_improvement == pytest.approx(
        (0.9 - 0.001 * 0**2) - (0.9 - 0.001 * 8**2), abs=1e-4
    )


def test_quality_with_energy_cap_and_equality(config, sloped_model) -> None:
    opt = ProcessOptimizer(sloped_model, config, simulator=None)
    # min defect = 0.002 x -> x at its lower bound 20, energy 40 + 2 (y - 4)^2 <= 48 -> |y-4| <= 2
    params = opt.optimize_for_quality({"cycle_time": 40.0, "y": 9.0}, max_energy=48.0)
    assert params["cycle_time"] == pytest.approx(20.0, abs=1e-3)
    assert opt.last_result_.predicted_after["energy_used"] <= 48.0 + 1e-4
    # An equality h(theta) = 0 on an outcome: efficiency == 0.8 -> |x - 30| = 10 -> x = 20 excluded
    # by the defect objective? min 0.002 x on {x = 20 or 40} -> x = 20.
    params = opt.optimize_detailed(
        "quality", {"cycle_time": 35.0, "y": 4.0}, {"efficiency": 0.8}
    ).params
    assert 0.9 - 0.001 * (params["cycle_time"] - 30) ** 2 == pytest.approx(0.8, abs=1e-4)


def test_inputs_checked_before_any_work(config) -> None:
    class Counting(ManufacturingModel):
        calls = 0

        def _predict_arrays(self, X, *, with_std=True):
            Counting.calls += 1
            return super()._predict_arrays(X, with_std=with_std)

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"cycle_time": rng.uniform(20, 60, 100), "y": rng.uniform(0, 10, 100)})
    model = Counting()
    model.train_optimization_model(pd.concat([X, weighted_truth(X)], axis=1))
    opt = ProcessOptimizer(model, config)
    Counting.calls = 0
    start = {"cycle_time": 30.0, "y": 4.0}
    with pytest.raises(ParameterError, match="min 50.0 > max 30.0"):
        opt.optimize_process_parameters(start, {"cycle_time": (50.0, 30.0)})
    with pytest.raises(ParameterError, match="unknown parameter 'cycle'"):
        opt.optimize_process_parameters({"cycle": 30.0})
    with pytest.raises(ParameterError, match="unknown parameter 'speed'"):
        opt.optimize_process_parameters(start, {"speed": (1, 2)})
    with pytest.raises(ParameterError, match="finite"):
        opt.optimize_process_parameters({"cycle_time": math.nan, "y": 4.0})
    with pytest.raises(ParameterError, match="finite"):
        opt.optimize_process_parameters(start, {"y": (math.nan, 3.0)})
    with pytest.raises(ParameterError, match="outcome the model predicts"):
        opt.optimize_process_parameters({"energy_used": 50.0})
    with pytest.raises(ParameterError, match="min_quality"):
        opt.optimize_for_efficiency(start, min_quality=1.5)
    with pytest.raises(ParameterError, match="empty"):
        opt.optimize_process_parameters({})
    assert Counting.calls == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"defect_rate": (math.nan, 0.1)}, "finite"),
        ({"defect_rate": (-math.inf, math.nan)}, "finite"),
        ({"energy_used": math.nan}, "finite"),
        ({"energy_used": (50.0, 40.0)}, "min 50.0 > max 40.0"),
        ({"energy_used": "low"}, "must be a number"),
        ([("energy_used", (0, 1))], "extra must be a dict"),
    ],
)
def test_extra_outcome_constraints_are_checked_before_any_work(
    config, sloped_model, extra, message
) -> None:
    opt = ProcessOptimizer(sloped_model, config, simulator=None)
    with pytest.raises(ParameterError, match=message):
        opt.optimize_detailed("quality", {"cycle_time": 30.0, "y": 4.0}, extra=extra)
    with pytest.raises(AttributeError):
        opt.last_result_  # noqa: B018 -- nothing ran, nothing stored


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"objective": "efficiency", "min_quality": math.nan}, "min_quality must be a finite"),
        ({"objective": "weighted", "min_quality": math.nan}, "min_quality must be a finite"),
        ({"objective": "efficiency", "min_quality": 1.2}, r"min_quality must lie in \[0, 1\]"),
        ({"objective": "quality", "max_energy": math.nan}, "max_energy must be a finite"),
        ({"objective": "quality", "max_energy": math.inf}, "max_energy must be a finite"),
        ({"objective": "weighted", "max_energy": 150.0}, "objective='quality' only"),
    ],
)
def test_ai_integration_rejects_nan_and_misplaced_bounds(
    config, store, process_model, kwargs, message
) -> None:
    from circman_kernel.twin.digital_twin import DigitalTwin

    twin = DigitalTwin(config, seed=4, store=store)
    twin.initialize()
    ai = AIIntegration(twin, process_model)
    with pytest.raises(ParameterError, match=message):
        ai.optimize_parameters(**kwargs)
    assert ai.optimization_history == [] and store.runs("optimization").empty


def test_untrained_model_and_infeasible_problem(config, sloped_model) -> None:
    with pytest.raises(ModelError, match="not trained"):
        ProcessOptimizer(ManufacturingModel(), config).optimize_process_parameters({"x": 1.0})
    opt = ProcessOptimizer(sloped_model, config, simulator=None)
    # defect_rate = 0.002 x >= 0.04 on x in [20, 60]: 0.01 is out of reach.
    with pytest.raises(OptimizationError, match="no feasible parameters.*defect_rate"):
        opt.optimize_for_efficiency({"cycle_time": 30.0, "y": 4.0}, min_quality=0.99)


def test_every_bound_and_constraint_holds_at_the_result(config, sloped_model) -> None:
    opt = ProcessOptimizer(sloped_model, config, simulator=None)
    cases = [(0.93, None), (0.9, (22.0, 28.0)), (0.92, (None, 45.0))]
    for min_quality, bound in cases:
        cons = {"y": (1.0, 3.0)} if bound is None else {"cycle_time": bound, "y": (1.0, 3.0)}
        opt.optimize_for_efficiency({"cycle_time": 40.0, "y": 2.0}, min_quality, cons)
        res = opt.last_result_
        for name, (lo, hi) in res.bounds.items():
            assert lo - 1e-9 <= res.params[name] <= hi + 1e-9
        assert 1.0 <= res.params["y"] <= 3.0
        assert res.predicted_after["defect_rate"] <= 1 - min_quality + 1e-6
        assert res.predicted_after["defect_rate"] <= 0.1 + 1e-9  # OPTIMIZATION_CONSTRAINTS


def test_wrong_surrogate_gain_is_not_reproduced(config) -> None:
    # The surrogate believes efficiency peaks at x = 50; the truth peaks at x = 30.
    def wrong(frame):
        out = weighted_truth(frame)
        out["efficiency"] = 0.9 - 0.001 * (frame["cycle_time"].to_numpy() - 50) ** 2
        return out

    opt = ProcessOptimizer(train_on(wrong), config, simulator=function_simulator(weighted_truth))
    opt.optimize_process_parameters({"cycle_time": 30.0, "y": 4.0})
    res = opt.last_result_
    assert res.predicted_improvement == pytest.approx(40.0, abs=0.05)  # 0.1 * 20^2
    assert res.honesty.simulated_improvement == pytest.approx(-40.0, abs=0.05)
    assert res.verdict == "not reproduced"


def test_wrong_surrogate_against_the_process_model(config) -> None:
    from circman_kernel.ai.surrogate_data import synthetic_history

    production, quality = synthetic_history(400, seed=5, config=config)
    # Claim: efficiency grows with the set point. The physics disagrees (flat in band,
    # falling above 27 degC).
    quality = quality.assign(efficiency=0.5 + 0.015 * production["target_temperature"])
    model = ManufacturingModel(config)
    model.train_optimization_model(production, quality)
    opt = ProcessOptimizer(model, config)  # simulator: the process model
    fixed = {
        "temperature": 22.5,
        "energy_consumption": 120.5,
        "production_rate": 8.3,
        "temperature_regulation": 0.3,
        "cycle_time": 30.0,
    }
    opt.optimize_for_efficiency({"target_temperature": 22.5}, min_quality=0.9, fixed=fixed)
    res = opt.last_result_
    assert res.params["target_temperature"] > 29.0
    assert res.predicted_improvement > 0.05
    assert res.honesty.simulated_improvement <= 0.0
    assert res.verdict == "not reproduced"


def test_optimum_outside_training_data_is_flagged(config, flat_model) -> None:
    opt = ProcessOptimizer(flat_model, config, simulator=function_simulator(weighted_truth))
    opt.optimize_process_parameters({"cycle_time": 30.0, "y": 4.0}, {"y": (12.0, 15.0)})
    res = opt.last_result_
    assert res.params["y"] == pytest.approx(12.0, abs=1e-6)
    assert res.out_of_training_range == ("y",)
    assert res.honesty.out_of_training_range == ("y",)


@given(lo=st.floats(-1e6, 1e6), width=st.floats(0, 1e6))
def test_parse_constraint_accepts_ordered_pairs(lo: float, width: float) -> None:
    hi = lo + width
    assert parse_constraint("x", (lo, hi)) == (lo, hi)
    assert parse_constraint("x", {"min": lo, "max": hi}) == (lo, hi)
    assert parse_constraint("x", lo) == (lo, lo)


@given(lo=st.floats(-1e6, 1e6), gap=st.floats(1e-3, 1e6))
def test_parse_constraint_rejects_min_above_max(lo: float, gap: float) -> None:
    with pytest.raises(ParameterError, match="min .* > max"):
        parse_constraint("x", (lo + gap, lo))


@pytest.mark.parametrize(
    "bad",
    [math.nan, (math.nan, 1.0), (1.0, "a"), "3", (1, 2, 3), True, {"min": 1, "low": 0}, math.inf],
)
def test_parse_constraint_rejects_bad_values(bad) -> None:
    with pytest.raises(ParameterError):
        parse_constraint("x", bad)


# --------------------------------------------------------------------------- process model


@pytest.fixture(scope="module")
def process_model() -> ManufacturingModel:
    from circman_kernel.ai.surrogate_data import synthetic_history
    from circman_kernel.core.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs")
    model = ManufacturingModel(cfg)
    model.train_optimization_model(*synthetic_history(1500, seed=42, config=cfg))
    return model


def test_hot_line_optimum_is_reproduced_by_the_process_model(config, process_model) -> None:
    opt = ProcessOptimizer(process_model, config, seed=1)
    fixed = {"temperature": 29.0, "energy_consumption": 120.5, "production_rate": 8.3}
    params = opt.optimize_for_efficiency(
        {"target_temperature": 28.0, "temperature_regulation": 0.1, "cycle_time": 45.0}, fixed=fixed
    )
    res = opt.last_result_
    assert 18.0 <= params["target_temperature"] <= 27.0  # back inside the band
    assert res.honesty.verdict == "reproduced"
    assert res.honesty.simulated_after["efficiency"] > res.honesty.simulated_before["efficiency"]


DEFAULT_LINE = {"temperature": 22.5, "energy_consumption": 120.5, "production_rate": 8.3}
DEFAULT_SETTINGS = {"target_temperature": 22.5, "temperature_regulation": 0.1, "cycle_time": 30.0}


def test_default_weights_keep_the_manual_terms_and_value_output(config) -> None:
    weights = dict(config.optimization.OBJECTIVE_WEIGHTS)
    # the manual's section 7.3 objective, term by term, and the output it leaves out
    assert weights == {
        "efficiency": -100.0,
        "energy_used": 0.1,
        "defect_rate": 1000.0,
        "output_amount": -10.0,
    }
    from circman_kernel.core.config import default_config

    assert dict(default_config().optimization.OBJECTIVE_WEIGHTS) == weights


def test_trading_output_for_nothing_is_penalised_by_the_default_objective(config) -> None:
    from circman_kernel.ai.problem import objective_values
    from circman_kernel.ai.surrogate_data import simulate_outcomes

    # The old default optimum: cycle 30 -> 60 s with the line in its temperature band.
    # Efficiency, defects and power do not move, the output halves (rate 10 * 30/c * 0.92,
    # ramped by 0.2 modules/h per step from 8.3).
    frame = pd.DataFrame([{**DEFAULT_LINE, **DEFAULT_SETTINGS, "cycle_time": c} for c in (30, 60)])
    sim = simulate_outcomes(frame, seed=0, iterations=4, config=config)
    targets = ("output_amount", "energy_used", "efficiency", "defect_rate")
    f = objective_values(
        "weighted", config.optimization.OBJECTIVE_WEIGHTS, targets, sim[list(targets)].to_numpy()
    )
    at30, at60 = f[sim["row"].to_numpy() == 0], f[sim["row"].to_numpy() == 1]
    assert sim.loc[sim["row"] == 0, "output_amount"].to_numpy() == pytest.approx(9.0)
    assert sim.loc[sim["row"] == 1, "output_amount"].to_numpy() == pytest.approx(4.6)
    assert at60 - at30 == pytest.approx(10.0 * (9.0 - 4.6))  # worse by the lost output


def test_default_weighted_optimum_is_reproduced_on_the_default_line(config, process_model) -> None:
    opt = ProcessOptimizer(process_model, config, seed=0)
    res = opt.optimize_detailed("weighted", DEFAULT_SETTINGS, fixed=DEFAULT_LINE)
    h = res.honesty
    # A shorter cycle raises the target rate (10 * 30/20 * 0.92 = 13.8 modules/h); over the
    # 8-step batch the 0.2 modules/h ramp from 8.3 allows a mean of 9.2 instead of 9.0.
    assert res.params["cycle_time"] == pytest.approx(20.0, abs=1e-6)  # its lower bound
    assert h.simulated_before["output_amount"] == pytest.approx(9.0)
    assert h.simulated_after["output_amount"] == pytest.approx(9.2)
    for kpi in ("efficiency", "defect_rate", "energy_used"):  # in band: nothing else moves
        assert h.simulated_after[kpi] == pytest.approx(h.simulated_before[kpi])
    assert h.simulated_improvement == pytest.approx(10.0 * 0.2)
    sigma = config.optimization.SOLVER.honesty_sigma
    assert h.simulated_improvement > sigma * h.simulated_improvement_se
    assert res.predicted_improvement > 0.0
    # real, but the surrogate promised far more (it misses the ramp limit): said so
    assert h.reproduced and h.verdict == "partly reproduced" and res.out_of_training_range == ()
    assert h.reproduced_share == pytest.approx(h.simulated_improvement / res.predicted_improvement)
    assert h.reproduced_share < 0.5

    def energy_per_good_module(k):  # [kWh/module] = kW / (modules/h)
        return k["energy_used"] / (k["output_amount"] * (1.0 - k["defect_rate"]))

    assert energy_per_good_module(h.simulated_after) < energy_per_good_module(h.simulated_before)


def test_pareto_front_is_non_dominated_and_uses_the_lca(config, process_model) -> None:
    from circman_kernel.lca.analyzer import LCAAnalyzer

    opt = ProcessOptimizer(process_model, config)
    start = {"target_temperature": 22.5, "temperature_regulation": 0.1, "cycle_time": 30.0}
    fixed = {"temperature": 29.0, "energy_consumption": 120.5, "production_rate": 8.3}
    front = opt.optimize_pareto(start, fixed=fixed, population_size=40, generations=15, seed=3)
    again = opt.optimize_pareto(start, fixed=fixed, population_size=40, generations=15, seed=3)
    pd.testing.assert_frame_equal(front, again)
    assert len(front) >= 5
    F = np.column_stack(
        [-front["output_amount"], front["energy_used"], front["carbon_kg_per_module"]]
    )
    for i in range(len(F)):
        dominated = np.all(F[i] >= F, axis=1) & np.any(F[i] > F, axis=1)
        assert not dominated.any()
    assert front["cycle_time"].between(20.0, 60.0).all()
    assert front["defect_rate"].between(0.01 - 1e-9, 0.1 + 1e-9).all()
    row = front.iloc[0]
    sim = config.digital_twin.SIMULATION_PARAMETERS
    expected = LCAAnalyzer(config.impact_factors).calculate_manufacturing_impact(
        {
            "silicon_wafer": sim.silicon_wafer_consumption_rate,
            "solar_glass": sim.solar_glass_consumption_rate,
        },
        row["energy_used"] / row["output_amount"],
    )
    assert row["carbon_kg_per_module"] == pytest.approx(expected)


# --------------------------------------------------------------------------- AIIntegration


def test_manual_13_4_parameter_extraction(twin) -> None:
    ai = AIIntegration(twin)
    twin.update(
        {
            "production_line": {
                "temperature": 23.5,
                "energy_consumption": 120.5,
                "production_rate": 8.5,
            }
        }
    )
    params = ai.extract_parameters_from_state()
    assert "temperature" in params
    assert params["temperature"] == 23.5
    assert "energy_used" in params
    assert params["energy_used"] == 120.5
    assert params["output_amount"] == 8.5


def test_two_integrations_side_by_side(config, process_model) -> None:
    from circman_kernel.twin.digital_twin import DigitalTwin

    a, b = DigitalTwin(config, seed=1), DigitalTwin(config, seed=2)
    a.initialize()
    b.initialize()
    ai_a, ai_b = AIIntegration(a, process_model), AIIntegration(b, process_model)
    a.update({"production_line": {"temperature": 26.0}})
    assert ai_a.extract_parameters_from_state()["temperature"] == 26.0
    assert ai_b.extract_parameters_from_state()["temperature"] == 22.5
    assert ai_a.predict_outcomes()["parameters"]["temperature"] == 26.0


def test_predict_optimize_apply_report_and_store(config, store, process_model) -> None:
    from circman_kernel.twin.digital_twin import DigitalTwin

    twin = DigitalTwin(config, seed=4, store=store)
    twin.initialize()
    twin.update({"production_line": {"temperature": 28.5}})
    ai = AIIntegration(twin, process_model)
    pred = ai.predict_outcomes()
    assert set(pred) >= {
        "efficiency",
        "energy_used",
        "defect_rate",
        "output_amount",
        "efficiency_std",
    }
    mapped = ai.predict_outcomes({"energy_used": 150.0})  # the twin's name for the power
    assert mapped["parameters"]["energy_consumption"] == 150.0
    with pytest.raises(ParameterError):
        ai.predict_outcomes({"no_such_thing": 1.0})
    params = ai.optimize_parameters()
    assert set(params) == {"target_temperature", "temperature_regulation", "cycle_time"}
    result = ai.optimization_history[-1]
    assert result.fixed["temperature"] == 28.5
    runs = store.runs("optimization")
    assert len(runs) == 1
    row = store.query("SELECT * FROM optimizations WHERE run_id = ?", [ai.run_ids[0]])
    assert len(row) == 1
    assert row["improvement"].iloc[0] == pytest.approx(result.simulated_improvement)
    kpis = store.get_run(ai.run_ids[0])["kpis"]
    assert kpis["predicted_improvement"] == pytest.approx(result.predicted_improvement)
    assert kpis["simulated_improvement"] == pytest.approx(result.simulated_improvement)
    before = twin.get_current_state()
    assert ai.apply_optimized_parameters(params, simulation_steps=5) is True
    assert len(ai.last_simulation_) == 6
    assert twin.get_current_state()["production_line"] == before["production_line"]
    with pytest.raises(ParameterError, match="not a process parameter"):
        ai.apply_optimized_parameters({"warp_speed": 9.0})
    report = ai.generate_optimization_report()
    assert report["total_optimizations"] == 1
    assert report["reproduced"] + report["partly_reproduced"] + report["not_reproduced"] <= 1
    assert report["latest"]["verdict"] == result.verdict


def test_new_integration_is_ready_and_trains_from_twin_history(config, twin) -> None:
    ai = AIIntegration(twin)  # no model: cached default or trained now
    assert ai.model.is_trained
    assert ai.generate_optimization_report()["total_optimizations"] == 0
    rng = np.random.default_rng(0)
    for _ in range(40):
        twin.update(
            {
                "production_line": {
                    "temperature": float(rng.uniform(19, 26)),
                    "energy_consumption": float(rng.uniform(100, 140)),
                    "production_rate": float(rng.uniform(7, 10)),
                }
            }
        )
    old = ai.model
    assert ai.train_model_from_digital_twin(history_limit=30) is True
    assert ai.model is not old and ai.optimizer.model is ai.model
    assert ai.model.n_samples_ == 29
