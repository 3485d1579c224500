"""Many processes on one store: concurrent writers, a polling reader, a killed writer.

Real subprocesses on a real DuckDB file and on a real PostgreSQL server (the team store,
with two groups of writers standing for two machines, each with its own environment);
each scenario finishes in a few seconds to a few tens of seconds.
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
from circman_kernel.store.duck import DuckTx
from circman_kernel.store.pg_tx import PgTx
from circman_kernel.store.run_store import RunStore

def stalling(insert):
    def insert_then_wait(self, run_id, traj):
        insert(self, run_id, traj)
        if run_id == "partial":  # rows are written, the transaction is still open
            print("INSIDE", flush=True)
            time.sleep(60)
    return insert_then_wait

DuckTx.insert_trajectories = stalling(DuckTx.insert_trajectories)
PgTx.insert_trajectories = stalling(PgTx.insert_trajectories)
store, rows = RunStore(sys.argv[1]), int(sys.argv[2])
traj = pd.DataFrame({"step": np.arange(1000), "variable": "temperature", "value": 1.0})
store.save_run("simulation", run_id="whole", kpis={"a": 1.0}, trajectories=traj)
big = pd.DataFrame({"step": np.arange(rows), "variable": "temperature", "value": 2.0})
store.save_run("simulation", run_id="partial", kpis={"a": 2.0}, trajectories=big,
               records={"simulations": [{"steps": rows}]})
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


@pytest.mark.parametrize(
    ("backend", "rows"), [("duckdb", 1000), ("postgresql", 10**6)], ids=["duckdb", "postgresql"]
)
def test_writer_killed_mid_run_leaves_no_partial_run(
    request, tmp_path: Path, backend: str, rows: int
) -> None:
    # on the team store the killed writer had COPYed 10^6 rows of an open transaction
    store_url = (
        str(tmp_path / "k.duckdb") if backend == "duckdb" else request.getfixturevalue("pg_url")
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED, store_url, str(rows)],
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

    store = RunStore(store_url, lock_timeout_s=10)
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


# -- the team store: two "hosts" of eight writers each ---------------------------------------

HOSTS, PER_HOST, TEAM_RUNS = 2, 8, 25

_TEAM_WRITER = """
import os, sys, time
import numpy as np, pandas as pd
from circman_kernel.store.run_store import RunStore
worker, start_at, runs = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
store = RunStore()  # $CIRCMAN_DB of this "host"
traj = pd.DataFrame({"iteration": np.repeat(np.arange(4), 50), "step": np.tile(np.arange(50), 4),
                     "variable": "temperature", "value": 0.0})
time.sleep(max(0.0, start_at - time.time()))
for i in range(runs):
    store.save_run("monte_carlo", run_id=f"{worker}-r{i}", name=os.environ["HOST_NAME"], seed=i,
                   kpis={"output_modules": float(i), "energy_kwh": 1.0},
                   trajectories=traj.assign(value=float(i)))
"""

_TEAM_READER = """
import json, sys, time
from circman_kernel.store.run_store import RunStore
url, out, expected, deadline = sys.argv[1], sys.argv[2], int(sys.argv[3]), time.time() + float(sys.argv[4])
store = RunStore(url)
polls, errors, first_seen = 0, [], {}
while time.time() < deadline and len(first_seen) < expected:
    try:
        df = store.query(
            "SELECT s.run_id, s.n_kpis, s.output_modules, "
            "(SELECT count(*) FROM trajectories t WHERE t.run_id = s.run_id) AS n "
            "FROM run_summary s")
    except Exception as exc:  # the acceptance point: this must never happen
        errors.append(repr(exc))
        continue
    polls += 1
    for rid, k, out_, n in df.itertuples(index=False):
        first_seen.setdefault(rid, [int(k), int(n), float(out_)])
    time.sleep(0.02)
json.dump({"polls": polls, "errors": errors, "first_seen": first_seen}, open(out, "w"))
"""


def test_sixteen_writers_on_two_hosts_and_a_polling_reader(pg_server, pg_url, tmp_path) -> None:
    RunStore(pg_url)  # the schema, created once
    dbname = pg_url.split("@/", 1)[1].split("?", 1)[0]
    start_at = time.time() + 4.0  # after every interpreter has imported pandas and psycopg
    procs = []
    for h in range(HOSTS):
        env = _env()
        home = tmp_path / f"host{h}"
        home.mkdir()
        # each "machine" has its own environment: home, temp folder, and its own spelling
        # of the store's location (a URL on one, a libpq keyword string on the other)
        env.update(HOME=str(home), TMPDIR=str(home), HOST_NAME=f"host{h}",
                   CIRCMAN_DB=pg_url if h == 0 else pg_server.keywords(dbname))  # fmt: skip
        for w in range(PER_HOST):
            procs.append(subprocess.Popen(
                [sys.executable, "-c", _TEAM_WRITER, f"h{h}w{w}", str(start_at), str(TEAM_RUNS)],
                env=env, stderr=subprocess.PIPE, text=True,
            ))  # fmt: skip
    total = HOSTS * PER_HOST * TEAM_RUNS
    report = tmp_path / "reader.json"
    reader = subprocess.Popen(
        [sys.executable, "-c", _TEAM_READER, pg_url, str(report), str(total), "150"],
        env=_env(), stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    _, err = reader.communicate(timeout=180)
    assert reader.returncode == 0, err
    seen = json.loads(report.read_text())
    assert seen["errors"] == []
    assert len(seen["first_seen"]) == total and seen["polls"] >= 2
    # every run was complete the first time the reader saw it: 2 KPIs, 200 trajectory rows
    assert {tuple(v[:2]) for v in seen["first_seen"].values()} == {(2, 200)}

    store = RunStore(pg_url)
    runs = store.runs()
    assert len(runs) == total and runs["id"].is_unique
    assert runs.groupby("name").size().to_dict() == {"host0": 200, "host1": 200}
    per_run = store.query(
        "SELECT run_id, count(*) AS n, min(value) AS lo, max(value) AS hi "
        "FROM trajectories GROUP BY run_id"
    )
    index = per_run["run_id"].str.split("-r").str[1].astype(float)
    assert (per_run["n"] == 200).all() and (per_run["lo"] == index).all()
    assert (per_run["hi"] == index).all()
