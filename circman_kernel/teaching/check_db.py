"""The check database of notebook 06's SQL exercises: runs that tell wrong queries apart.

A learner's query is run on this in-memory store, and its first value compared with the
answer worked out here in Python (from the store's runs, not with SQL). It holds runs made
the way the notebook makes its own (same names and kinds, other seeds) plus adversarial
runs that give the usual wrong queries another result than the right one:

* a faster run with far too many defects (``cycle 22 s, worn tool``) and one just above
  the 2.1 % limit (``cycle 21 s, hot line``): a query without the defect filter, with the
  percent/fraction mix-up (``defect_rate <= 2.1``) or with a looser limit picks them;
* a better run than the notebook's best (``cycle 23 s``): a query that hard-codes the
  notebook's answer returns the wrong name;
* a scenario run that beats every simulation: a query without ``kind = 'simulation'``
  picks it;
* a one-day simulation, lowest in total energy: ordering by ``energy_kwh`` instead of
  energy per module picks it; a three-day simulation: the Monte Carlo run's last step
  is not the largest step in ``trajectories``;
* the Monte Carlo run with another seed than the notebook's, so that a hard-coded number
  is wrong.
"""

from __future__ import annotations

import functools
from types import MappingProxyType
from typing import Any

import numpy as np

from circman_kernel.store.run_store import RunStore

__all__ = ["CHECK_RUNS", "best_run", "check_store", "p95_final_output"]

#: name -> (kind, steps, parameters) of the check database's simulation and scenario runs
CHECK_RUNS: MappingProxyType[str, tuple[str, int, MappingProxyType[str, float]]] = MappingProxyType(
    {
        name: (kind, steps, MappingProxyType(params))
        for name, kind, steps, params in (
            ("cycle 24 s", "simulation", 48, {"cycle_time": 24.0}),
            ("cycle 27 s", "simulation", 48, {"cycle_time": 27.0}),
            ("cycle 30 s", "simulation", 48, {"cycle_time": 30.0}),
            ("cycle 33 s", "simulation", 48, {"cycle_time": 33.0}),
            (
                "cycle 24 s, hot line",
                "simulation",
                48,
                {"cycle_time": 24.0, "target_temperature": 28.0},
            ),
            ("cycle 23 s", "simulation", 48, {"cycle_time": 23.0}),
            (
                "cycle 22 s, worn tool",
                "simulation",
                48,
                {"cycle_time": 22.0, "base_defect_rate": 0.05},
            ),
            (
                "cycle 21 s, hot line",
                "simulation",
                48,
                {"cycle_time": 21.0, "target_temperature": 28.5},
            ),
            ("cycle 20 s", "scenario", 48, {"cycle_time": 20.0}),
            ("cycle 30 s, one day", "simulation", 24, {"cycle_time": 30.0}),
            ("cycle 30 s, three days", "simulation", 72, {"cycle_time": 30.0}),
        )
    }  # fmt: skip
)
CHECK_SEED = 11
CHECK_MC_SEED = 43
DEFECT_LIMIT = 0.021


@functools.cache
def check_store() -> Any:
    """Return the in-memory store the SQL self-checks run learners' queries on."""
    from circman_kernel.simulation.engine import SimulationEngine
    from circman_kernel.simulation.results import _long_frame

    store = RunStore(":memory:")
    engine = SimulationEngine(store=store)
    for name, (kind, steps, params) in CHECK_RUNS.items():
        if kind == "simulation":
            engine.run_simulation(
                steps, parameters=dict(params), seed=CHECK_SEED, name=name, tags=("lab",)
            )
            continue
        result = SimulationEngine().run_simulation(steps, parameters=dict(params), seed=CHECK_SEED)
        store.save_run(
            kind, name=name, parameters={**result.parameters, "steps": steps},
            seed=CHECK_SEED, kpis=result.kpis(), tags=("lab",),
            trajectories=_long_frame(result.trajectory[:, :, None]),
        )  # fmt: skip
    engine.run_monte_carlo_simulation(
        48, iterations=300, uncertainty=0.1, seed=CHECK_MC_SEED, name="baseline uncertainty",
        tags=("lab",),
    )  # fmt: skip
    return store


def best_run() -> str:
    """Name of the simulation run with the lowest energy per module among those with a
    defect rate of at most 2.1 % (worked out from the stored KPIs)."""
    store = check_store()
    runs = store.runs(kind="simulation")
    kpis = store.kpis(runs["id"].tolist())
    ok = kpis[kpis["defect_rate"] <= DEFECT_LIMIT]
    best = ok["energy_per_module_kwh"].idxmin()
    return str(runs.set_index("id").loc[best, "name"])


def p95_final_output() -> float:
    """95th percentile (linear, as numpy and ``quantile_cont``) of ``output_modules`` at
    the Monte Carlo run's last step."""
    store = check_store()
    (run_id,) = store.runs(kind="monte_carlo")["id"].tolist()
    t = store.trajectories(run_id)
    last = t[(t["variable"] == "output_modules") & (t["step"] == t["step"].max())]
    return float(np.percentile(last["value"].to_numpy(), 95))
