"""DigitalTwin: the manual's tests (13.3/13.4), no singletons, thresholds, save/load."""

from __future__ import annotations

import json
import threading

import pytest

from circman_kernel.core.errors import (
    ModelError,
    NotInitializedError,
    ParameterError,
    StateValidationError,
)
from circman_kernel.twin.digital_twin import DigitalTwin
from circman_kernel.twin.event_types import EventCategory, EventSeverity, StateChangeEvent

# Generous bound on waits between threads, so that a regression fails instead of hanging.
WAIT_S = 10.0


def test_initialization(config):
    twin = DigitalTwin(config=config)
    assert twin.initialize() is True
    assert twin._initialized is True and twin.is_running is True
    assert twin.initialize() is True  # idempotent
    events = twin.event_manager.get_events(category="system")
    assert len(events) == 1 and "initialized" in events[0].message


def test_state_update_manual_13_3(twin):
    assert twin.update({"production_line": {"temperature": 23.5}}) is True
    assert twin.get_current_state()["production_line"]["temperature"] == 23.5


def test_manual_13_4_values_visible(twin):
    twin.update(
        {
            "production_line": {
                "temperature": 23.5,
                "energy_consumption": 120.5,
                "production_rate": 8.5,
            }
        }
    )
    line = twin.get_current_state()["production_line"]
    assert (line["temperature"], line["energy_consumption"], line["production_rate"]) == (
        23.5,
        120.5,
        8.5,
    )


def test_two_twins_do_not_share_state(config):
    baseline, what_if = DigitalTwin(config=config), DigitalTwin(config=config, name="what-if")
    assert baseline is not what_if
    baseline.initialize()
    what_if.initialize()
    what_if.update({"production_line": {"temperature": 25.0}})
    assert baseline.get_current_state()["production_line"]["temperature"] == 22.5
    assert baseline.state_manager is not what_if.state_manager
    assert baseline.event_manager is not what_if.event_manager
    assert len(baseline.get_state_history()) == 0 and len(what_if.get_state_history()) == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.update({}),
        lambda t: t.get_current_state(),
        lambda t: t.get_state_history(),
        lambda t: t.simulate(),
        lambda t: t.save_state("x.json"),
        lambda t: t.load_state("x.json"),
    ],
)
def test_methods_before_initialize_raise(config, call):
    with pytest.raises(NotInitializedError, match="initialize"):
        call(DigitalTwin(config=config))


def test_update_stamps_now_unless_given(twin):
    twin.update({"timestamp": "2025-02-24T07:00:00", "system_status": "running"})
    assert twin.get_current_state()["timestamp"] == "2025-02-24T07:00:00"
    twin.update()
    assert twin.get_current_state()["timestamp"] > "2025-02-24T07:00:00"


def _threshold_events(twin):
    return twin.event_manager.get_events(category=EventCategory.THRESHOLD, limit=None)


def test_one_breach_and_one_recovery(twin):
    for value in (22.0, 31.0, 31.0, 22.0):
        twin.update({"production_line": {"temperature": value}})
    events = _threshold_events(twin)
    assert [e.details["recovered"] for e in events] == [False, True]
    breach, recovery = events
    assert breach.details["parameter"] == "production_line.temperature"
    assert breach.details["threshold"] == 27.0 and breach.details["actual_value"] == 31.0
    assert breach.severity is EventSeverity.WARNING  # default_alert_severity
    assert recovery.severity is EventSeverity.INFO and recovery.details["actual_value"] == 22.0
    assert twin.breached_thresholds == {}


def test_crossing_from_upper_to_lower_and_other_sections(twin):
    twin.update({"production_line": {"temperature": 31.0}, "environment": {"humidity": 20.0}})
    twin.update({"production_line": {"temperature": 10.0}})  # upper -> lower directly
    twin.update({"environment": {"temperature": 21.0}})  # humidity untouched: still out
    events = _threshold_events(twin)
    got = [(e.details["parameter"], e.details["bound"], e.details["recovered"]) for e in events]
    assert got == [
        ("production_line.temperature", "upper", False),
        ("environment.humidity", "lower", False),
        ("production_line.temperature", "upper", True),
        ("production_line.temperature", "lower", False),
    ]
    assert twin.breached_thresholds == {
        "production_line.temperature": "lower",
        "environment.humidity": "lower",
    }


