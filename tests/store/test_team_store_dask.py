"""Sweeps and Monte Carlo on a Dask cluster, each worker storing its runs in the team store.

A real ``distributed.LocalCluster`` (two worker processes) and a real PostgreSQL server;
the same seeds in-process give the same runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from circman_kernel.simulation.distributed import store_monte_carlo, store_sweep
from circman_kernel.store.run_store import RunStore

pytestmark = pytest.mark.slow  # a cluster of worker processes: ~20 s


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                     dashboard_address=":0", silence_logs=40) as cluster,
        Client(cluster) as c,
    ):  # fmt: skip
        yield c


def _points(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(
        {
            "target_temperature": rng.uniform(20.0, 26.0, n),
            "temperature_regulation": rng.uniform(0.05, 0.5, n),
        }
    )


def test_dask_sweep_of_64_points_stores_64_runs_from_the_workers(
    client, pg_server, pg_url, config
) -> None:
    team = RunStore(pg_url)
    points = _points(64)
    got = store_sweep(points, store=team, executor=client, config=config, steps=50, seed=11,
                      name="dask sweep", tags=["team"])  # fmt: skip
    assert len(got) == 64 and got["run_id"].is_unique
    stored = team.runs(tags="team")
    assert len(stored) == 64 and set(stored["id"]) == set(got["run_id"])
    assert set(stored["name"]) == {"dask sweep"}
    params = pd.DataFrame(
        list(team.runs(tags="team").set_index("id").loc[got["run_id"], "parameters"])
    )
    np.testing.assert_array_equal(params["target_temperature"], points["target_temperature"])
    # the same sweep in this process: the same KPIs, trajectories and recorded seeds
    here = RunStore(pg_server.url(pg_server.create_database()))
    ref = store_sweep(points, store=here, config=config, steps=50, seed=11, name="dask sweep")
    kpis = [c for c in got.columns if c != "run_id"]
    pd.testing.assert_frame_equal(got[kpis], ref[kpis], check_exact=True)
    for a, b in list(zip(got["run_id"], ref["run_id"], strict=True))[:4]:
        assert team.get_run(a)["seed"] == here.get_run(b)["seed"] is not None
        pd.testing.assert_frame_equal(team.trajectories(a), here.trajectories(b))
    stored_kpis = team.kpis(list(got["run_id"]))
    np.testing.assert_array_equal(stored_kpis["output_modules"], got["output_modules"])


def test_dask_monte_carlo_runs_are_stored_by_the_workers(client, pg_url, config) -> None:
    team = RunStore(pg_url)
    sets = [{"target_temperature": t} for t in (21.0, 23.0, 25.0)]
    got = store_monte_carlo(sets, store=team, executor=client.get_executor(), config=config,
                            steps=30, iterations=40, seed=2, tags=["mc"])  # fmt: skip
    ref = store_monte_carlo(sets, store=team, config=config, steps=30, iterations=40, seed=2)
    kpis = [c for c in got.columns if c != "run_id"]
    pd.testing.assert_frame_equal(got[kpis], ref[kpis], check_exact=True)
    runs = team.runs("monte_carlo", tags="mc")
    assert sorted(runs["id"]) == sorted(got["run_id"])
    assert all(len(team.trajectories(r)) > 0 for r in got["run_id"])
