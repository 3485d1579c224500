"""The technical manual's own API, called as the manual writes it (issue 13, issue 20 item 8).

Sections 13.2-13.4 (its fixtures, unit and integration tests) are reproduced with their
literal inputs, then every call of sections 5, 6.2, 7, 8 and 16 that the package once
refused: ``SimulationEngine(state_manager)``, state-shaped and dotted parameters, the
Monte Carlo list, the optimisers on ``DEFAULT_PARAMETERS``, training data joined on
``batch_id``, the LCA total of 16.3.3 and per-severity subscriptions. Last, the edges of
a twin update (one path resolution serves updates and simulation parameters).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from circman_kernel import (
    AIIntegration,
    DigitalTwin,
    LCAAnalyzer,
    LCAIntegration,
    ManufacturingModel,
    ProcessOptimizer,
    ScenarioManager,
    SimulationEngine,
    StateManager,
)
from circman_kernel.core.errors import (
    NotInitializedError,
    ParameterError,
    StateValidationError,
)
from circman_kernel.core.state_merge import merge_state
from circman_kernel.core.state_schema import MAX_DEPTH
from circman_kernel.simulation import results as sim_results
from circman_kernel.twin.event_types import Event, EventCategory, EventSeverity
from circman_kernel.twin.sources import ManualInputSource

# ----------------------------------------------------------------- manual 13.2: conftest


@pytest.fixture(scope="function")
def reset_singletons():
    """Reset singleton instances between tests."""
    DigitalTwin._reset()
    StateManager._reset()
    yield


@pytest.fixture
def digital_twin():
    """Get initialized digital twin instance."""
    twin = DigitalTwin()
    twin.initialize()
    return twin


@pytest.fixture
def sample_state():
    """Get sample state for testing."""
    return {
        "timestamp": "2025-02-24T14:30:22.123456",
        "system_status": "running",
        "production_line": {
            "status": "running",
            "temperature": 22.5,
            "energy_consumption": 120.5,
        },
    }


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # the default surrogate is trained once per session into a private cache
    monkeypatch.setenv("CIRCMAN_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


# ----------------------------------------------------------------- manual 13.3: unit tests


class TestDigitalTwin:
    """Test Digital Twin core functionality."""

    def test_singleton_pattern(self):
        """The manual's twin is a singleton; here several twins coexist on purpose.

        DESIGN.md: a baseline and a what-if twin live in one kernel, so each
        ``DigitalTwin()`` is its own (the manual asserts ``twin1 is twin2``).
        """
        twin1 = DigitalTwin()
        twin2 = DigitalTwin()
        assert twin1 is not twin2
        twin1.initialize()
        twin1.update({"production_line": {"temperature": 30.0}})
        twin2.initialize()
        assert twin2.get_current_state()["production_line"]["temperature"] == 22.5

    def test_initialization(self):
        """Test Digital Twin initialization."""
        twin = DigitalTwin()
        assert twin.initialize() is True
        assert twin._initialized is True

    def test_state_update(self):
        """Test state update functionality."""
        twin = DigitalTwin()
        twin.initialize()

        # Update with test data
        test_data = {"production_line": {"temperature": 23.5}}

        result = twin.update(test_data)
        assert result is True

        # Verify update was applied
        state = twin.get_current_state()
        assert state["production_line"]["temperature"] == 23.5


# ----------------------------------------------------------------- manual 13.4: integration


class TestDigitalTwinAIIntegration:
    """Test integration between Digital Twin and AI components."""

    def test_parameter_extraction(self, reset_singletons):
        """Test parameter extraction from Digital Twin state."""
        # Initialize components
        twin = DigitalTwin()
        twin.initialize()
        ai = AIIntegration(twin)

        # Update twin with test state
        test_state = {
            "production_line": {
                "temperature": 23.5,
                "energy_consumption": 120.5,
                "production_rate": 8.5,
            }
        }
        twin.update(test_state)

        # Extract parameters
        params = ai.extract_parameters_from_state()

        # Verify extraction
        assert "temperature" in params
        assert params["temperature"] == 23.5
        assert "energy_used" in params  # Mapped from energy_consumption
        assert params["energy_used"] == 120.5
        assert params["output_amount"] == 8.5  # production_rate, PARAMETER_MAPPING


def test_fixtures_of_13_2_work(digital_twin, sample_state) -> None:
    assert digital_twin.is_running
    sm = StateManager()
    sm.set_state(sample_state)
    assert sm.get_current_state() == sample_state


# ----------------------------------------------------------------- 1. SimulationEngine(state_manager)


def test_engine_takes_the_state_manager_and_starts_from_its_state(sample_state) -> None:
    state_manager = StateManager()
    state_manager.set_state(sample_state)
    engine = SimulationEngine(state_manager)  # manual 5.1
    assert engine.state_manager is state_manager
    results = engine.run_simulation(steps=10)  # manual 5.2: initial_state from the manager
    assert len(results) == 11
    assert results[0]["timestamp"] == "2025-02-24T14:30:22.123456"
    assert results[0]["production_line"]["temperature"] == 22.5
    assert results[0]["production_line"]["energy_consumption"] == 120.5
    # the manager's state changes: the next run starts from the new one
    state_manager.update_state({"production_line": {"temperature": 24.0}})
    assert engine.run_simulation(steps=2)[0]["production_line"]["temperature"] == 24.0
    # the Monte Carlo run starts there too
    mc = engine.run_monte_carlo_simulation(steps=2, iterations=3, seed=1)
    assert mc.trajectories[0, 0].tolist() == [24.0, 24.0, 24.0]
    # an explicit initial_state still wins
    other = {**sample_state, "production_line": {"temperature": 19.0}}
    assert engine.run_simulation(2, initial_state=other)[0]["production_line"]["temperature"] == 19


def test_engine_takes_a_twin_and_refuses_other_types_at_construction(config) -> None:
    twin = DigitalTwin(config, seed=1)
    twin.initialize()
    twin.update({"production_line": {"temperature": 26.0}})
    engine = SimulationEngine(twin)
    assert engine.config is twin.config
    assert engine.run_simulation(steps=3)[0]["production_line"]["temperature"] == 26.0
    assert SimulationEngine(config).config is config  # the package's own first argument
    for wrong in ("state_manager", {"production_line": {}}, 42):
        with pytest.raises(TypeError, match="StateManager, a DigitalTwin or a CircmanConfig"):
            SimulationEngine(wrong)
    with pytest.raises(NotInitializedError, match="no state yet"):
        SimulationEngine(StateManager()).run_simulation(steps=2)
    with pytest.raises(NotInitializedError):
        SimulationEngine(DigitalTwin(config)).run_simulation(steps=2)


# ----------------------------------------------------------------- 2. state-shaped parameters


@pytest.mark.parametrize(
    "parameters",
    [
        {"production_line": {"temperature": 25.5}},
        {"production_line.temperature": 25.5},
    ],
    ids=["nested", "dotted"],
)
def test_state_parameters_apply_before_the_first_step(sample_state, parameters) -> None:
    engine = SimulationEngine()
    results = engine.run_simulation(
        steps=10, initial_state=sample_state, parameters=parameters, seed=3
    )
    assert results[0]["production_line"]["temperature"] == 25.5
    assert results[0]["production_line"]["energy_consumption"] == 120.5  # merged, not replaced
    assert sample_state["production_line"]["temperature"] == 22.5  # the caller's dict is kept
    # the override is the model's initial state: T1 = T0 + (22.5 - T0) 0.1 + noise
    plain = engine.run_simulation(10, sample_state, seed=3)
    t1 = results[1]["production_line"]["temperature"]
    assert t1 - plain[1]["production_line"]["temperature"] == pytest.approx(0.9 * 3.0)
    # beside the model's own parameter names
    both = engine.run_simulation(
        2, sample_state, {**parameters, "target_temperature": 25.5}, seed=3
    )
    assert both[0]["production_line"]["temperature"] == 25.5


def test_twin_simulate_and_scenarios_take_state_parameters(config) -> None:
    twin = DigitalTwin(config, seed=2)
    twin.initialize()
    result = twin.simulate(steps=5, parameters={"production_line": {"temperature": 25.5}})
    assert result[0]["production_line"]["temperature"] == 25.5
    assert twin.get_current_state()["production_line"]["temperature"] == 22.5
    manager = ScenarioManager(config)
    manager.create_scenario("baseline")
    manager.create_scenario("warm start", {"production_line.temperature": 26.0})
    manager.create_scenario(
        "hot, slow", {"production_line": {"temperature": 30.0}, "cycle_time": 40.0}
    )
    run = manager.run_scenario("warm start", steps=5, seed=1)
    assert run[0]["production_line"]["temperature"] == 26.0
    table = manager.compare_scenarios(["baseline", "warm start", "hot, slow"], steps=5, seed=1)
    # each row equals a lone run of its scenario (common random numbers)
    for name in ("baseline", "warm start", "hot, slow"):
        alone = manager.run_scenario(name, steps=5, seed=1).kpis()
        for kpi in ("mean_efficiency", "defect_rate", "output_modules", "energy_kwh"):
            assert table.loc[name, kpi] == pytest.approx(alone[kpi]), (name, kpi)
    # a line started above its band (27 degC) is less efficient while it cools down
    assert table.loc["hot, slow", "mean_efficiency_diff"] < 0


def test_stored_run_keeps_the_state_overrides_as_paths(config, store) -> None:
    engine = SimulationEngine(config, store=store)
    result = engine.run_simulation(
        3, parameters={"production_line": {"temperature": 25.5}, "cycle_time": 28.0}, seed=1
    )
    stored = store.get_run(result.run_id)["parameters"]
    assert stored["production_line.temperature"] == 25.5 and stored["cycle_time"] == 28.0
    again = {k: v for k, v in stored.items() if k != "steps"}
    replay = SimulationEngine(config).run_simulation(3, parameters=again, seed=1)
    np.testing.assert_array_equal(replay.trajectory, result.trajectory)


@pytest.mark.parametrize(
    ("parameters", "match"),
    [
        ({"production_line": {"temprature": 25.5}}, "did you mean 'temperature'"),
        ({"production_line.temprature": 25.5}, "did you mean 'temperature'"),
        ({"target_temprature": 25.5}, "did you mean 'target_temperature'"),
        ({"producton_line": {"temperature": 25.5}}, "did you mean 'production_line'"),
        ({"production_line.temperature": 900.0}, "physical range"),
    ],
)
def test_unknown_paths_raise_parameter_error_with_a_hint(parameters, match) -> None:
    engine = SimulationEngine()
    with pytest.raises(ParameterError, match=match):
        engine.run_simulation(steps=2, parameters=parameters)
    with pytest.raises(ParameterError, match=match):
        ScenarioManager().create_scenario("typo", parameters)


# ----------------------------------------------------------------- 3. Monte Carlo as a list


def test_monte_carlo_result_is_the_manuals_list(sample_state, monkeypatch) -> None:
    built = []
    real = sim_results._vector_to_state
    monkeypatch.setattr(
        sim_results, "_vector_to_state", lambda *a, **k: built.append(1) or real(*a, **k)
    )
    engine = SimulationEngine()
    results = engine.run_monte_carlo_simulation(
        steps=10,
        initial_state=sample_state,
        parameters={"energy_consumption_increment": 2.0},
        iterations=100,
        uncertainty=0.1,
        seed=5,
    )
    assert built == []  # nothing built until read
    assert len(results) == 100
    first = results[0]
    assert len(built) == 11  # one iteration's states, on access
    assert first["iteration"] == 0
    assert len(first["states"]) == 11 and isinstance(first["states"], list)
    assert first["states"][0]["production_line"]["temperature"] == 22.5
    assert first["states"][0]["timestamp"] == "2025-02-24T14:30:22.123456"
    # the parameters are the iteration's varied ones (the passed one among them)
    draws = results.parameter_draws
    assert (
        first["parameters"]["energy_consumption_increment"]
        == draws.loc[0, "energy_consumption_increment"]
    )
    varied = [r["parameters"]["energy_consumption_increment"] for r in results]
    assert [r["iteration"] for r in results] == list(range(100))
    assert np.std(varied) == pytest.approx(0.2, rel=0.3) and np.mean(varied) == pytest.approx(
        2.0, rel=0.05
    )
    # each iteration's states are its trajectory, and agree with the frames
    last = results[-1]
    assert last["iteration"] == 99
    final = results.final.loc[99]
    assert (
        last["states"][-1]["production_line"]["temperature"] == final["production_line.temperature"]
    )
    assert results[1:3][1]["iteration"] == 2
    assert isinstance(results.kpis(), pd.DataFrame) and len(results.kpis()) == 100


# ----------------------------------------------------------------- 4. optimiser inputs


MANUAL_DEFAULT_PARAMETERS = {
    "input_amount": 100.0,
    "energy_used": 50.0,
    "cycle_time": 30.0,
    "efficiency": 0.9,
    "defect_rate": 0.05,
    "thickness_uniformity": 95.0,
}


def test_default_parameters_are_the_manuals(config) -> None:
    assert dict(config.digital_twin.AI_INTEGRATION.DEFAULT_PARAMETERS) == MANUAL_DEFAULT_PARAMETERS


def _check_every_key(out: dict[str, float], result: Any, moved: set[str]) -> None:
    assert list(out)[: len(MANUAL_DEFAULT_PARAMETERS)] == list(MANUAL_DEFAULT_PARAMETERS)
    for key, value in MANUAL_DEFAULT_PARAMETERS.items():
        if key not in moved:
            assert out[key] == value, key
    assert set(result.held) == set(MANUAL_DEFAULT_PARAMETERS) - moved
    assert all(result.held[k] == MANUAL_DEFAULT_PARAMETERS[k] for k in result.held)
    # OPTIMIZATION_CONSTRAINTS: cycle_time in [20, 60]
    assert 20.0 <= out["cycle_time"] <= 60.0
    assert result.bounds["cycle_time"][0] >= 20.0 and result.bounds["cycle_time"][1] <= 60.0


def test_process_optimizer_takes_default_parameters(config) -> None:
    model = ManufacturingModel.default(config)
    optimizer = ProcessOptimizer(model)  # manual 7.4: ProcessOptimizer(self.model)
    current = dict(config.digital_twin.AI_INTEGRATION.DEFAULT_PARAMETERS)
    out = optimizer.optimize_process_parameters(current)
    _check_every_key(out, optimizer.last_result_, {"cycle_time"})
    assert optimizer.last_result_.params == {"cycle_time": out["cycle_time"]}
    # caller constraints narrow the configured ones
    out = optimizer.optimize_process_parameters(current, constraints={"cycle_time": (25.0, 35.0)})
    assert 25.0 <= out["cycle_time"] <= 35.0
    out = optimizer.optimize_for_efficiency(current, min_quality=0.9)
    _check_every_key(out, optimizer.last_result_, {"cycle_time"})
    assert optimizer.last_result_.outcome_constraints["defect_rate"][1] == pytest.approx(0.1)
    out = optimizer.optimize_for_quality(current, max_energy=150.0)
    _check_every_key(out, optimizer.last_result_, {"cycle_time"})
    assert optimizer.last_result_.outcome_constraints["energy_used"][1] == 150.0
    assert "held" in optimizer.last_result_.to_dict()
    # a typo is still a typo
    with pytest.raises(ParameterError, match="did you mean 'cycle_time'"):
        optimizer.optimize_process_parameters({**current, "cycle_tme": 30.0})
    with pytest.raises(ParameterError, match="nothing to optimise"):
        optimizer.optimize_process_parameters({"input_amount": 100.0, "efficiency": 0.9})


def test_ai_integration_takes_default_parameters(config) -> None:
    twin = DigitalTwin(config, seed=3)
    twin.initialize()
    ai = AIIntegration(twin)
    current = dict(config.digital_twin.AI_INTEGRATION.DEFAULT_PARAMETERS)
    out = ai.optimize_parameters(current)
    result = ai.optimization_history[-1]
    # every key given, then the decision variables the surrogate moves
    assert list(out)[:6] == list(MANUAL_DEFAULT_PARAMETERS)
    assert set(out) == set(MANUAL_DEFAULT_PARAMETERS) | set(result.params)
    assert {"target_temperature", "temperature_regulation", "cycle_time"} == set(result.params)
    _check_every_key(out, result, {"cycle_time"})
    # energy_used is the twin's reading (energy_consumption) for the model: held as context
    assert result.fixed["energy_consumption"] == 50.0
    out = ai.optimize_parameters(current, objective="efficiency", min_quality=0.9)
    _check_every_key(out, ai.optimization_history[-1], {"cycle_time"})
    with pytest.raises(ParameterError, match="unknown parameter 'thickness'"):
        ai.optimize_parameters({"thickness": 95.0})


# ----------------------------------------------------------------- 5. training data


def test_training_data_with_batch_id_and_timestamps_joins_on_batch_id() -> None:
    from circman_kernel.ai.model import synthetic_history

    production, quality = synthetic_history(300, seed=2)
    production["timestamp"] = pd.date_range("2025-02-24 06:00", periods=300, freq="20min")
    quality["timestamp"] = pd.date_range("2025-02-25 06:00", periods=300, freq="20min")
    quality = quality.iloc[::-1].reset_index(drop=True)  # inspection order, not batch order
    model = ManufacturingModel()
    scores = model.train_optimization_model(production, quality)
    assert scores["n_samples"] == 300.0 and scores["r2_mean"] > 0.5
    assert "timestamp" not in model.feature_names_
    plain = ManufacturingModel().train_optimization_model(*synthetic_history(300, seed=2))
    assert scores["efficiency_r2"] == pytest.approx(plain["efficiency_r2"])


# ----------------------------------------------------------------- 6. LCA total (16.3.3)


def test_lca_total_is_manufacturing_plus_use_plus_end_of_life() -> None:
    analyzer = LCAAnalyzer()
    impact = analyzer.perform_full_lca(
        material_inputs={"silicon_wafer": 2.0, "solar_glass": 10.0},
        energy_consumption=10.0,
        lifetime_years=25,
        annual_energy_generation=400.0,
        grid_carbon_intensity=0.275,
        recycling_rates={"silicon_wafer": 0.9, "solar_glass": 0.5},
        transport_distance=100.0,
    )
    # 2*120 + 10*25 + 10*0.5 = 495; 10000*(0.01 - 0.275) = -2650;
    # 0.2*10 + 5*5 + 12 kg * 100 km * 0.025/1000 = 27.03; credit 1.8*-80 + 5*-20 = -244
    assert impact.total_impact == pytest.approx(495.0 - 2650.0 + 27.03)
    assert impact.recycling_benefit == pytest.approx(-244.0)  # beside it (module D)
    assert impact.net_impact == pytest.approx(-2127.97 - 244.0)
    assert impact.to_dict()["total_impact"] == pytest.approx(-2127.97)


def test_lca_total_in_the_store_views(any_store, config) -> None:
    twin = DigitalTwin(config, seed=1)
    twin.initialize()
    twin.update(
        {
            "materials": {
                "silicon_wafer": {"consumption": 5.0, "waste": 1.0, "recycled": 0.5},
                "solar_glass": {"consumption": 2.0},
            }
        }
    )
    lca = LCAIntegration(twin, store=any_store)
    impact = lca.perform_lca_analysis()
    run_id = lca.lca_results_history[-1]["run_id"]
    summary = any_store.query("SELECT total_impact FROM run_summary WHERE run_id = ?", [run_id])
    assert summary["total_impact"].iloc[0] == pytest.approx(impact.total_impact)
    phases = any_store.query(
        "SELECT phase, impact_kg_co2eq FROM lca_phase_totals WHERE run_id = ?", [run_id]
    )
    got = dict(zip(phases["phase"], phases["impact_kg_co2eq"], strict=True))
    assert got["total"] == pytest.approx(impact.total_impact)
    assert got["recycling_benefit"] == pytest.approx(impact.recycling_benefit)
    assert got["net"] == pytest.approx(impact.net_impact)
    assert impact.recycling_benefit < 0


# ----------------------------------------------------------------- 7. event severity


def test_severity_subscription_is_per_severity_and_min_severity_is_this_or_worse() -> None:
    twin = DigitalTwin()
    twin.initialize()
    event_manager = twin.event_manager
    warnings, serious = [], []
    event_manager.subscribe(warnings.append, severity=EventSeverity.WARNING)  # manual 16.2.1
    event_manager.subscribe(serious.append, min_severity=EventSeverity.WARNING)
    twin.update({"production_line": {"temperature": 31.0}})  # a breach: warning
    twin.update({"production_line": {"temperature": 22.0}})  # recovery: info
    event_manager.publish(Event(category=EventCategory.SYSTEM, severity=EventSeverity.CRITICAL))
    assert [e.severity for e in warnings] == [EventSeverity.WARNING]
    assert [e.severity for e in serious] == [EventSeverity.WARNING, EventSeverity.CRITICAL]
    event_manager.unsubscribe(warnings.append, severity=EventSeverity.WARNING)
    twin.update({"production_line": {"temperature": 31.0}})
    assert len(warnings) == 1 and len(serious) == 3


# ----------------------------------------------------------------- issue 20, item 8


def _deep(levels: int) -> dict:
    out: dict = {}
    node = out
    for _ in range(levels - 1):
        node["a"] = {}
        node = node["a"]
    node["a"] = 1.0
    return out


@pytest.mark.parametrize(
    ("update", "path", "match"),
    [
        ({"production_line": {"temprature": 23}}, "production_line.temprature", "did you mean"),
        ({"custom": 10**400}, "custom", "unknown field"),
        ({"extra": {"custom": 10**400}}, "extra.custom", "finite number"),
        ({"extra": {"custom": math.inf}}, "extra.custom", "finite number"),
        ({"production_line.temperature": math.nan}, "production_line.temperature", "finite"),
        ({"production_line..temperature": 1.0}, "production_line..temperature", "dotted path"),
        ({"extra": {"note": "x" * 20_000}}, "extra.note", "characters"),
        ({"extra": {"values": list(range(200_000))}}, "extra.values", "more than"),
        # datetime.fromisoformat takes any separator; the stores do not
        ({"timestamp": "0001-01-01\x0000:00:00"}, "timestamp", "ISO 8601"),
        ({"timestamp": "2025-02-24T06:00:00.1234567"}, "timestamp", "ISO 8601"),
    ],
)
def test_bad_updates_raise_typed_errors_and_change_nothing(update, path, match) -> None:
    twin = DigitalTwin(seed=1)
    twin.initialize()
    before, n = twin.get_current_state(), len(twin.state_manager)
    with pytest.raises(StateValidationError, match=match) as err:
        twin.update(update)
    assert err.value.path == path
    assert twin.get_current_state() == before and len(twin.state_manager) == n


@pytest.mark.parametrize("where", ["top", "extra"])
def test_deep_nesting_is_a_typed_error_not_recursion(where) -> None:
    twin = DigitalTwin(seed=1)
    twin.initialize()
    update = _deep(1000) if where == "top" else {"extra": _deep(1000)}
    with pytest.raises(StateValidationError):
        twin.update(update)
    twin.update({"extra": _deep(MAX_DEPTH - 2)})  # within the limit
    assert "extra" in twin.get_current_state()


def test_dotted_keys_are_paths_and_extra_holds_free_form_data() -> None:
    twin = DigitalTwin(seed=1)
    twin.initialize()
    twin.update({"production_line.temperature": 31.0, "extra": {"shift": "B", "note.x": [1, 2]}})
    state = twin.get_current_state()
    assert state["production_line"]["temperature"] == 31.0
    assert "production_line.temperature" not in state
    assert state["extra"] == {"shift": "B", "note": {"x": [1, 2]}}
    assert twin.breached_thresholds == {"production_line.temperature": "upper"}  # by path too
    state["extra"]["shift"] = "changed"  # a copy: the stored state keeps its own
    assert twin.get_current_state()["extra"]["shift"] == "B"


def test_manual_input_reports_typos() -> None:
    source = ManualInputSource()
    with pytest.raises(StateValidationError, match="did you mean 'temperature'") as err:
        source.put({"production_line": {"temprature": 23}})
    assert err.value.path == "production_line.temprature"
    source.put({"production_line.temperature": 23.0})
    assert source.read() == {"production_line": {"temperature": 23.0}}


def test_one_path_resolution_for_updates_and_simulation_parameters(sample_state) -> None:
    typo = {"production_line": {"temprature": 23}}
    with pytest.raises(StateValidationError) as from_update:
        StateManager().set_state(merge_state(sample_state, typo))
    with pytest.raises(StateValidationError) as from_simulation:
        SimulationEngine().run_simulation(2, sample_state, typo)
    assert str(from_update.value) == str(from_simulation.value)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=25,
)
_keys = st.sampled_from(
    [
        "production_line",
        "production_line.temperature",
        "materials",
        "environment",
        "extra",
        "timestamp",
        "batch_id",
        "custom",
        "extra.x.y",
        ".",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _json, max_size=4))
def test_arbitrary_updates_raise_only_typed_errors_and_keep_the_state(update) -> None:
    twin = DigitalTwin(seed=1)
    twin.initialize()
    before = twin.get_current_state()
    try:
        twin.update(update)
    except StateValidationError:
        assert twin.get_current_state() == before
    else:
        after = twin.get_current_state()
        assert twin.state_manager.validate_state(after) == (True, "valid")