def test_threshold_flag_off_publishes_nothing(config):
    cfg = config.with_overrides(
        {"digital_twin.EVENT_NOTIFICATION.publish_threshold_breaches": False}
    )
    twin = DigitalTwin(cfg)
    twin.initialize()
    twin.update({"production_line": {"temperature": 31.0}})
    assert _threshold_events(twin) == []
    assert twin.breached_thresholds == {"production_line.temperature": "upper"}


def test_status_change_event_only_when_status_changes(twin):
    twin.update({"system_status": "running"})
    twin.update({"system_status": "maintenance"})
    twin.update({"production_line": {"temperature": 22.0}})
    changes = [e for e in twin.event_manager.get_events(category="system") if "status" in e.message]
    assert [(e.details["previous_state"], e.details["new_state"]) for e in changes] == [
        ("running", "maintenance")
    ]


def test_bad_update_changes_nothing(twin):
    twin.update({"production_line": {"temperature": 31.0}})
    before, history = twin.get_current_state(), twin.get_state_history()
    n_events = len(twin.event_manager)
    for bad in (
        {"production_line": {"temperature": float("nan"), "efficiency": 0.5}},
        {"production_line": {"temperature": "23"}},
        {"materials": {"solar_glass": {"inventory": -0.001}}},
        {"timestamp": "24/02/2025 14:00"},
        ["not", "a", "mapping"],
    ):
        with pytest.raises(StateValidationError):
            twin.update(bad)
    assert twin.get_current_state() == before
    assert twin.get_state_history() == history
    assert len(twin.event_manager) == n_events
    assert twin.breached_thresholds == {"production_line.temperature": "upper"}


def test_save_load_round_trip(twin, tmp_path, config):
    twin.update({"production_line": {"temperature": 24.25}, "batch_id": "B-7"})
    path = tmp_path / "twin.json"
    assert twin.save_state(path) is True
    other = DigitalTwin(config=config)
    other.initialize()
    assert other.load_state(path) is True
    assert other.get_current_state() == twin.get_current_state()
    assert json.loads(path.read_text())["batch_id"] == "B-7"
    path.write_text('{"timestamp": "2025-01-01T00:00:00", "production_line": {"temperature": 40}}')
    other.load_state(path)  # loading an out-of-band state raises the breach event
    assert other.breached_thresholds == {"production_line.temperature": "upper"}


def test_history_length_from_config(config):
    cfg = config.with_overrides({"digital_twin.DIGITAL_TWIN_CONFIG.history_length": 3})
    twin = DigitalTwin(cfg)
    twin.initialize()
    for i in range(10):
        twin.update({"production_line": {"cycle_time": float(i + 1)}})
    assert [s["production_line"]["cycle_time"] for s in twin.get_state_history()] == [7.0, 8.0, 9.0]
    assert [s["production_line"]["cycle_time"] for s in twin.get_state_history(1)] == [9.0]


def test_events_persist_with_a_store(store, config):
    with DigitalTwin(config, store=store) as twin:
        twin.initialize()
        twin.update({"production_line": {"temperature": 30.0}})
    rows = store.query("SELECT category, message FROM events ORDER BY timestamp")
    assert rows["category"].tolist() == ["system", "threshold"]


def test_simulate_from_current_state_leaves_state_unchanged(config):
    a, b = DigitalTwin(config, seed=7), DigitalTwin(config, seed=7)
    for t in (a, b):
        t.initialize()
        t.update({"timestamp": "2025-02-24T08:00:00", "production_line": {"temperature": 24.0}})
    before = a.get_current_state()
    res = a.simulate(steps=5)
    assert len(res) == 6
    assert res[0]["production_line"]["temperature"] == 24.0
    assert a.get_current_state() == before
    events = a.event_manager.get_events(category="simulation")
    assert len(events) == 1 and events[0].details["steps"] == 5
    assert "output_modules" in events[0].details["kpis"]
    res_b = b.simulate(steps=5)  # same twin seed -> same run
    assert [s["production_line"] for s in res] == [s["production_line"] for s in res_b]


def test_diagnostics_include_twin_and_events():
    from circman_kernel.cli.diagnostics import run_diagnostics

    checks = {c.name: c for c in run_diagnostics(db=":memory:")}
    assert checks["digital_twin"].ok and "initialized, running" in checks["digital_twin"].detail
    assert checks["events"].ok and "round trip" in checks["events"].detail


