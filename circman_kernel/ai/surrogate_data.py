"""Batch outcomes from the physics process model: training data and the honesty check.

A *batch* is ``MODEL.horizon_steps`` steps of :func:`circman_kernel.simulation.recurrences.simulate`
from a start state. Its outcomes are the line variables averaged over those steps, in
the twin's units (see :data:`circman_kernel.ai.model.TARGETS`). The inputs are
:data:`FEATURES`: three process inputs the operator sets (the decision variables) and
three twin-state values at the start of the batch (the context), named as in the twin.

Everything is vectorised: one :func:`~circman_kernel.simulation.recurrences.simulate` call evaluates
all rows (and all Monte Carlo repetitions) at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.core.errors import ParameterError
from circman_kernel.simulation import process, recurrences

__all__ = [
    "CONTEXT_FEATURES",
    "DECISION_VARIABLES",
    "FEATURES",
    "simulate_outcomes",
    "synthetic_history",
]

#: name -> (low, high, unit, meaning): the ranges the synthetic history samples.
FEATURES: dict[str, tuple[float, float, str, str]] = {
    "target_temperature": (16.0, 30.0, "degC", "temperature set point (process input)"),
    "temperature_regulation": (
        0.05,
        0.5,
        "1/step",
        "fraction of the set-point gap closed per step",
    ),
    "cycle_time": (20.0, 60.0, "s/module", "cycle time (process input)"),
    "temperature": (15.0, 32.0, "degC", "line temperature at the start (twin state)"),
    "energy_consumption": (60.0, 180.0, "kW", "line power draw at the start (twin state)"),
    "production_rate": (0.0, 12.0, "modules/h", "production rate at the start (twin state)"),
}
DECISION_VARIABLES: tuple[str, ...] = ("target_temperature", "temperature_regulation", "cycle_time")
CONTEXT_FEATURES: tuple[str, ...] = ("temperature", "energy_consumption", "production_rate")


def _start_state(initial_state: Mapping[str, Any] | None, config: Any) -> dict[str, Any]:
    from circman_kernel.core.state_schema import default_state

    return dict(default_state(config) if initial_state is None else initial_state)


def _x0(frame: pd.DataFrame, start: Mapping[str, Any], n: int) -> np.ndarray:
    """Start vectors: the engine's reading of the state, context features per row."""
    from circman_kernel.simulation.results import state_to_vector

    x = state_to_vector(start, start)
    x0 = np.repeat(x[:, None], n, axis=1)
    for name, row in (
        ("temperature", process.TEMPERATURE),
        ("energy_consumption", process.POWER),
        ("production_rate", process.RATE),
    ):
        if name in frame:
            x0[row] = frame[name].to_numpy(dtype=float)
    x0[process.ATTAINABLE] = x0[process.RATE]
    return x0


def simulate_outcomes(
    parameters: pd.DataFrame | Mapping[str, Any],
    *,
    seed: int | np.random.Generator | None = 0,
    iterations: int = 1,
    horizon_steps: int | None = None,
    initial_state: Mapping[str, Any] | None = None,
    config: Any = None,
) -> pd.DataFrame:
    """Return the simulated batch outcomes of each parameter row, averaged over steps.

    Parameters
    ----------
    parameters
        Rows of :data:`FEATURES` values and/or any :data:`circman_kernel.simulation.process.PARAMETERS`;
        a context feature left out is read from ``initial_state``, a process parameter
        left out comes from the configuration.
    seed
        Seed or generator of the process noise. Row ``i`` of repetition ``r`` uses the
        same noise draw for every parameter row (common random numbers), so that
        differences between rows are not noise.
    iterations
        Monte Carlo repetitions per row.
    horizon_steps
        Steps per batch; default ``MODEL.horizon_steps``.
    initial_state
        Twin state to start from (default :func:`circman_kernel.core.state_schema.default_state`).

    Returns
    -------
    DataFrame
        ``row``, ``iteration`` and the outcomes ``output_amount`` [modules/h],
        ``energy_used`` [kW], ``efficiency``, ``defect_rate`` [0..1], plus
        ``energy_kwh``, ``output_modules``, ``silicon_wafer_kg`` and ``solar_glass_kg``
        for the batch; ``iterations * len(parameters)`` rows.
    """
    from circman_kernel.core.config import load_config

    cfg = config if config is not None else load_config()
    frame = pd.DataFrame([dict(parameters)]) if isinstance(parameters, Mapping) else parameters
    if iterations < 1:
        raise ParameterError(f"iterations must be >= 1, got {iterations}", name="iterations")
    steps = int(horizon_steps or cfg.optimization.MODEL.horizon_steps)
    rows = len(frame)
    n = rows * iterations
    frame = frame.reset_index(drop=True)
    tiled = frame.iloc[np.tile(np.arange(rows), iterations)].reset_index(drop=True)
    params: dict[str, Any] = process.default_parameters(cfg)
    given = {c: tiled[c].to_numpy(dtype=float) for c in tiled.columns if c in process.PARAMETERS}
    unknown = [c for c in tiled.columns if c not in process.PARAMETERS and c not in FEATURES]
    if unknown:
        raise ParameterError(
            f"unknown parameter {unknown[0]!r}; valid: "
            f"{', '.join(sorted({*FEATURES, *process.PARAMETERS}))}",
            name=unknown[0],
        )
    params.update(process.validate_parameters(given))
    x0 = _x0(tiled, _start_state(initial_state, cfg), n)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    # One draw per (step, iteration), shared by every row: common random numbers. The
    # noise levels are the configuration's (per-row noise levels would break the sharing).
    base = recurrences.draw_noise(rng, steps, iterations, process.default_parameters(cfg))
    noise = {k: np.repeat(v, rows, axis=-1) for k, v in base.items()}
    traj = recurrences.simulate(x0, params, steps, noise)
    body = traj[1:]
    dt = float(np.mean(params["step_duration"]))
    out = pd.DataFrame(
        {
            "row": np.tile(np.arange(rows), iterations),
            "iteration": np.repeat(np.arange(iterations), rows),
            "output_amount": body[:, process.RATE].mean(axis=0),
            "energy_used": body[:, process.POWER].mean(axis=0),
            "efficiency": body[:, process.EFFICIENCY].mean(axis=0),
            "defect_rate": _defect_share(body),
            "energy_kwh": traj[-1, process.ENERGY] - traj[0, process.ENERGY],
            "output_modules": traj[-1, process.OUTPUT] - traj[0, process.OUTPUT],
            "silicon_wafer_kg": body[:, process.SI_USE].sum(axis=0),
            "solar_glass_kg": body[:, process.GLASS_USE].sum(axis=0),
        }
    )
    out.attrs["horizon_steps"] = steps
    out.attrs["step_duration_h"] = dt
    return out


