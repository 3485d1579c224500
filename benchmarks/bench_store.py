"""Run store figures: storing 10^6 trajectory rows, reading a 1,000 x 1,000 Monte Carlo run.

Both are measured on a real DuckDB file in a temporary folder, each store call opening
and closing the file as in normal use (lock, open, one transaction, close). The
reference is raw DuckDB doing the same bulk work on the same frame in the same run.
"""

from __future__ import annotations

import tempfile
from itertools import count
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from benchmarks.harness import Figure, bench, median_time
from circman_kernel.store.run_store import RunStore

VARIABLES = ("temperature", "energy_consumption", "production_rate", "efficiency", "defect_rate")


def _frame(iterations: int, steps: int, variables: tuple[str, ...]) -> pd.DataFrame:
    """Long Monte Carlo frame: iterations x steps x variables rows."""
    n = iterations * steps * len(variables)
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "iteration": np.repeat(np.arange(iterations, dtype=np.int32), steps * len(variables)),
            "step": np.tile(
                np.repeat(np.arange(steps, dtype=np.int32), len(variables)), iterations
            ),
            "variable": pd.array(np.tile(np.array(variables), iterations * steps), dtype="str"),
            "value": rng.normal(size=n),
        }
    )


def _raw_table(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE raw (run_id VARCHAR, iteration INTEGER, step INTEGER, "
        "variable VARCHAR, value DOUBLE)"
    )
    con.close()


@bench("store")
def store_million_rows() -> Figure:
    frame = _frame(1000, 200, VARIABLES)  # 10^6 rows
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "bench.duckdb")
        ids = count()
        median, samples = median_time(
            lambda: store.save_run(
                "monte_carlo", run_id=f"r{next(ids)}", kpis={"a": 1.0}, trajectories=frame
            ),
            repeat=5,
        )
        raw_path = Path(tmp) / "raw.duckdb"
        _raw_table(raw_path)

        def raw() -> None:
            con = duckdb.connect(str(raw_path))
            con.register("frame", frame)
            con.execute("INSERT INTO raw SELECT 'r', * FROM frame")
            con.close()

        reference, _ = median_time(raw, repeat=5)
    return Figure(
        f"save_run with {len(frame):,} trajectory rows (file store)",
        median,
        target=0.5,
        reference=reference,
        reference_name="raw DuckDB open + INSERT SELECT from the frame + close",
        samples=samples,
    )


@bench("store")
def read_monte_carlo_run() -> Figure:
    frame = _frame(1000, 1000, ("output_modules",))  # 1,000 iterations x 1,000 steps
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "bench.duckdb")
        rid = store.save_run("monte_carlo", trajectories=frame)
        store.save_run("monte_carlo", trajectories=frame)  # another run in the same table
        got = store.trajectories(rid)
        assert (
            len(got) == len(frame) and got["value"].to_numpy().tolist() == frame["value"].tolist()
        )
        median, samples = median_time(lambda: store.trajectories(rid), repeat=5)

        def raw() -> pd.DataFrame:
            con = duckdb.connect(store.path, read_only=True)
            try:
                return con.execute(
                    "SELECT iteration, step, variable, value FROM trajectories WHERE run_id = ?",
                    [rid],
                ).df()
            finally:
                con.close()

        reference, _ = median_time(raw, repeat=5)
    return Figure(
        "trajectories() of a 1,000-step x 1,000-iteration MC run as a DataFrame",
        median,
        target=0.5,
        reference=reference,
        reference_name="raw DuckDB read-only open + SELECT .df() + close",
        samples=samples,
    )