@pytest.mark.parametrize("enabled", [True, False])
def test_publish_state_changes_flag(config, enabled):
    cfg = config.with_overrides({"digital_twin.EVENT_NOTIFICATION.publish_state_changes": enabled})
    twin = DigitalTwin(cfg)
    twin.initialize()
    twin.update({"system_status": "maintenance"})
    twin.update({"system_status": "idle"})
    changes = [e for e in twin.event_manager.get_events() if isinstance(e, StateChangeEvent)]
    got = [(e.details["previous_state"], e.details["new_state"]) for e in changes]
    assert got == ([("running", "maintenance"), ("maintenance", "idle")] if enabled else [])
    assert twin.get_current_state()["system_status"] == "idle"  # the change itself happens


@pytest.mark.parametrize("enabled", [True, False])
def test_publish_simulation_results_flag(config, enabled):
    cfg = config.with_overrides(
        {"digital_twin.EVENT_NOTIFICATION.publish_simulation_results": enabled}
    )
    twin = DigitalTwin(cfg, seed=3)
    twin.initialize()
    result = twin.simulate(steps=3)
    assert len(result) == 4
    events = twin.event_manager.get_events(category="simulation")
    assert len(events) == (1 if enabled else 0)
    if enabled:
        assert events[0].details["steps"] == 3
        assert events[0].details["kpis"] == pytest.approx(result.kpis())


@pytest.mark.parametrize("error", [ParameterError, ModelError])
def test_kpi_failure_raises_instead_of_publishing_empty_kpis(twin, monkeypatch, error):
    from circman_kernel.simulation.results import SimulationResult

    def broken(self):
        raise error("KPI output_modules: the trajectory has a NaN production rate")

    monkeypatch.setattr(SimulationResult, "kpis", broken)
    with pytest.raises(error, match="output_modules"):
        twin.simulate(steps=2)
    assert twin.event_manager.get_events(category="simulation") == []


def _in_thread(fn, *args):
    out = {}

    def run():
        try:
            out["result"] = fn(*args)
        except Exception as exc:  # handed to the test thread, which asserts on it
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_a_blocked_subscriber_does_not_stall_another_threads_update(twin):
    entered, release = threading.Event(), threading.Event()
    seen = []

    def slow(event):
        seen.append(event.details["parameter"])
        entered.set()
        release.wait(WAIT_S)

    twin.event_manager.subscribe(slow, category="threshold")
    a, a_out = _in_thread(twin.update, {"production_line": {"temperature": 31.0}})
    try:
        assert entered.wait(WAIT_S)  # thread A is inside the handler
        b, b_out = _in_thread(twin.update, {"environment": {"humidity": 20.0}})
        b.join(WAIT_S)
        b_finished_while_blocked = not b.is_alive()
    finally:
        release.set()
    a.join(WAIT_S)
    assert b_finished_while_blocked and b_out == {"result": True}
    assert a_out == {"result": True}
    assert twin.get_current_state()["environment"]["humidity"] == 20.0
    # B's event is delivered after A's, by A's thread once the handler returned: in order
    assert seen == ["production_line.temperature", "environment.humidity"]


class _GatedStore:
    """A store whose writes wait until ``gate`` is set (a slow database)."""

    def __init__(self):
        self.gate = threading.Event()
        self.gate.set()
        self.writing = threading.Event()
        self.rows = []

    def save_events(self, rows):
        self.writing.set()
        self.gate.wait(WAIT_S)
        self.rows.extend(rows)
        return len(rows)


def test_a_slow_store_does_not_stall_another_threads_update(config):
    store = _GatedStore()
    twin = DigitalTwin(config, store=store)
    twin.event_manager.batch_size = 1  # every event is due at once
    twin.initialize()
    assert [r["category"] for r in store.rows] == ["system"]
    store.gate.clear()
    store.writing.clear()
    a, a_out = _in_thread(twin.update, {"production_line": {"temperature": 31.0}})
    try:
        assert store.writing.wait(WAIT_S)  # thread A is inside save_events
        b, b_out = _in_thread(twin.update, {"environment": {"humidity": 20.0}})
        b.join(WAIT_S)
        b_finished_while_blocked = not b.is_alive()
    finally:
        store.gate.set()
    a.join(WAIT_S)
    assert b_finished_while_blocked and b_out == {"result": True} and a_out == {"result": True}
    twin.close()  # B's event waited for A's write to finish; close writes it
    assert [r["details"].get("parameter") for r in store.rows] == [
        None,
        "production_line.temperature",
        "environment.humidity",
    ]
