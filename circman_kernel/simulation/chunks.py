"""Chunks of model columns: seeds, the chunk worker and the map over an executor.

Large runs are cut into chunks of columns, each with its own seed from
``numpy.random.SeedSequence.spawn`` (:func:`as_seed_sequence` turns any seed into one).
:func:`run_columns` runs one chunk of the vectorised model (with per-column parameter
spread) and is top-level so that executors can pickle it; ``_map`` runs the chunks in
order in-process or on any ``concurrent.futures.Executor`` (a process pool, a Dask
``Client.get_executor()``), so the result does not depend on where they ran.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np

from circman_kernel.core.errors import ParameterError
from circman_kernel.simulation import process as pm
from circman_kernel.simulation.measurement import observe
from circman_kernel.simulation.recurrences import draw_noise, simulate
from circman_kernel.simulation.results import trajectory_kpis

__all__ = ["as_seed_sequence"]

# --------------------------------------------------------------------------- seeds


def as_seed_sequence(seed: Any) -> np.random.SeedSequence:
    """Return a SeedSequence from ``None`` (fresh entropy), an int, a SeedSequence or a Generator.

    A Generator gives one draw of 63 bits as entropy (so the caller's generator advances);
    ``None`` draws 63 bits of fresh entropy, so that every run has a seed to record.
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    if seed is None:  # fresh entropy, kept to 63 bits so that a store can record it
        return np.random.SeedSequence(
            int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1)
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError(
            f"seed must be a non-negative int, a numpy Generator or None, got {seed!r}",
            name="seed",
            value=seed,
        )
    return np.random.SeedSequence(int(seed))


def _seed_record(ss: np.random.SeedSequence) -> int | None:
    entropy = ss.entropy
    return int(entropy) if isinstance(entropy, int | np.integer) and not ss.spawn_key else None


# --------------------------------------------------------------------------- chunk worker


def run_columns(
    x0: np.ndarray,
    parameters: Mapping[str, Any],
    steps: int,
    seed: np.random.SeedSequence,
    *,
    uncertainty: float = 0.0,
    vary: Sequence[str] = (),
    running: np.ndarray | None = None,
    kpis_only: bool = False,
) -> tuple[Any, dict[str, np.ndarray], np.ndarray | None]:
    """Run one chunk; return (true trajectories or KPIs, varied parameter draws, measurements).

    The measurements (:func:`circman_kernel.simulation.measurement.observe`) are None without
    measurement noise or with ``kpis_only``.
    ``x0`` is ``(n_vars, n)``; ``parameters`` floats or ``(n,)`` arrays. With
    ``uncertainty`` > 0, each name in ``vary`` is multiplied per column by a draw of
    N(1, uncertainty), cut to the parameter's range. Top-level so that executors can
    pickle it.
    """
    rng = np.random.default_rng(seed)
    n = x0.shape[1]
    params = dict(parameters)
    draws: dict[str, np.ndarray] = {}
    if uncertainty > 0 and vary:
        factors = rng.normal(1.0, uncertainty, size=(len(vary), n))
        for i, name in enumerate(vary):
            lo, hi, open_lo, _ = pm.PARAMETERS[name]
            value = np.asarray(params[name], dtype=float) * factors[i]
            low = max(lo, 1e-9) if open_lo else lo
            draws[name] = params[name] = np.clip(value, low, hi)
        if "temperature_low" in draws or "temperature_high" in draws:
            params["temperature_high"] = np.maximum(
                params["temperature_high"], params["temperature_low"]
            )
    noise = draw_noise(rng, steps, n, params)
    traj = simulate(x0, params, steps, noise, running=running)
    if kpis_only:
        return trajectory_kpis(traj), draws, None
    measured = observe(traj, params, noise) if "measurement" in noise else None
    return traj, draws, measured


def _run_task(task: dict[str, Any]) -> tuple[Any, dict[str, np.ndarray], np.ndarray | None]:
    return run_columns(**task)


def _map(
    tasks: list[dict[str, Any]],
    executor: Executor | None,
    progress: bool,
    desc: str,
    worker: Any = _run_task,
) -> list:
    """Run ``worker(task)`` for each task in order (in-process or on ``executor``)."""
    from tqdm.auto import tqdm

    # disable=None: a terminal or a notebook shows the bar, a log or a pipe gets none
    off = True if not progress or len(tasks) < 2 else None
    bar = tqdm(total=len(tasks), desc=desc, disable=off, leave=False)
    try:
        if executor is None:
            out = []
            for task in tasks:
                out.append(worker(task))
                bar.update()
            return out
        futures = [executor.submit(worker, task) for task in tasks]
        out = []
        for fut in futures:
            out.append(fut.result())
            bar.update()
        return out
    finally:
        bar.close()
