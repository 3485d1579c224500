"""Synchronisation: CSV replay, simulated sensors, manual input, batch and asyncio modes."""

from __future__ import annotations

import asyncio
import csv
import time

import pytest

from circman_kernel.core.errors import DataSourceError, ParameterError, StateValidationError
from circman_kernel.core.paths import data_dir
from circman_kernel.twin.digital_twin import DigitalTwin
from circman_kernel.twin.sources import (
    CSVReplaySource,
    ManualInputSource,
    SimulatedSensorSource,
    flatten_state,
    nest_dotted,
)
from circman_kernel.twin.sync import Synchronizer

SAMPLE = data_dir() / "sample_shift.csv"
WAIT_S = 10.0  # bound on waiting for a thread, so that a regression fails instead of hanging


def _last_row() -> dict[str, str]:
    with SAMPLE.open(newline="") as fh:
        return list(csv.DictReader(fh))[-1]


def test_sample_shift_is_realistic():
    with SAMPLE.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1921  # 8 h at 15 s
    temps = [float(r["production_line.temperature"]) for r in rows]
    above = [t > 27.0 for t in temps]
    assert sum(a != b for a, b in zip(above, above[1:], strict=False)) == 2  # out once, back once
    inv = [float(r["materials.silicon_wafer.inventory"]) for r in rows]
    assert all(b <= a for a, b in zip(inv, inv[1:], strict=False)) and inv[-1] < inv[0]


def test_batch_replay_reproduces_last_row(twin):
    sync = Synchronizer(twin, CSVReplaySource(SAMPLE))
    assert sync.run_batch() == 1921
    flat = flatten_state(twin.get_current_state())
    for column, text in _last_row().items():
        expected = text if column in ("timestamp", "system_status", "batch_id") else None
        if column.endswith("status"):
            expected = text
        assert flat[column] == (expected if expected is not None else float(text)), column
    events = twin.event_manager.get_events(category="threshold", limit=None)
    assert [e.details["recovered"] for e in events] == [False, True]
    assert sync.status()["updates"] == 1921 and sync.status()["exhausted"]


def test_malformed_row_names_file_and_line(tmp_path, twin):
    path = tmp_path / "bad.csv"
    path.write_text(
        "timestamp,production_line.temperature\n"
        "2025-02-24T06:00:00,22.0\n"
        "2025-02-24T06:00:15,hot\n"
        "2025-02-24T06:00:30,22.2,extra\n"
        "not-a-time,22.3\n"
        "2025-02-24T06:00:45,nan\n"
        "2025-02-24T06:01:00,23.0\n"
    )
    sync = Synchronizer(twin, CSVReplaySource(path))
    with pytest.raises(DataSourceError) as err:
        sync.run_batch()
    assert err.value.line == 3 and err.value.file == str(path)
    assert f"{path}:3" in str(err.value) and "hot" in str(err.value)
    assert twin.get_current_state()["production_line"]["temperature"] == 22.0  # row 2 applied

    src = CSVReplaySource(path, on_error="skip")
    rows = list(src)
    assert [r["production_line"]["temperature"] for r in rows] == [22.0, 23.0]
    assert src.skipped == 4 and src.skipped_lines == [3, 4, 5, 6]


