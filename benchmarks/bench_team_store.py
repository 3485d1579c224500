"""Team store figures: a 10^6-row run saved and read back, and 16 writers at once.

PostgreSQL 15 is started by the benchmark in a temporary folder (Unix socket, fsync on:
commits are real), with the tests' helper. References, measured in the same run:

- save: raw psycopg -- connect, ``COPY trajectories FROM STDIN`` with ``write_row`` for
  each row of the same frame, commit, close (what one writes without the store);
- read: raw psycopg -- ``COPY (SELECT ...) TO STDOUT`` with ``rows()`` into a DataFrame;
- 16 writers: the same 16 processes writing the same runs into the DuckDB file store
  (one writer at a time, by its file lock).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from itertools import count
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.bench_store import VARIABLES, _frame
from benchmarks.harness import Figure, bench, median_time

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pg_server import postgres_server

from circman_kernel.store.run_store import RunStore

REPO = Path(__file__).resolve().parents[1]
WRITERS, RUNS_EACH = 16, 10

_WRITER = """
import json, sys, time
import numpy as np, pandas as pd
from circman_kernel.store.run_store import RunStore
url, worker, start_at, runs = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
store = RunStore(url, lock_timeout_s=600)
traj = pd.DataFrame({"iteration": np.repeat(np.arange(10), 200), "step": np.tile(np.arange(200), 10),
                     "variable": "temperature", "value": np.linspace(0, 1, 2000)})
time.sleep(max(0.0, start_at - time.time()))
for i in range(runs):
    store.save_run("monte_carlo", run_id=f"{worker}-{i}", kpis={"a": float(i)}, trajectories=traj)
print(json.dumps({"done": time.time()}))
"""


def _raw_save(url: str, frame: pd.DataFrame, run_id: str) -> None:
    import psycopg

    rows = zip(
        frame["iteration"].tolist(), frame["step"].tolist(), frame["variable"].tolist(),
        frame["value"].tolist(), strict=True,
    )  # fmt: skip
    with psycopg.connect(url) as con, con.cursor() as cur:
        stmt = "COPY raw (run_id, iteration, step, variable, value) FROM STDIN"
        with cur.copy(stmt) as copy:
            for it, st, var, val in rows:
                copy.write_row((run_id, it, st, var, val))


def _raw_read(url: str, run_id: str) -> pd.DataFrame:
    import psycopg

    with psycopg.connect(url) as con, con.cursor() as cur:
        stmt = (
            "COPY (SELECT iteration, step, variable, value FROM trajectories "
            f"WHERE run_id = '{run_id}') TO STDOUT (FORMAT binary)"
        )
        with cur.copy(stmt) as copy:
            copy.set_types(["int4", "int4", "varchar", "float8"])
            rows = list(copy.rows())
    return pd.DataFrame(rows, columns=["iteration", "step", "variable", "value"])


@bench("team store")
def team_store_million_rows() -> list[Figure]:
    frame = _frame(1000, 200, VARIABLES)  # 10^6 rows
    with postgres_server(durable=True) as server:
        url = server.url(server.create_database())
        store = RunStore(url)
        ids = count()
        save, save_samples = median_time(
            lambda: store.save_run(
                "monte_carlo", run_id=f"r{next(ids)}", kpis={"a": 1.0}, trajectories=frame
            ),
            repeat=5,
        )
        with store.connect(read_only=False) as tx:
            tx.execute("CREATE TABLE raw (run_id VARCHAR, iteration INTEGER, step INTEGER, "
                       "variable VARCHAR, value DOUBLE PRECISION)")  # fmt: skip
        raw_ids = count()
        raw_save, _ = median_time(lambda: _raw_save(url, frame, f"raw{next(raw_ids)}"), repeat=3)

        got = store.trajectories("r0")
        assert got["value"].tolist() == frame["value"].tolist()
        assert (got["variable"].astype(str) == frame["variable"]).all()
        read, read_samples = median_time(lambda: store.trajectories("r0"), repeat=5)
        raw_read, _ = median_time(lambda: _raw_read(url, "r0"), repeat=3)
        store.close()
    return [
        Figure(
            f"team store: save_run with {len(frame):,} trajectory rows (PostgreSQL, fsync on)",
            save, target=3.0, reference=raw_save,
            reference_name="raw psycopg connect + COPY write_row per row + commit",
            samples=save_samples,
        ),
        Figure(
            f"team store: trajectories() of {len(frame):,} rows as a DataFrame",
            read, target=2.0, reference=raw_read,
            reference_name="raw psycopg COPY TO STDOUT rows() into a DataFrame",
            samples=read_samples,
        ),
    ]  # fmt: skip


def _writers_rate(url: str, env: dict[str, str]) -> float:
    """Runs per second of 16 processes saving ``RUNS_EACH`` runs each, from one start."""
    RunStore(url)  # the schema first, once
    start_at = time.time() + 8.0  # after every interpreter has imported the stack
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, url, f"w{w}", str(start_at), str(RUNS_EACH)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for w in range(WRITERS)
    ]
    done = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"writer failed: {err}")
        done.append(json.loads(out.strip().splitlines()[-1])["done"])
    if time.time() < start_at:
        raise RuntimeError("writers finished before the common start")
    stored = len(RunStore(url).runs(limit=None))
    assert stored == WRITERS * RUNS_EACH, stored
    return WRITERS * RUNS_EACH / (max(done) - start_at)


@bench("team store")
def sixteen_concurrent_writers() -> Figure:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    rates, refs = [], []
    with postgres_server(durable=True) as server, tempfile.TemporaryDirectory() as tmp:
        for i in range(3):
            rates.append(_writers_rate(server.url(server.create_database()), env))
            refs.append(_writers_rate(str(Path(tmp) / f"writers{i}.duckdb"), env))
    return Figure(
        f"team store: {WRITERS} concurrent writer processes, runs of 2,000 rows",
        float(np.median(rates)), unit="runs/s", higher_is_better=True,
        reference=float(np.median(refs)),
        reference_name="the same 16 writers on the DuckDB file store",
        samples=tuple(rates),
    )  # fmt: skip
