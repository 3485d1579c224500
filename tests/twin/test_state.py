"""StateManager: validation, copy-on-write history, time look-up, round trips."""

from __future__ import annotations

import json
import math
import threading
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circman_kernel.core.errors import NotInitializedError, ParameterError, StateValidationError
from circman_kernel.core.state_schema import copy_state, default_state, get_path
from circman_kernel.twin.state import StateManager

T0 = datetime(2025, 2, 24, 6, 0, 0)


def ts(i: int) -> str:
    return (T0 + timedelta(seconds=i)).isoformat()


@pytest.fixture
def sm() -> StateManager:
    m = StateManager(history_length=5)
    s = default_state()
    s["timestamp"] = ts(0)
    m.set_state(s)
    return m


def test_default_state_is_the_contract_and_fresh(config):
    a, b = default_state(config), default_state()
    assert (
        a["production_line"]["temperature"]
        == config.digital_twin.SIMULATION_PARAMETERS.target_temperature
    )
    assert set(a) == {
        "timestamp",
        "system_status",
        "batch_id",
        "production_line",
        "materials",
        "environment",
    }
    assert a["materials"]["silicon_wafer"] == {
        "inventory": 850.0,
        "quality": 0.95,
        "consumption": 0.0,
        "waste": 0.0,
        "recycled": 0.0,
    }
    a["materials"]["silicon_wafer"]["inventory"] = 0.0
    assert b["materials"]["silicon_wafer"]["inventory"] == 850.0
    assert StateManager().validate_state(default_state()) == (True, "valid")


def test_update_is_a_deep_merge(sm):
    sm.update_state({"production_line": {"temperature": 23.5}, "timestamp": ts(1)})
    s = sm.get_current_state()
    assert s["production_line"]["temperature"] == 23.5
    assert s["production_line"]["efficiency"] == 0.92  # sibling kept
    assert s["materials"]["solar_glass"]["inventory"] == 420.0
    assert [h["production_line"]["temperature"] for h in sm.get_history()] == [22.5]


def test_returned_objects_cannot_mutate_stored_state(sm):
    s = sm.get_current_state()
    s["production_line"]["temperature"] = 99.0
    s["materials"]["silicon_wafer"]["inventory"] = -5
    sm.update_state({"environment": {"humidity": 50.0}})
    h = sm.get_history()
    h[0]["production_line"]["temperature"] = 77.0
    assert sm.get_current_state()["production_line"]["temperature"] == 22.5
    assert sm.get_history()[0]["production_line"]["temperature"] == 22.5
    # the caller's update dict is not aliased either
    upd = {"materials": {"new_material": {"inventory": 3.0}}}
    sm.update_state(upd)
    upd["materials"]["new_material"]["inventory"] = 1000.0
    assert sm.get_value("materials.new_material.inventory") == 3.0


def test_history_is_bounded(sm):
    for i in range(1, 20):
        sm.update_state({"timestamp": ts(i), "production_line": {"temperature": 20.0 + i}})
    hist = sm.get_history()
    assert len(hist) == 5 == len(sm)
    assert [h["production_line"]["temperature"] for h in hist] == [34.0, 35.0, 36.0, 37.0, 38.0]
    assert [h["production_line"]["temperature"] for h in sm.get_history(limit=2)] == [37.0, 38.0]
    assert sm.get_history(limit=0) == []
    sm.clear_history()
    assert (
        sm.get_history() == [] and sm.get_current_state()["production_line"]["temperature"] == 39.0
    )


def test_long_history_trims_and_still_finds_times():
    m = StateManager(history_length=100)
    for i in range(1000):
        m.set_state({"timestamp": ts(i), "production_line": {"cycle_time": float(i)}})
    assert len(m) == 100
    assert m.get_state_at_time(ts(950))["production_line"]["cycle_time"] == 950.0
    assert m.get_state_at_time(ts(899))["production_line"]["cycle_time"] == 899.0
    assert m.get_state_at_time(ts(898)) is None  # older than anything held (100 + current)
    assert m.get_state_at_time(ts(5000))["production_line"]["cycle_time"] == 999.0