def test_csv_header_and_policy_errors(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("time,temp\n1,2\n")
    with pytest.raises(DataSourceError, match="timestamp"):
        CSVReplaySource(p).read()
    with pytest.raises(DataSourceError, match="no such"):
        CSVReplaySource(tmp_path / "missing.csv")
    with pytest.raises(ParameterError):
        CSVReplaySource(p, on_error="ignore")


def test_simulated_sensors_are_seeded_and_physical():
    a = [SimulatedSensorSource(3, n=50, interval_s=60).read() for _ in range(1)]
    src1, src2 = (
        SimulatedSensorSource(3, n=50, interval_s=60),
        SimulatedSensorSource(3, n=50, interval_s=60),
    )
    r1 = [src1.read() for _ in range(50)]
    r2 = [src2.read() for _ in range(50)]
    assert [flatten_state(x) | {"timestamp": 0} for x in r1] == [
        flatten_state(x) | {"timestamp": 0} for x in r2
    ]
    assert a and src1.read() is None and src1.exhausted
    inv = [x["materials"]["silicon_wafer"]["inventory"] for x in r1]
    assert all(b < a for a, b in zip(inv, inv[1:], strict=False))
    # 50 min at about 8.3 modules/h and 0.5 kg/module: about 3.5 kg of wafer
    assert 2.5 < 850.0 - inv[-1] < 4.5
    other = SimulatedSensorSource(4, n=5)
    assert flatten_state(other.read()) != flatten_state(SimulatedSensorSource(3, n=5).read())
    with pytest.raises(ParameterError):
        SimulatedSensorSource(noise={"production_line.nothing": 1.0})


def test_manual_input_validates_on_put(twin):
    src = ManualInputSource([{"production_line": {"temperature": 24.0}}])
    with pytest.raises(StateValidationError, match="environment.humidity"):
        src.put({"environment": {"humidity": 140}})
    src.put({"system_status": "idle"})
    assert Synchronizer(twin, src).run_batch() == 2
    s = twin.get_current_state()
    assert s["production_line"]["temperature"] == 24.0 and s["system_status"] == "idle"
    assert not src.exhausted
    src.close()
    assert src.exhausted


def test_realtime_on_a_running_loop_does_not_block(twin):
    async def main():
        src = SimulatedSensorSource(1, n=20, interval_s=1.0)
        sync = Synchronizer(twin, src, frequency=200.0)
        task = sync.start()
        assert isinstance(task, asyncio.Task) and sync.running
        ticks = 0
        while not task.done():  # the loop stays free for other work (a notebook cell)
            ticks += 1
            await asyncio.sleep(0.001)
        assert await task == 20
        return sync, ticks

    t0 = time.perf_counter()
    sync, ticks = asyncio.run(main())
    assert ticks >= 5
    assert time.perf_counter() - t0 >= 19 / 200.0  # paced, not as fast as possible
    assert sync.status()["updates"] == 20 and not sync.running
    assert len(twin.get_state_history()) == 20


def test_realtime_stop_and_thread_mode(twin):
    src = ManualInputSource()
    sync = Synchronizer(twin, src, frequency=500.0)
    thread = sync.start()
    assert not isinstance(thread, asyncio.Task)
    src.put({"production_line": {"temperature": 25.5}})
    deadline = time.monotonic() + 5
    while sync.updates < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    sync.stop()
    assert not sync.running and sync.status()["updates"] == 1
    assert twin.get_current_state()["production_line"]["temperature"] == 25.5


def test_realtime_error_is_reported(tmp_path, twin):
    p = tmp_path / "bad.csv"
    p.write_text("timestamp,production_line.efficiency\n2025-02-24T06:00:00,2.0\n")

    async def main():
        sync = Synchronizer(twin, CSVReplaySource(p), frequency=1000.0)
        task = sync.start()
        with pytest.raises(DataSourceError):
            await task
        return sync

    sync = asyncio.run(main())
    assert "bad.csv:2" in sync.status()["error"]
    assert twin.event_manager.get_events(category="error")


def test_replay_recorded_as_run(store, config):
    twin = DigitalTwin(config, store=store, seed=2)
    twin.initialize()
    sync = Synchronizer(twin, CSVReplaySource(SAMPLE))
    assert sync.run_batch(limit=100, record=True, name="morning") == 100
    runs = store.runs(kind="replay")
    assert runs["name"].tolist() == ["morning"]
    traj = store.trajectories(sync.run_id)
    temps = traj[traj["variable"] == "production_line.temperature"].sort_values("step")
    assert len(temps) == 100 and temps["value"].iloc[0] == 22.488
    n = store.query("SELECT count(*) AS n FROM states WHERE run_id = ?", [sync.run_id])
    assert int(n["n"].iloc[0]) == 100
    with pytest.raises(ParameterError):
        Synchronizer(DigitalTwin(config), CSVReplaySource(SAMPLE)).run_batch(record=True)


def test_nest_and_flatten_are_inverse():
    flat = {"a.b.c": 1.0, "a.d": "x", "e": None}
    assert flatten_state(nest_dotted(flat)) == flat


class _UnpluggedSensor:
    """Two readings, then the driver fails with an error that is not a CircmanError."""

    name = "unplugged"
    exhausted = False

    def __init__(self):
        self.reads = 0

    def read(self):
        self.reads += 1
        if self.reads > 2:
            raise RuntimeError("sensor unplugged")
        return {"production_line": {"temperature": 22.0 + self.reads}}


@pytest.mark.parametrize("mode", ["thread", "task"])
def test_realtime_records_any_error_and_stops(twin, mode):
    sync = Synchronizer(twin, _UnpluggedSensor(), frequency=500.0)
    if mode == "thread":
        thread = sync.start()
        thread.join(WAIT_S)
        assert not thread.is_alive()
    else:

        async def main():
            task = sync.start()
            with pytest.raises(RuntimeError, match="sensor unplugged"):
                await task

        asyncio.run(main())
    assert not sync.running
    status = sync.status()
    assert status["error"] == "RuntimeError: sensor unplugged"
    assert status["updates"] == 2 and isinstance(sync.error, RuntimeError)
    assert twin.get_current_state()["production_line"]["temperature"] == 24.0
    errors = twin.event_manager.get_events(category="error")
    assert [e.details["error"] for e in errors] == ["RuntimeError"]
    assert errors[0].message == "synchronisation stopped: RuntimeError: sensor unplugged"
