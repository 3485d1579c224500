"""Helpers the store tests share: a small trajectory frame and a table dump."""

from __future__ import annotations

import numpy as np
import pandas as pd

from circman_kernel.store.schema import RUN_TABLES

#: statements query() must refuse on both backends
WRITES = [
    "DELETE FROM runs",
    "delete from runs where true",
    "DROP TABLE runs",
    "UPDATE runs SET name = 'x'",
    "INSERT INTO runs (id, kind) VALUES ('x', 'simulation')",
    "SELECT 1; DELETE FROM runs",
    "EXPLAIN ANALYZE DELETE FROM runs",
    "CREATE TABLE t AS SELECT * FROM runs",
    "COPY runs TO '/tmp/circman-leak.csv'",
    "SET search_path = nothing",
    "CHECKPOINT",
    "BEGIN",
    "WITH gone AS (DELETE FROM runs RETURNING id) SELECT count(*) FROM gone",
]

#: per table, the order that makes two dumps comparable
ORDER = {t: "run_id, id" for t in RUN_TABLES} | {
    "runs": "id",
    "run_kpis": "run_id, kpi",
    "trajectories": "run_id, seq",
}


def traj(iterations: int = 2, steps: int = 3) -> pd.DataFrame:
    """A long trajectory frame: two variables per step, values 0, 0.25, 0.5, ..."""
    it, st = np.meshgrid(np.arange(iterations), np.arange(steps), indexing="ij")
    n = it.size
    return pd.DataFrame(
        {
            "iteration": np.repeat(it.ravel(), 2),
            "step": np.repeat(st.ravel(), 2),
            "variable": ["temperature", "output"] * n,
            "value": np.arange(2 * n, dtype=float) / 4,
        }
    )


def dump(store, ids: list[str]) -> dict[str, pd.DataFrame]:
    """Every row of the runs ``ids`` per table, in a fixed order (portable SQL)."""
    out = {}
    for table in RUN_TABLES:
        key = "id" if table == "runs" else "run_id"
        out[table] = store.query(
            f"SELECT * FROM {table} WHERE {key} = ANY(?::VARCHAR[]) ORDER BY {ORDER[table]}",
            [ids],
        )
    out["run_summary"] = store.query(
        "SELECT * FROM run_summary WHERE run_id = ANY(?::VARCHAR[]) ORDER BY run_id", [ids]
    )
    return out