@pytest.mark.parametrize(
    ("update", "path"),
    [
        ({"production_line": {"temperature": float("nan")}}, "production_line.temperature"),
        ({"production_line": {"temperature": float("inf")}}, "production_line.temperature"),
        ({"production_line": {"temperature": "hot"}}, "production_line.temperature"),
        ({"production_line": {"efficiency": True}}, "production_line.efficiency"),
        ({"production_line": {"efficiency": 1.2}}, "production_line.efficiency"),
        ({"production_line": {"defect_rate": -0.1}}, "production_line.defect_rate"),
        (
            {"materials": {"silicon_wafer": {"inventory": -1.0}}},
            "materials.silicon_wafer.inventory",
        ),
        ({"materials": {"glass_x": {"quality": 2}}}, "materials.glass_x.quality"),
        ({"environment": {"humidity": 101.0}}, "environment.humidity"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": 12345}, "timestamp"),
        ({"system_status": "on fire"}, "system_status"),
        ({"production_line": {"status": 1}}, "production_line.status"),
        ({"production_line": 5}, "production_line"),
        ({"production_line": {"temperature": {"a": 1}}}, "production_line.temperature"),
        ({"extra": {"reading": float("nan")}}, "extra.reading"),
        ({"extra": [1.0, object()]}, "extra.1"),
    ],
)
def test_bad_update_raises_and_changes_nothing(sm, update, path):
    sm.update_state({"timestamp": ts(1), "environment": {"humidity": 50.0}})
    before, hist_before = sm.get_current_state(), sm.get_history()
    # a valid key first in the same update: all or nothing
    with pytest.raises(StateValidationError) as err:
        sm.update_state({"batch_id": "B-9", **update})
    assert err.value.path == path
    assert path in str(err.value)
    assert sm.get_current_state() == before
    assert sm.get_history() == hist_before
    ok, msg = sm.validate_state({**default_state(), **update})
    assert not ok and path in msg


def test_numpy_scalars_become_python_numbers(sm):
    sm.update_state(
        {"production_line": {"temperature": np.float32(23.5), "cycle_time": np.int64(31)}}
    )
    s = sm.get_current_state()
    assert type(s["production_line"]["temperature"]) is float
    assert (
        s["production_line"]["cycle_time"] == 31 and type(s["production_line"]["cycle_time"]) is int
    )


def test_set_state_requires_a_timestamp_and_a_mapping():
    m = StateManager()
    with pytest.raises(StateValidationError, match="timestamp"):
        m.set_state({"system_status": "running"})
    with pytest.raises(StateValidationError):
        m.set_state([1, 2])
    with pytest.raises(NotInitializedError):
        m.update_state({"system_status": "idle"})
    assert m.get_current_state() is None
    with pytest.raises(ParameterError):
        StateManager(history_length=0)


def test_get_state_at_time_returns_state_in_effect(sm):
    for i in range(1, 10):
        sm.update_state({"timestamp": ts(10 * i), "production_line": {"temperature": 20.0 + i}})
    assert sm.get_state_at_time(ts(45))["production_line"]["temperature"] == 24.0
    assert sm.get_state_at_time(ts(50))["production_line"]["temperature"] == 25.0
    assert (
        sm.get_state_at_time(T0 + timedelta(seconds=95))["production_line"]["temperature"] == 29.0
    )
    assert sm.get_state_at_time(ts(-1)) is None
    # held: the last 5 history states + current, starting at 40 s
    assert sm.get_state_at_time(ts(39)) is None
    with pytest.raises(StateValidationError):
        sm.get_state_at_time("not a time")


def test_get_state_at_time_when_time_goes_backwards():
    m = StateManager(history_length=10)
    # live updates "now", then a replay of older data
    for i, t in enumerate([100, 110, 5, 15, 25]):
        m.set_state({"timestamp": ts(t), "production_line": {"temperature": float(i)}})
    assert m.get_state_at_time(ts(20))["production_line"]["temperature"] == 3.0
    assert m.get_state_at_time(ts(105))["production_line"]["temperature"] == 0.0
    assert m.get_state_at_time(ts(4)) is None
    # once the out-of-order pair slides out of the window, bisect is used again
    for i in range(20):
        m.set_state({"timestamp": ts(200 + i), "production_line": {"temperature": 50.0 + i}})
    assert not m._inversions
    assert m.get_state_at_time(ts(215))["production_line"]["temperature"] == 65.0


def _state_in_effect(recorded: list[tuple[int, float]], held: int, t: int) -> float | None:
    # Reference by definition: of the ``held`` last recorded states, the latest timestamp
    # at or before t; of several with that timestamp, the one recorded last.
    best = None
    for when, value in recorded[-held:]:
        if when <= t and (best is None or when >= best[0]):
            best = (when, value)
    return None if best is None else best[1]


@settings(max_examples=60, deadline=None)
@given(
    history_length=st.integers(1, 12),
    steps=st.lists(st.tuples(st.integers(0, 40), st.booleans(), st.integers(-1, 42)), max_size=250),
)
def test_property_out_of_order_look_up_matches_definition(history_length, steps):
    # Timestamps jump back and forth (with ties), the window slides and its lists are
    # trimmed (after 64 slides); look-ups come between appends, so the sorted index is
    # built once and then kept up to date.
    m = StateManager(history_length=history_length)
    recorded: list[tuple[int, float]] = []
    for n, (when, query, t) in enumerate(steps):
        m.set_state({"timestamp": ts(when), "production_line": {"cycle_time": float(n)}})
        recorded.append((when, float(n)))
        if query:
            got = m.get_state_at_time(ts(t))
            expected = _state_in_effect(recorded, history_length + 1, t)
            assert (got and got["production_line"]["cycle_time"]) == expected, (n, t)


def test_out_of_order_index_is_kept_up_to_date_not_rebuilt():
    m = StateManager(history_length=50)
    for i, t in enumerate([100, 110, 5, 15, 25]):  # live updates, then a replay
        m.set_state({"timestamp": ts(t), "production_line": {"cycle_time": float(i)}})
    assert m.get_state_at_time(ts(20))["production_line"]["cycle_time"] == 3.0
    index = m._sorted
    for i in range(5, 45):  # more replayed data, older than the live 100 s and 110 s
        m.set_state({"timestamp": ts(i + 25), "production_line": {"cycle_time": float(i)}})
        assert m.get_state_at_time(ts(i + 25))["production_line"]["cycle_time"] == float(i)
    assert m._sorted is index  # the same list, updated in place on every append
    assert [k for k, _ in index] == sorted(m._keys[m._start :])
    assert len(index) == 45
    assert m.get_state_at_time(ts(105))["production_line"]["cycle_time"] == 0.0
    for i in range(45, 52):  # the window slides: the oldest recorded state leaves the index
        m.set_state({"timestamp": ts(i + 25), "production_line": {"cycle_time": float(i)}})
    assert m._sorted is index and len(index) == 51  # 50 history states + the current one
    assert [j for _, j in index if j < 2] == [1]  # state 0 (100 s) slid out, 110 s is held
    # 100 s has left the window: at 105 s the 76 s state (the latest replayed) is in effect
    assert m.get_state_at_time(ts(105))["production_line"]["cycle_time"] == 51.0
    assert m.get_state_at_time(ts(110))["production_line"]["cycle_time"] == 1.0


def test_export_import_round_trip(sm, tmp_path):
    sm.update_state(
        {"timestamp": ts(3), "production_line": {"temperature": 0.1 + 0.2}, "batch_id": None}
    )
    path = tmp_path / "state.json"
    assert sm.export_state(path) is True
    other = StateManager()
    assert other.import_state(path) is True
    assert other.get_current_state() == sm.get_current_state()
    assert json.loads(path.read_text())["production_line"]["temperature"] == 0.1 + 0.2
    path.write_text("{not json")
    with pytest.raises(StateValidationError, match="not a JSON state"):
        other.import_state(path)
    path.write_text(json.dumps({"timestamp": ts(1), "environment": {"humidity": -3}}))
    with pytest.raises(StateValidationError, match="environment.humidity"):
        other.import_state(path)
    assert other.get_current_state() == sm.get_current_state()


def test_get_path_and_copy_state():
    s = default_state()
    assert get_path(s, "materials.solar_glass.quality") == 0.98
    assert get_path(s, "materials.nothing.quality", "n/a") == "n/a"
    c = copy_state({"a": [{"b": 1}]})
    assert c == {"a": [{"b": 1}]}


def test_concurrent_updates_are_all_applied():
    m = StateManager(history_length=10_000)
    m.set_state({"timestamp": ts(0), "extra": {"counter": {}}})

    def worker(k: int) -> None:
        for i in range(500):
            m.update_state({"extra": {"counter": {f"w{k}_{i}": i}}})

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(m.get_current_state()["extra"]["counter"]) == 2000
    assert len(m) == 2000


_finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)


