"""Many processes on one run-store file: concurrent writers, a polling reader, a killed writer.

Real subprocesses on a real DuckDB file; each scenario finishes in a few seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from circman_kernel.store.run_store import RunStore

pytestmark = pytest.mark.slow  # subprocesses: ~15 s on an idle 2-core machine

REPO = Path(__file__).resolve().parents[2]
WRITERS, RUNS_EACH, ITERATIONS, STEPS = 6, 10, 4, 50
ROWS_PER_RUN = ITERATIONS * STEPS * 2

_WRITER = """
import sys, time
import numpy as np, pandas as pd
from circman_kernel.store.run_store import RunStore
path, worker, start_at, runs, its, steps = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), *map(int, sys.argv[4:])
store = RunStore(path, lock_timeout_s=60)
it, st = np.meshgrid(np.arange(its), np.arange(steps), indexing="ij")
time.sleep(max(0.0, start_at - time.time()))
for i in range(runs):
    traj = pd.DataFrame({
        "iteration": np.repeat(it.ravel(), 2), "step": np.repeat(st.ravel(), 2),
        "variable": ["temperature", "output"] * it.size, "value": np.full(2 * it.size, float(i)),
    })
    store.save_run("monte_carlo", run_id=f"w{worker}-r{i}", name=f"worker {worker}", seed=i,
                   kpis={"output_modules": float(i), "worker": float(worker)}, trajectories=traj)
"""

_READER = """
import json, sys, time
from circman_kernel.store.run_store import RunStore
path, out, expected, rows, deadline = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), time.time() + float(sys.argv[5])
store = RunStore(path, lock_timeout_s=60)
polls, errors, partial, seen = 0, [], [], []
while time.time() < deadline:
    try:
        df = store.query(
            "SELECT r.id, (SELECT count(*) FROM trajectories t WHERE t.run_id = r.id) AS n, "
            "(SELECT count(*) FROM run_kpis k WHERE k.run_id = r.id) AS k FROM runs r")
    except Exception as exc:  # the acceptance point: this must never happen
        errors.append(repr(exc))
        continue
    polls += 1
    seen.append(len(df))
    partial += [i for i, n, k in df.itertuples(index=False) if n != rows or k != 2]
    if len(df) >= expected:
        break
    time.sleep(0.01)
json.dump({"polls": polls, "errors": errors, "partial": partial, "seen": seen}, open(out, "w"))
"""

_KILLED = """
import sys, time
import numpy as np, pandas as pd
from circman_kernel.store.run_store import RunStore

class Stalling(RunStore):
    def _insert_trajectories(self, con, run_id, traj):
        super()._insert_trajectories(con, run_id, traj)
        if run_id == "partial":  # rows are written, the transaction is still open
            print("INSIDE", flush=True)
            time.sleep(60)

store = Stalling(sys.argv[1])
traj = pd.DataFrame({"step": np.arange(1000), "variable": "temperature", "value": 1.0})
store.save_run("simulation", run_id="whole", kpis={"a": 1.0}, trajectories=traj)
store.save_run("simulation", run_id="partial", kpis={"a": 2.0}, trajectories=traj,
               records={"simulations": [{"steps": 1000}]})
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_six_writers_and_a_polling_reader(db_path: Path, tmp_path: Path) -> None:
    RunStore(db_path)  # created once; every process then opens the same file
    start_at = time.time() + 2.0  # after every interpreter has imported pandas and duckdb
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WRITER,
                str(db_path),
                str(w),
                str(start_at),
                str(RUNS_EACH),
                str(ITERATIONS),
                str(STEPS),
            ],
            env=_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(WRITERS)
    ]
    report = tmp_path / "reader.json"
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _READER,
            str(db_path),
            str(report),
            str(WRITERS * RUNS_EACH),
            str(ROWS_PER_RUN),
            "60",
        ],
        env=_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    for p in writers:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    _, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    seen = json.loads(report.read_text())
    assert seen["errors"] == [] and seen["partial"] == []
    assert seen["polls"] >= 2 and seen["seen"][-1] == WRITERS * RUNS_EACH
    assert seen["seen"] == sorted(seen["seen"])  # runs only ever appear, whole

    store = RunStore(db_path)
    runs = store.runs()
    assert sorted(runs["id"]) == sorted(
        f"w{w}-r{i}" for w in range(WRITERS) for i in range(RUNS_EACH)
    )
    per_run = store.query(
        "SELECT run_id, count(*) AS n, min(value) AS lo, max(value) AS hi "
        "FROM trajectories GROUP BY run_id"
    )
    assert len(per_run) == WRITERS * RUNS_EACH
    assert (per_run["n"] == ROWS_PER_RUN).all()
    # every run got its own trajectory: value == run index i of "w<w>-r<i>"
    index = per_run["run_id"].str.split("-r").str[1].astype(float)
    assert (per_run["lo"] == index).all() and (per_run["hi"] == index).all()
    kpis = store.kpis(list(runs["id"]))
    assert (kpis["worker"] == runs.set_index("id")["name"].str[7:].astype(float)).all()


def test_writer_killed_mid_run_leaves_no_partial_run(db_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED, str(db_path)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "INSIDE", proc.stderr.read()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    store = RunStore(db_path, lock_timeout_s=10)
    assert store.runs()["id"].tolist() == ["whole"]
    counts = store.query(
        "SELECT (SELECT count(*) FROM trajectories) AS t, (SELECT count(*) FROM run_kpis) AS k, "
        "(SELECT count(*) FROM simulations) AS s, "
        "(SELECT count(*) FROM trajectories WHERE run_id = 'partial') AS p"
    )
    assert counts.iloc[0].tolist() == [1000, 1, 0, 0]
    # the dead writer's lock is gone: the next writer gets in at once
    store.save_run("simulation", run_id="partial", kpis={"a": 3.0})
    assert store.get_run("partial")["kpis"] == {"a": 3.0}
