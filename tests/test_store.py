"""RunStore on real DuckDB files: runs, KPIs, trajectories, records, views, events, scenarios."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from circman_kernel.errors import ParameterError, PermissionDeniedError, StoreError
from circman_kernel.store import RunStore
from circman_kernel.store_schema import SCHEMA_VERSION


def _traj(iterations: int = 2, steps: int = 3) -> pd.DataFrame:
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


def test_new_file_gets_current_schema(store: RunStore, db_path) -> None:
    assert db_path.is_file()
    assert store.schema_version == SCHEMA_VERSION
    assert store.runs().empty


def test_save_run_round_trip(store: RunStore) -> None:
    traj = _traj()
    rid = store.save_run(
        "monte_carlo",
        name="mc",
        parameters={"target_temperature": 23.5, "nested": {"a": [1, 2]}},
        seed=42,
        config_hash="abc",
        tags=["baseline", "q1"],
        duration_s=1.25,
        kpis={"output_modules": 120.0, "energy_kwh": 30.0},
        trajectories=traj,
    )
    run = store.get_run(rid)
    assert run["kind"] == "monte_carlo" and run["name"] == "mc" and run["seed"] == 42
    assert run["parameters"] == {"target_temperature": 23.5, "nested": {"a": [1, 2]}}
    assert run["tags"] == ["baseline", "q1"]
    assert run["duration_s"] == 1.25 and run["config_hash"] == "abc"
    assert run["kpis"] == {"energy_kwh": 30.0, "output_modules": 120.0}
    back = store.trajectories(rid)
    pd.testing.assert_frame_equal(
        back, traj.astype({"iteration": "int32", "step": "int32"}), check_dtype=False
    )
    assert back["value"].tolist() == traj["value"].tolist()
    summary = store.query("SELECT * FROM run_summary WHERE run_id = ?", [rid])
    assert summary["output_modules"].iloc[0] == 120.0
    assert summary["energy_kwh"].iloc[0] == 30.0
    assert summary["n_kpis"].iloc[0] == 2