@settings(max_examples=150, deadline=None)
@given(
    value=st.one_of(
        st.floats(), st.integers(-(10**6), 10**6), st.text(max_size=5), st.none(), st.booleans()
    )
)
def test_property_fraction_fields_accept_exactly_unit_interval(value):
    m = StateManager()
    m.set_state(default_state())
    ok = (
        type(value) in (int, float)
        and not (isinstance(value, float) and math.isnan(value))
        and 0 <= value <= 1
    )
    if ok:
        m.update_state({"production_line": {"efficiency": value}})
        assert m.get_value("production_line.efficiency") == value
    else:
        before = m.get_current_state()
        with pytest.raises(StateValidationError):
            m.update_state({"production_line": {"efficiency": value}})
        assert m.get_current_state() == before


@settings(max_examples=100, deadline=None)
@given(inv=_finite, hum=_finite)
def test_property_export_import_round_trip_exact(tmp_path_factory, inv, hum):
    m = StateManager()
    s = default_state()
    s["materials"]["silicon_wafer"]["inventory"] = abs(inv)
    s["environment"]["humidity"] = min(abs(hum), 100.0)
    m.set_state(s)
    path = tmp_path_factory.mktemp("rt") / "s.json"
    m.export_state(path)
    other = StateManager()
    other.import_state(path)
    assert other.get_current_state() == s
