"""Event types, the per-twin bus, failing subscribers and persistence to the store."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import weakref
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from circman_kernel.core.errors import ParameterError, StoreError
from circman_kernel.twin.event_types import (
    Event,
    EventCategory,
    EventSeverity,
    SimulationResultEvent,
    StateChangeEvent,
    SystemStateEvent,
    ThresholdEvent,
)
from circman_kernel.twin.events import EventManager

REPO = Path(__file__).resolve().parents[2]


def test_severity_is_ordered():
    assert EventSeverity.INFO < EventSeverity.WARNING < EventSeverity.ERROR < EventSeverity.CRITICAL
    assert EventSeverity.CRITICAL >= "error"
    assert max([EventSeverity.WARNING, EventSeverity.CRITICAL, EventSeverity.INFO]) is (
        EventSeverity.CRITICAL
    )
    assert sorted(EventSeverity, reverse=True)[0] is EventSeverity.CRITICAL


def test_event_defaults_and_immutability():
    e = Event(category="lca", severity="error", message="m", details={"a": [1]})
    assert e.category is EventCategory.LCA and e.severity is EventSeverity.ERROR
    assert len(e.event_id) == 32 and datetime.fromisoformat(e.timestamp)
    with pytest.raises(AttributeError):
        e.message = "x"
    with pytest.raises(TypeError):
        e.details["a"] = 2
    assert Event(details={"x": 1}).event_id != Event().event_id
    with pytest.raises(ParameterError, match="one of"):
        Event(category="nope")
    row = e.to_dict()
    assert row["id"] == e.event_id and row["details"] == {"a": [1]} and row["category"] == "lca"
    assert Event.from_dict(row) == e


def test_specialised_events():
    t = ThresholdEvent("production_line.temperature", 27.0, 31.0, band=(18.0, 27.0))
    assert t.category is EventCategory.THRESHOLD and t.severity is EventSeverity.WARNING
    assert t.details["parameter"] == "production_line.temperature"
    assert t.details["threshold"] == 27.0 and t.details["actual_value"] == 31.0
    assert "above the upper threshold 27" in t.message
    r = ThresholdEvent("x", 18.0, 20.0, bound="lower", recovered=True, band=(18.0, 27.0))
    assert r.severity is EventSeverity.INFO and "back within [18, 27]" in r.message
    s = StateChangeEvent("running", "error")
    assert SystemStateEvent is StateChangeEvent
    assert s.severity is EventSeverity.ERROR and s.details["new_state"] == "error"
    sim = SimulationResultEvent("run-1", {"cycle_time": 30}, {"output_modules": 5.0}, steps=10)
    assert sim.category is EventCategory.SIMULATION and sim.details["kpis"]["output_modules"] == 5.0


def test_subscribe_filters_by_category_and_minimum_severity():
    bus = EventManager()
    everything, thresholds, serious = [], [], []
    bus.subscribe(everything.append)
    bus.subscribe(thresholds.append, category="threshold")
    bus.subscribe(serious.append, min_severity=EventSeverity.ERROR)
    bus.publish(Event(category="system", severity="info"))
    bus.publish(ThresholdEvent("p", 1.0, 2.0))
    bus.publish(Event(category="lca", severity="critical"))
    assert len(everything) == 3
    assert [e.category for e in thresholds] == [EventCategory.THRESHOLD]
    assert [e.severity for e in serious] == [EventSeverity.CRITICAL]
    bus.unsubscribe(everything.append)
    bus.publish(Event())
    assert len(everything) == 3
    assert len(bus.get_events(severity="warning")) == 2
    assert len(bus.get_events(category=EventCategory.SYSTEM)) == 2
    assert [e.category for e in bus.get_events(limit=1)] == [EventCategory.SYSTEM]


def test_failing_subscriber_is_reported_and_others_still_get_events():
    bus = EventManager()
    got = []

    def broken(event):
        raise RuntimeError("boom")

    bus.subscribe(broken, category="threshold")
    bus.subscribe(got.append)
    bus.publish(ThresholdEvent("p", 1.0, 2.0))
    assert [e.category for e in got] == [EventCategory.THRESHOLD, EventCategory.ERROR]
    assert len(bus.errors) == 1 and "RuntimeError: boom" in bus.errors[0].error
    err = bus.get_events(category="error")
    assert len(err) == 1 and "broken" in err[0].message


def test_a_handler_failing_on_error_events_does_not_loop():
    bus = EventManager()

    def always_broken(event):
        raise ValueError("x")

    bus.subscribe(always_broken)
    bus.publish(Event())
    assert len(bus.errors) == 2  # the event and the error event about it
    assert len(bus.get_events(category="error")) == 1


def test_bounded_acknowledge_and_clear():
    bus = EventManager(max_events=3)
    events = [Event(message=str(i)) for i in range(5)]
    for e in events:
        bus.publish(e)
    assert [e.message for e in bus.get_events()] == ["2", "3", "4"]
    assert bus.acknowledge_event(events[3].event_id) is True
    assert bus.acknowledge_event(events[0].event_id) is False  # evicted
    assert bus.acknowledge_event("nope") is False
    assert [e.message for e in bus.get_events(acknowledged=True)] == ["3"]
    assert events[3].acknowledged is False  # the caller's object is not changed
    old = Event(timestamp=(datetime.now() - timedelta(days=10)).isoformat())
    bus.publish(old)
    assert bus.clear_events(older_than_days=7) == 1
    assert len(bus) == 2
    assert bus.clear_events() == 2 and bus.get_events() == []


def test_config_flags_are_read(config):
    cfg = config.with_overrides(
        {
            "digital_twin.EVENT_NOTIFICATION.max_events": 7,
            "digital_twin.EVENT_NOTIFICATION.publish_threshold_breaches": False,
            "digital_twin.EVENT_NOTIFICATION.default_alert_severity": "critical",
        }
    )
    bus = EventManager(cfg)
    assert bus.max_events == 7 and bus.publish_threshold_breaches is False
    assert bus.default_alert_severity is EventSeverity.CRITICAL


def test_events_persist_to_the_store_in_batches(store):
    bus = EventManager(store=store, batch_size=3)
    first = [Event(message=f"e{i}") for i in range(4)]
    for e in first:
        bus.publish(e)
    stored = store.query("SELECT message FROM events ORDER BY message")
    assert list(stored["message"]) == ["e0", "e1", "e2"]  # one batch written, one pending
    assert bus.flush() == 1
    assert bus.acknowledge_event(first[0].event_id) is True
    rows = store.query("SELECT id, acknowledged FROM events WHERE acknowledged")
    assert list(rows["id"]) == [first[0].event_id]


def test_persistence_disabled_writes_nothing(store, config):
    cfg = config.with_overrides({"digital_twin.EVENT_NOTIFICATION.persistence_enabled": False})
    bus = EventManager(cfg, store=store, batch_size=1)
    bus.publish(Event())
    assert bus.flush() == 0 or not bus.persisting
    assert len(store.query("SELECT * FROM events")) == 0


def test_to_frame():
    bus = EventManager()
    bus.publish(Event(message="a"))
    df = bus.to_frame()
    assert list(df.columns) == [
        "id",
        "timestamp",
        "category",
        "severity",
        "source",
        "message",
        "details",
        "acknowledged",
    ]
    assert df["message"].tolist() == ["a"]


def test_details_are_read_only_all_the_way_down():
    bus = EventManager()
    given = {"grid": [1, 2], "nested": {"deep": {"x": 1}}}
    bus.publish(SimulationResultEvent("run-1", given, {"k": 1.0}, steps=3))
    given["grid"].append(3)  # the caller's dicts are copied in
    got = bus.get_events()[0]
    with pytest.raises(TypeError):
        got.details["kpis"]["k"] = 999
    with pytest.raises(TypeError):
        got.details["parameters"]["nested"]["deep"]["x"] = 2
    with pytest.raises(AttributeError):
        got.details["parameters"]["grid"].append(3)  # lists come back as tuples
    again = bus.get_events()[0]
    assert again.details["kpis"]["k"] == 1.0
    assert again.details["parameters"]["grid"] == (1, 2)
    assert again.details["parameters"]["nested"] == {"deep": {"x": 1}}
    row = again.to_dict()  # plain, mutable data for storage and frames
    assert row["details"]["parameters"] == {"grid": [1, 2], "nested": {"deep": {"x": 1}}}
    row["details"]["kpis"]["k"] = 5.0
    assert bus.get_events()[0].details["kpis"]["k"] == 1.0
    acknowledged = bus.get_events()[0].event_id
    assert bus.acknowledge_event(acknowledged) is True
    assert bus.get_events()[0].details == again.details  # acknowledging keeps details


class _FlakyStore:
    """A store whose writes fail while ``broken``; otherwise it writes to a real store."""

    def __init__(self, store):
        self.store = store
        self.broken = True

    def save_events(self, rows):
        if self.broken:
            raise OSError("disk full")
        return self.store.save_events(rows)


def test_store_failure_does_not_block_delivery_and_loses_nothing(store):
    flaky = _FlakyStore(store)
    bus = EventManager(store=flaky, batch_size=1)
    got = []
    bus.subscribe(got.append)
    first, second = Event(message="e0"), Event(message="e1")
    with pytest.raises(StoreError, match="OSError: disk full.*stay pending"):
        bus.publish(first)
    assert got == [first]  # delivered although the write failed
    assert bus.pending == 1 and bus.get_events() == [first]
    with pytest.raises(StoreError, match="could not write 2 events"):
        bus.publish(second)
    assert got == [first, second] and bus.pending == 2
    flaky.broken = False
    assert bus.flush() == 2 and bus.pending == 0
    rows = store.query("SELECT message FROM events ORDER BY message")
    assert rows["message"].tolist() == ["e0", "e1"]


def test_clear_events_by_age_with_naive_and_aware_timestamps(store):
    bus = EventManager(store=store, batch_size=100)
    now_utc = datetime.now(UTC)
    written_old = Event(
        message="written", timestamp=(datetime.now() - timedelta(days=10)).isoformat()
    )
    bus.publish(written_old)
    assert bus.flush() == 1
    minus10 = timezone(timedelta(hours=-10))
    old_aware = Event(message="old aware", timestamp=(now_utc - timedelta(days=10)).isoformat())
    # 6 d 23 h old, written in UTC-10: kept (a wall-clock comparison would drop it)
    edge = Event(
        message="edge",
        timestamp=(now_utc - timedelta(days=6, hours=23)).astimezone(minus10).isoformat(),
    )
    recent_naive = Event(message="recent naive")
    for e in (old_aware, edge, recent_naive):
        bus.publish(e)
    assert bus.pending == 3
    assert bus.clear_events(older_than_days=7) == 2  # written_old and old_aware
    assert [e.message for e in bus.get_events()] == ["edge", "recent naive"]
    assert bus.pending == 2  # the old unsaved event is dropped, never written later
    assert bus.flush() == 2
    stored = store.query("SELECT message FROM events ORDER BY message")["message"].tolist()
    assert stored == ["edge", "recent naive", "written"]  # stored rows are history: kept
    with pytest.raises(ParameterError, match="older_than_days"):
        bus.clear_events(older_than_days=-1)


def test_clear_all_events_also_drops_the_unsaved_ones(store):
    bus = EventManager(store=store, batch_size=100)
    bus.publish(Event(message="a"))
    bus.publish(Event(message="b"))
    assert bus.pending == 2
    assert bus.clear_events() == 2
    assert bus.pending == 0 and bus.flush() == 0
    assert len(store.query("SELECT * FROM events")) == 0


def test_pending_events_are_written_when_the_bus_is_collected(store):
    bus = EventManager(store=store, batch_size=100)
    bus.publish(Event(message="left behind"))
    ref = weakref.ref(bus)
    del bus
    gc.collect()
    assert ref() is None  # the exit hook does not keep the bus alive
    assert store.query("SELECT message FROM events")["message"].tolist() == ["left behind"]


def test_pending_events_reach_the_store_when_the_interpreter_exits(tmp_path, db_path):
    script = textwrap.dedent(
        """
        import sys
        from circman_kernel.core.config import load_config
        from circman_kernel.store.run_store import RunStore
        from circman_kernel.twin.digital_twin import DigitalTwin

        twin = DigitalTwin(load_config(sys.argv[1]), store=RunStore(sys.argv[2]))
        twin.initialize()
        for temperature in (22.0, 31.0, 22.0):
            twin.update({"production_line": {"temperature": temperature}})
        assert twin.event_manager.pending == 3, twin.event_manager.pending
        # no twin.close(): the events must still reach the store
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(REPO / "configs"), str(db_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    from circman_kernel.store.run_store import RunStore

    rows = RunStore(db_path).query("SELECT category, details FROM events ORDER BY timestamp")
    assert rows["category"].tolist() == ["system", "threshold", "threshold"]


def test_severity_subscription_is_exact_and_min_severity_is_this_or_worse():
    bus = EventManager()
    warnings, at_least_warning = [], []
    bus.subscribe(warnings.append, severity=EventSeverity.WARNING)
    bus.subscribe(at_least_warning.append, min_severity="warning")
    for sev in ("info", "warning", "error", "critical"):
        bus.publish(Event(category="system", severity=sev))
    assert [e.severity.value for e in warnings] == ["warning"]
    assert [e.severity.value for e in at_least_warning] == ["warning", "error", "critical"]
    bus.unsubscribe(at_least_warning.append, min_severity="error")  # not that subscription
    bus.unsubscribe(warnings.append, severity="warning")
    bus.publish(Event(severity="warning"))
    assert len(warnings) == 1 and len(at_least_warning) == 4
    with pytest.raises(ParameterError, match="not both"):
        bus.subscribe(print, severity="warning", min_severity="error")
    with pytest.raises(ParameterError, match="severity"):
        bus.subscribe(print, min_severity="loud")
