"""Recorded replays stream to the store in batches (issue 20, item 5).

``run_batch(record=True)`` kept every replayed state in a list until the end: a 14 MB CSV
peaked at 1.26 GB. Now each batch of readings is written as it is replayed; the run reads
``"running"`` meanwhile and an error during the replay leaves nothing of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from full_disk import assert_full_disk_reported

from circman_kernel.core.errors import DataSourceError
from circman_kernel.twin import sync as sync_module
from circman_kernel.twin.digital_twin import DigitalTwin
from circman_kernel.twin.sources import CSVReplaySource
from circman_kernel.twin.sync import Synchronizer

HEADER = "timestamp,production_line.temperature,production_line.energy_consumption\n"


def _csv(path, n: int, *, bad_at: int | None = None):
    lines = [HEADER]
    for i in range(n):
        temp = "hot" if i == bad_at else f"{22.0 + (i % 50) * 0.01:.2f}"
        lines.append(
            f"2025-02-24T{6 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d},{temp},120.5\n"
        )
    path.write_text("".join(lines))
    return path


def _count(store, table: str) -> int:
    return int(store.query(f"SELECT count(*) AS n FROM {table}")["n"].iloc[0])


def _peak_bytes(config, store, path) -> int:
    twin = DigitalTwin(config, store=store, seed=0)
    twin.initialize()
    sync = Synchronizer(twin, CSVReplaySource(path))
    tracemalloc.start()
    try:
        sync.run_batch(record=True)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_file(config, store, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sync_module, "RECORD_BATCH_ROWS", 500)
    small = _peak_bytes(config, store, _csv(tmp_path / "small.csv", 2_000))
    large = _peak_bytes(config, store, _csv(tmp_path / "large.csv", 8_000))
    # the old replay held every state: four times the rows, about four times the memory
    assert large < 1.5 * small, (small, large)
    assert _count(store, "states") == 10_000
    assert sorted(store.runs()["status"]) == ["completed", "completed"]


class _Watching:
    """A CSV source that looks at the store while the replay runs."""

    def __init__(self, path, store, at: int) -> None:
        self.inner = CSVReplaySource(path)
        self.name, self.store, self.at, self.seen = self.inner.name, store, at, None

    @property
    def exhausted(self) -> bool:
        return self.inner.exhausted

    def read(self):
        if self.inner.rows_read == self.at:
            runs = self.store.runs()
            self.seen = (runs["status"].tolist(), _count(self.store, "states"))
        return self.inner.read()


def test_batches_are_stored_while_the_replay_runs(config, any_store, tmp_path, monkeypatch):
    monkeypatch.setattr(sync_module, "RECORD_BATCH_ROWS", 100)
    twin = DigitalTwin(config, store=any_store, seed=0)
    twin.initialize()
    source = _Watching(_csv(tmp_path / "shift.csv", 450), any_store, at=250)
    sync = Synchronizer(twin, source)
    assert sync.run_batch(record=True, name="watched") == 450
    assert source.seen == (["running"], 200)  # two batches stored, the run not finished
    run = any_store.get_run(sync.run_id)
    assert run["status"] == "completed" and run["kpis"]["rows"] == 450.0
    traj = any_store.trajectories(sync.run_id)
    temps = traj[traj["variable"] == "production_line.temperature"]
    assert temps["step"].tolist() == list(range(450))  # every reading, in order
    assert temps["value"].iloc[[0, 49, 449]].tolist() == [22.0, 22.49, 22.49]
    states = any_store.query(
        "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM states WHERE run_id = ?",
        [sync.run_id],
    )
    assert states.iloc[0].tolist() == [450, 450]


def test_an_error_during_the_replay_leaves_nothing(config, any_store, tmp_path, monkeypatch):
    monkeypatch.setattr(sync_module, "RECORD_BATCH_ROWS", 100)
    twin = DigitalTwin(config, store=any_store, seed=0)
    twin.initialize()
    sync = Synchronizer(twin, CSVReplaySource(_csv(tmp_path / "bad.csv", 450, bad_at=333)))
    with pytest.raises(DataSourceError, match="bad.csv:335"):
        sync.run_batch(record=True)
    assert any_store.runs().empty
    assert [_count(any_store, t) for t in ("states", "trajectories", "run_kpis")] == [0, 0, 0]


def test_ctrl_c_during_the_replay_leaves_nothing(config, store, tmp_path, monkeypatch):
    monkeypatch.setattr(sync_module, "RECORD_BATCH_ROWS", 100)
    twin = DigitalTwin(config, store=store, seed=0)
    twin.initialize()
    source = CSVReplaySource(_csv(tmp_path / "shift.csv", 450))
    read = source.read

    def interrupted():
        if source.rows_read == 321:
            raise KeyboardInterrupt
        return read()

    source.read = interrupted
    with pytest.raises(KeyboardInterrupt):
        Synchronizer(twin, source).run_batch(record=True)
    assert store.runs().empty and _count(store, "states") == 0


_FULL_DISK = """
import resource, sys
from pathlib import Path
from circman_kernel.store.run_store import RunStore
from circman_kernel.twin.digital_twin import DigitalTwin
from circman_kernel.twin.sources import CSVReplaySource
from circman_kernel.twin.sync import Synchronizer

folder = Path(sys.argv[1])
store = RunStore(folder / "runs.duckdb")
store.save_run("simulation", run_id="before", kpis={"a": 1.0})
twin = DigitalTwin(store=store, seed=0)
twin.initialize()
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (8_000_000, hard))  # as `ulimit -f` does
try:
    Synchronizer(twin, CSVReplaySource(folder / "shift.csv")).run_batch(record=True)
except Exception as exc:
    print(type(exc).__name__, str(exc).splitlines()[0], sep="|")
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
store.save_run("simulation", run_id="after", kpis={"a": 2.0})
print(sorted(store.runs()["id"]))
"""


@pytest.mark.slow
def test_a_full_disk_during_a_recorded_replay_is_named_and_leaves_nothing(tmp_path) -> None:
    # issue 20 item 9 on the streaming path: the batch that hits the limit names it first
    _csv(tmp_path / "shift.csv", 60_000)
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(repo) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert_full_disk_reported(out)
