"""Sweeps and Monte Carlo batches on a cluster, each run stored by the worker that ran it.

With the team store (``RunStore("postgresql://...")``), a Dask cluster's workers write
their runs straight into it: :func:`store_sweep` runs one simulation per experiment and
:func:`store_monte_carlo` one Monte Carlo run per parameter set, each as a task on
``executor`` (a ``distributed.Client``, ``client.get_executor()`` or any
``concurrent.futures.Executor``; ``None`` runs them here). Every task gets its own seed
from ``numpy.random.SeedSequence(seed).spawn`` (recorded with its run), so the runs and
their KPIs are the same wherever they ran. The store and the configuration travel to the
workers by value: the store reopens itself from its location (a DuckDB file works only
where every worker sees the file, and one writing process at a time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.core.errors import ParameterError
from circman_kernel.simulation.chunks import as_seed_sequence

__all__ = ["store_monte_carlo", "store_sweep"]


def _task_seeds(seed: Any, n: int) -> list[int]:
    # one recorded 63-bit integer per task, from independent SeedSequence children
    return [
        int(child.generate_state(1, np.uint64)[0] >> 1) for child in as_seed_sequence(seed).spawn(n)
    ]


def _config_payload(config: Any) -> tuple[dict[str, Any], str]:
    if config is None:
        from circman_kernel.core.config import load_config

        config = load_config()
    return config.to_dict(), config.source


def _engine(task: Mapping[str, Any]) -> Any:
    from circman_kernel.core.config import CircmanConfig
    from circman_kernel.simulation.engine import SimulationEngine

    data, source = task["config"]
    config = CircmanConfig.model_validate({**data, "source": source})
    return SimulationEngine(config, store=task["store"])


def _simulate_point(task: Mapping[str, Any]) -> tuple[str, dict[str, float]]:
    """One sweep point on a worker: simulate and store it; return (run id, KPIs)."""
    result = _engine(task).run_simulation(
        task["steps"], task["initial_state"], task["parameters"],
        seed=task["seed"], name=task["name"], tags=task["tags"],
    )  # fmt: skip
    return result.run_id, {k: float(v) for k, v in result.kpis().items()}


def _monte_carlo_set(task: Mapping[str, Any]) -> tuple[str, dict[str, float]]:
    """One Monte Carlo run on a worker: run and store it; return (run id, mean KPIs)."""
    result = _engine(task).run_monte_carlo_simulation(
        task["steps"], task["initial_state"], task["parameters"],
        iterations=task["iterations"], uncertainty=task["uncertainty"],
        seed=task["seed"], name=task["name"], tags=task["tags"],
    )  # fmt: skip
    return result.run_id, {k: float(v) for k, v in result.kpis().mean().items()}


def _run(tasks: list[dict[str, Any]], worker: Any, executor: Any) -> list[tuple[str, dict]]:
    if executor is None:
        return [worker(t) for t in tasks]
    futures = [executor.submit(worker, t) for t in tasks]
    return [f.result() for f in futures]


def _frame(outputs: list[tuple[str, dict]], index: pd.Index) -> pd.DataFrame:
    frame = pd.DataFrame([kpis for _, kpis in outputs], index=index)
    frame.insert(0, "run_id", pd.array([rid for rid, _ in outputs], dtype="str"))
    return frame


def _check_store(store: Any) -> None:
    if store is None or not hasattr(store, "save_run"):
        raise ParameterError("store must be an open RunStore (e.g. the team store)", name="store")


def store_sweep(
    experiments: pd.DataFrame,
    *,
    store: Any,
    executor: Any = None,
    config: Any = None,
    steps: int = 200,
    initial_state: Mapping[str, Any] | None = None,
    seed: Any = None,
    name: str | None = None,
    tags: Sequence[str] = (),
) -> pd.DataFrame:
    """Simulate every experiment (row: parameter name -> value) as its own stored run.

    Returns a frame aligned on ``experiments``' index: ``run_id`` and the run's KPIs.
    Each run is saved (kind ``"simulation"``, tagged ``tags`` and ``"sweep"``) by the
    worker that computed it; the same ``seed`` gives the same runs on any executor.
    """
    _check_store(store)
    if not isinstance(experiments, pd.DataFrame) or experiments.empty:
        raise ParameterError("experiments must be a non-empty DataFrame", name="experiments")
    payload = _config_payload(config)
    seeds = _task_seeds(seed, len(experiments))
    tasks = [
        {"config": payload, "store": store, "steps": steps, "initial_state": initial_state,
         "parameters": {k: float(v) for k, v in row.items()}, "seed": s,
         "name": name, "tags": (*tags, "sweep")}
        for (_, row), s in zip(experiments.iterrows(), seeds, strict=True)
    ]  # fmt: skip
    return _frame(_run(tasks, _simulate_point, executor), experiments.index)


def store_monte_carlo(
    parameter_sets: Sequence[Mapping[str, Any]],
    *,
    store: Any,
    executor: Any = None,
    config: Any = None,
    steps: int | None = None,
    iterations: int = 100,
    uncertainty: float = 0.1,
    initial_state: Mapping[str, Any] | None = None,
    seed: Any = None,
    name: str | None = None,
    tags: Sequence[str] = (),
) -> pd.DataFrame:
    """Run one Monte Carlo run per parameter set, each stored by its worker.

    Returns one row per set: ``run_id`` and the mean of each KPI over the iterations.
    """
    _check_store(store)
    sets = [dict(p) for p in parameter_sets]
    if not sets:
        raise ParameterError("parameter_sets must hold at least one mapping", name="parameter_sets")
    payload = _config_payload(config)
    tasks = [
        {"config": payload, "store": store, "steps": steps, "initial_state": initial_state,
         "parameters": p, "iterations": iterations, "uncertainty": uncertainty, "seed": s,
         "name": name, "tags": tuple(tags)}
        for p, s in zip(sets, _task_seeds(seed, len(sets)), strict=True)
    ]  # fmt: skip
    return _frame(_run(tasks, _monte_carlo_set, executor), pd.RangeIndex(len(sets)))
