"""Parameter sweeps over the process model, with the data shapes of the EMA Workbench.

:func:`sample` designs the experiments (Latin hypercube, Sobol, full factorial or
Saltelli) as a DataFrame, one row per experiment and one column per parameter;
:func:`evaluate` runs them all as columns of one vectorised model run
(:func:`~circman_kernel.simulation.scenarios.run_columns_kpis`) and returns the outcomes
as a dict of arrays aligned on its index, optionally saved as one ``"sweep"`` run. The
sensitivity ranking of the outcomes is :func:`~circman_kernel.simulation.sensitivity.analyse`.

>>> exp = sample({"cycle_time": (20.0, 40.0), "target_temperature": (20.0, 30.0)}, 8, seed=1)
>>> out = evaluate(exp, steps=24, seed=1)
>>> sorted(out)[:3], out["output_modules"].shape
(['carbon_kg', 'defect_rate', 'energy_kwh'], (8,))
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.core.errors import ParameterError
from circman_kernel.simulation import process as pm
from circman_kernel.simulation.chunks import as_seed_sequence
from circman_kernel.simulation.engine import SimulationEngine
from circman_kernel.simulation.scenarios import run_columns_kpis

__all__ = ["evaluate", "sample"]


def _space(space: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    if not isinstance(space, Mapping) or not space:
        raise ParameterError("space must be a non-empty mapping name -> (low, high)", name="space")
    out = {}
    for name, bounds in space.items():
        if name not in pm.PARAMETERS:
            raise ParameterError(
                f"unknown parameter {name!r}; valid names: {', '.join(sorted(pm.PARAMETERS))}",
                name=name,
            )
        try:
            lo, hi = (float(b) for b in bounds)
        except (TypeError, ValueError):
            raise ParameterError(
                f"{name}: expected (low, high), got {bounds!r}", name=name
            ) from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ParameterError(f"{name}: need finite low <= high, got {bounds!r}", name=name)
        pm.validate_parameters({name: np.array([lo, hi])})
        out[name] = (lo, hi)
    return out


def sample(
    space: Mapping[str, Any],
    n: int,
    *,
    method: str = "lhs",
    seed: Any = None,
) -> pd.DataFrame:
    """Return experiments: one row per point of the parameter ``space``, one column per name.

    Parameters
    ----------
    space : mapping
        ``name -> (low, high)`` over :data:`circman_kernel.simulation.process.PARAMETERS`.
    n : int
        Points for ``"lhs"`` / ``"sobol"`` (``scipy.stats.qmc``; Sobol wants a power of 2),
        levels per parameter for ``"full_factorial"`` (``n ** len(space)`` rows), base
        samples for ``"saltelli"`` (SALib's Sobol-index design, ``n * (2 d + 2)`` rows).
    method : {"lhs", "sobol", "full_factorial", "saltelli"}
    seed : int, Generator or None

    The frame's ``attrs`` keep ``method``, ``space`` and ``seed`` for
    :func:`~circman_kernel.simulation.sensitivity.analyse`.
    """
    bounds = _space(space)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ParameterError(f"n must be an int >= 1, got {n!r}", name="n", value=n)
    names = list(bounds)
    lo = np.array([bounds[k][0] for k in names])
    hi = np.array([bounds[k][1] for k in names])
    ss = as_seed_sequence(seed)
    seed_int = int(ss.generate_state(1, np.uint32)[0])
    if method in ("lhs", "sobol"):
        from scipy.stats import qmc

        rng = np.random.default_rng(ss)
        engine = (
            qmc.LatinHypercube(d=len(names), rng=rng)
            if method == "lhs"
            else qmc.Sobol(d=len(names), rng=rng)
        )
        unit = engine.random(n)
        values = qmc.scale(unit, lo, hi) if np.all(hi > lo) else lo + unit * (hi - lo)
    elif method == "full_factorial":
        levels = [np.linspace(a, b, n) for a, b in zip(lo, hi, strict=True)]
        values = np.array(list(itertools.product(*levels)), dtype=float)
    elif method == "saltelli":
        from SALib.sample import sobol as salib_sobol

        problem = {
            "num_vars": len(names),
            "names": names,
            "bounds": [list(b) for b in bounds.values()],
        }
        values = salib_sobol.sample(problem, n, calc_second_order=False, seed=seed_int)
    else:
        raise ParameterError(
            f"method must be lhs, sobol, full_factorial or saltelli, got {method!r}",
            name="method",
            value=method,
        )
    frame = pd.DataFrame(values, columns=names)
    frame.index.name = "experiment"
    frame.attrs.update(method=method, space=bounds, seed=seed_int)
    return frame


def evaluate(
    experiments: pd.DataFrame,
    *,
    config: Any = None,
    steps: int = 200,
    initial_state: Mapping[str, Any] | None = None,
    seed: Any = None,
    executor: Executor | None = None,
    chunk_size: int = 4096,
    progress: bool = False,
    store: Any = None,
    name: str | None = None,
) -> dict[str, np.ndarray]:
    """Return the outcomes of every experiment: KPI name -> array aligned on the index.

    All experiments are columns of one vectorised model run (chunks of ``chunk_size``
    columns on ``executor`` when given; same outcomes for the same ``seed`` whatever the
    executor). With ``store``, the sweep is saved as one run of kind ``"sweep"`` whose
    KPIs are the outcome means and whose trajectories hold one row per experiment and
    outcome (``iteration`` = experiment, ``step`` = ``steps``).
    """
    if not isinstance(experiments, pd.DataFrame) or experiments.empty:
        raise ParameterError("experiments must be a non-empty DataFrame", name="experiments")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ParameterError(f"steps must be an int >= 0, got {steps!r}", name="steps", value=steps)
    start = time.perf_counter()
    engine = config if isinstance(config, SimulationEngine) else SimulationEngine(config)
    ss = as_seed_sequence(seed)
    outcomes = run_columns_kpis(
        engine, experiments, steps=steps, initial_state=initial_state, seed=ss,
        executor=executor, chunk_size=chunk_size, progress=progress,
    )  # fmt: skip
    if store is not None:
        n = len(experiments)
        keys = list(outcomes)
        long = pd.DataFrame(
            {
                "iteration": np.repeat(np.arange(n, dtype=np.int64), len(keys)),
                "step": np.full(n * len(keys), steps, dtype=np.int64),
                "variable": pd.array(np.tile(np.array(keys, dtype=object), n), dtype="str"),
                "value": np.column_stack([outcomes[k] for k in keys]).reshape(-1),
            }
        )
        store.save_run(
            "sweep",
            name=name,
            parameters={"steps": steps, "experiments": experiments.reset_index(drop=True).to_dict("list"),
                        "method": experiments.attrs.get("method")},
            seed=int(ss.entropy) if isinstance(ss.entropy, int) and ss.entropy < 2**63 else None,
            config_hash=engine.config.config_hash,
            duration_s=time.perf_counter() - start,
            kpis={k: float(np.nanmean(v)) for k, v in outcomes.items()},
            trajectories=long,
        )  # fmt: skip
    return outcomes