def _defect_share(body: np.ndarray) -> np.ndarray:
    """Defective share of the output; the mean defect rate where nothing was produced."""
    produced = body[:, process.RATE].sum(axis=0)
    weighted = (body[:, process.RATE] * body[:, process.DEFECT]).sum(axis=0)
    mean = body[:, process.DEFECT].mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(produced > 0, weighted / np.where(produced > 0, produced, 1.0), mean)


def synthetic_history(
    n: int,
    seed: int | np.random.Generator | None = 0,
    *,
    config: Any = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    initial_state: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return a production history of ``n`` batches simulated by the process model.

    Inputs are a Latin hypercube over :data:`FEATURES` (``ranges`` narrows or widens
    any of them); each batch gets its own process noise.

    Returns
    -------
    production_data, quality_data : DataFrame
        ``batch_id``, the feature columns, ``output_amount`` [modules/h] and
        ``energy_used`` [kW]; and ``batch_id``, ``efficiency``, ``defect_rate`` [0..1].
        Pass both to :meth:`ManufacturingModel.train_optimization_model`.
    """
    from scipy.stats import qmc

    if not isinstance(n, int | np.integer) or n < 1:
        raise ParameterError(f"n must be a positive number of batches, got {n!r}", name="n")
    bounds = {k: (lo, hi) for k, (lo, hi, _u, _m) in FEATURES.items()}
    for key, value in (ranges or {}).items():
        if key not in bounds:
            raise ParameterError(
                f"unknown feature {key!r}; features: {', '.join(FEATURES)}", name=key
            )
        lo, hi = value
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
            raise ParameterError(
                f"range of {key!r} must be finite with low <= high, got {value!r}",
                name=key,
                value=value,
            )
        bounds[key] = (float(lo), float(hi))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    names = list(bounds)
    lo = np.array([bounds[k][0] for k in names])
    hi = np.array([bounds[k][1] for k in names])
    unit = qmc.LatinHypercube(d=len(names), rng=rng).random(int(n))
    frame = pd.DataFrame(lo + unit * (hi - lo), columns=names)
    outcomes = _simulate_each(frame, rng, config, initial_state)
    batch = [f"S-{i:06d}" for i in range(int(n))]
    production = frame.assign(
        output_amount=outcomes["output_amount"].to_numpy(),
        energy_used=outcomes["energy_used"].to_numpy(),
    )
    production.insert(0, "batch_id", batch)
    quality = pd.DataFrame(
        {
            "batch_id": batch,
            "efficiency": outcomes["efficiency"].to_numpy(),
            "defect_rate": outcomes["defect_rate"].to_numpy(),
        }
    )
    return production, quality


def _simulate_each(
    frame: pd.DataFrame,
    rng: np.random.Generator,
    config: Any,
    initial_state: Mapping[str, Any] | None,
) -> pd.DataFrame:
    """Simulate each row with its own noise (a history, not common random numbers)."""
    from circman_kernel.core.config import load_config

    cfg = config if config is not None else load_config()
    steps = cfg.optimization.MODEL.horizon_steps
    n = len(frame)
    params: dict[str, Any] = process.default_parameters(cfg)
    params.update(
        {c: frame[c].to_numpy(dtype=float) for c in frame.columns if c in process.PARAMETERS}
    )
    params = {
        **params,
        **process.validate_parameters({k: v for k, v in params.items() if k in frame.columns}),
    }
    x0 = _x0(frame, _start_state(initial_state, cfg), n)
    noise = recurrences.draw_noise(rng, steps, n, params)
    traj = recurrences.simulate(x0, params, steps, noise)
    body = traj[1:]
    return pd.DataFrame(
        {
            "output_amount": body[:, process.RATE].mean(axis=0),
            "energy_used": body[:, process.POWER].mean(axis=0),
            "efficiency": body[:, process.EFFICIENCY].mean(axis=0),
            "defect_rate": _defect_share(body),
        }
    )
