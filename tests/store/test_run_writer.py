"""``RunStore.open_run``: a run stored batch by batch, whole or not at all (both backends)."""

from __future__ import annotations

import pandas as pd
import pytest

from circman_kernel.core.errors import ParameterError, StoreError
from circman_kernel.store.run_store import RunStore


def _batch(start: int, n: int) -> pd.DataFrame:
    steps = [s for s in range(start, start + n) for _ in (0, 1)]
    return pd.DataFrame(
        {
            "step": steps,
            "variable": ["t", "e"] * n,
            "value": [float(s) + (0.5 if i % 2 else 0.0) for i, s in enumerate(steps)],
        }
    )


def test_batches_make_one_run_in_order(any_store: RunStore) -> None:
    with any_store.open_run("replay", name="long", tags=["x"], parameters={"p": 1}) as run:
        for start in (0, 3, 6):
            run.append(
                trajectories=_batch(start, 3),
                records={"states": [{"state_data": {"s": s}} for s in range(start, start + 3)]},
            )
        assert any_store.get_run(run.run_id)["status"] == "running"
        run.close(kpis={"rows": 9.0}, duration_s=2.5)
    stored = any_store.get_run(run.run_id)
    assert (stored["status"], stored["duration_s"], stored["kpis"]) == (
        "completed",
        2.5,
        {"rows": 9.0},
    )
    assert (stored["name"], stored["tags"], stored["parameters"]) == ("long", ["x"], {"p": 1})
    traj = any_store.trajectories(run.run_id)
    pd.testing.assert_frame_equal(
        traj.assign(variable=traj["variable"].astype(str)).reset_index(drop=True),
        _batch(0, 9).assign(iteration=0)[["iteration", "step", "variable", "value"]],
        check_dtype=False,
    )
    states = any_store.query(
        "SELECT id, state_data FROM states WHERE run_id = ? ORDER BY timestamp, id", [run.run_id]
    )
    assert sorted(states["id"]) == sorted(f"{run.run_id}:states:{i}" for i in range(9))
    assert run.trajectory_rows == 18 and run.record_rows["states"] == 9 and run.batches == 3


def test_an_error_in_the_block_deletes_the_run(any_store: RunStore) -> None:
    with pytest.raises(RuntimeError, match="sensor"), any_store.open_run("replay") as run:
        run.append(trajectories=_batch(0, 5))
        raise RuntimeError("sensor unplugged")
    assert run.status == "aborted" and any_store.runs().empty
    assert any_store.query("SELECT count(*) AS n FROM trajectories")["n"].iloc[0] == 0
    with pytest.raises(StoreError, match="after the run was aborted"):
        run.append(trajectories=_batch(5, 1))


def test_a_bad_batch_is_refused_before_anything_is_written(any_store: RunStore) -> None:
    run = any_store.open_run("replay")
    run.append(trajectories=_batch(0, 2))
    bad = _batch(2, 1).assign(step=[0.5, 0.5])
    with pytest.raises(ParameterError, match="whole numbers"):
        run.append(trajectories=bad)
    # validation comes before any write: the run is still open and can go on
    run.append(trajectories=_batch(2, 1))
    # a streamed run's duration is checked as save_run checks it, before the write
    with pytest.raises(ParameterError, match="duration_s must be a finite number"):
        run.close(duration_s=float("nan"))
    assert run.close(duration_s=3) == run.run_id
    assert len(any_store.trajectories(run.run_id)) == 6
    assert any_store.get_run(run.run_id)["duration_s"] == 3.0


def test_nothing_is_stored_before_the_first_batch(any_store: RunStore) -> None:
    run = any_store.open_run("replay", name="n" * 200)
    assert any_store.runs().empty and run.status == "new"
    run.abort()
    with pytest.raises(ParameterError, match="at most 200"):
        any_store.open_run("replay", name="n" * 201)
    with pytest.raises(ParameterError, match="unknown run kind"):
        any_store.open_run("nope")


def test_a_published_store_writes_and_discards_its_own_streamed_run(tmp_path) -> None:
    path = tmp_path / "pub.duckdb"
    RunStore(path)
    published = RunStore(path, published=True)
    with pytest.raises(KeyError), published.open_run("replay") as run:
        run.append(trajectories=_batch(0, 2))
        raise KeyError("stop")
    assert published.runs().empty
    with published.open_run("replay") as run:
        run.append(trajectories=_batch(0, 2))
    assert published.get_run(run.run_id)["status"] == "completed"
