"""Experiments crossing scenario x policy, evaluated as columns of one vectorised run.

:func:`run_ensemble` evaluates ``n_p`` policies (lever settings) in each of ``n_s``
scenarios (uncertainty draws) and returns every KPI as an ``(n_p, n_s)`` array. All
``n_p * n_s`` pairs are columns of one call of
:func:`~circman_kernel.simulation.recurrences.simulate` (policies in chunks of at most
``max_columns`` columns): there is no Python loop over scenarios or experiments. The
process noise is drawn once per scenario and shared by every policy in it (common random
numbers), so two policies compared in one scenario differ by their levers, not by luck.
The manufacturing carbon ``carbon_kg`` [kg CO2-eq] is computed per column with the
scenario's impact factors (:data:`~circman_kernel.simulation.levers.IMPACT_INPUTS`).

:func:`perform_experiments` is the EMA Workbench's entry point on these shapes: levers and
uncertainties in, ``(experiments, outcomes)`` out (a DataFrame and a dict of arrays aligned
on its rows), optionally stored as one run of kind ``"sweep"`` tagged ``experiments``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.core.errors import ParameterError
from circman_kernel.simulation import process as pm
from circman_kernel.simulation.chunks import as_seed_sequence
from circman_kernel.simulation.engine import SimulationEngine
from circman_kernel.simulation.levers import (
    GRID_REGION,
    IMPACT_INPUTS,
    Lever,
    Uncertainty,
    cross,
    sample_policies,
    sample_scenarios,
)
from circman_kernel.simulation.recurrences import draw_noise, simulate
from circman_kernel.simulation.results import trajectory_kpis

__all__ = ["nominal_scenario", "outcome_frame", "perform_experiments", "run_ensemble"]


def _engine(config: Any) -> SimulationEngine:
    return config if isinstance(config, SimulationEngine) else SimulationEngine(config)


def _impact_defaults(engine: SimulationEngine) -> dict[str, float]:
    factors = engine.config.impact_factors
    out = {"energy_impact_factor": float(factors.ENERGY_IMPACT_FACTOR)}
    for name, (material, _) in IMPACT_INPUTS.items():
        if material != "energy":
            out[name] = float(factors.MATERIAL_IMPACT_FACTORS.get(material, 0.0))
    return out


def _numeric(frame: pd.DataFrame, name: str) -> np.ndarray:
    try:
        return np.asarray(frame[name], dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"input {name!r} must be numeric", name=name) from None


def _factor_columns(
    engine: SimulationEngine, policies: pd.DataFrame, scenarios: pd.DataFrame
) -> dict[str, np.ndarray]:
    """Return each impact factor as an ``(n_p, n_s)`` array (configured where not an input)."""
    n_p, n_s = len(policies), len(scenarios)
    out = {k: np.full((n_p, n_s), v) for k, v in _impact_defaults(engine).items()}
    for frame, shape in ((policies, (n_p, 1)), (scenarios, (1, n_s))):
        if GRID_REGION in frame:
            grid = engine.config.impact_factors.GRID_CARBON_INTENSITIES
            unknown = sorted({str(r) for r in frame[GRID_REGION]} - set(grid))
            if unknown:
                raise ParameterError(
                    f"unknown grid_region {unknown}; configured: {', '.join(grid)}",
                    name=GRID_REGION,
                )
            values = np.array([grid[str(r)] for r in frame[GRID_REGION]], dtype=float)
            out["energy_impact_factor"] = np.broadcast_to(values.reshape(shape), (n_p, n_s)).copy()
        for name in IMPACT_INPUTS:
            if name in frame:
                values = _numeric(frame, name)
                if np.any(values < 0) or not np.all(np.isfinite(values)):
                    raise ParameterError(f"{name} must be finite and >= 0", name=name)
                out[name] = np.broadcast_to(values.reshape(shape), (n_p, n_s)).copy()
    return out


def _process_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    cols = {c: _numeric(frame, c) for c in frame.columns if c in pm.PARAMETERS}
    pm.validate_parameters(cols)
    return cols


def run_ensemble(
    policies: pd.DataFrame,
    scenarios: pd.DataFrame,
    *,
    config: Any = None,
    steps: int = 200,
    seed: Any = 0,
    initial_state: Mapping[str, Any] | None = None,
    max_columns: int = 8192,
) -> dict[str, np.ndarray]:
    """Return every KPI of every policy in every scenario, each an ``(n_p, n_s)`` array.

    Parameters
    ----------
    policies : DataFrame
        One row per policy, lever columns (process parameters; ``n_p`` rows). A frame with
        no columns and one row is the configured line.
    scenarios : DataFrame
        One row per scenario, uncertainty columns (process parameters, impact factors,
        ``grid_region``; ``n_s`` rows).
    config : Config or SimulationEngine, optional
    steps : int
        Steps per run [steps of ``step_duration`` h].
    seed : int, SeedSequence or None
        Seed of the process noise; scenario ``j`` sees the same noise for every policy.
    initial_state : mapping, optional
        Twin state every run starts from (default: the configured one).
    max_columns : int
        Columns per model call (policies are chunked so that one call stays below it).

    Returns
    -------
    dict
        The KPIs of :func:`~circman_kernel.simulation.results.trajectory_kpis` plus
        ``carbon_kg`` [kg CO2-eq].
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ParameterError(f"steps must be an int >= 1, got {steps!r}", name="steps", value=steps)
    n_p, n_s = len(policies), len(scenarios)
    if n_p < 1 or n_s < 1:
        raise ParameterError("need at least one policy and one scenario", name="scenarios")
    shared = set(policies.columns) & set(scenarios.columns)
    if shared:
        raise ParameterError(
            f"input both a lever and an uncertainty: {sorted(shared)}", name="inputs"
        )
    engine = _engine(config)
    _, x0, base = engine.resolve(initial_state, None)
    base.pop("status", None)
    lever_cols = _process_columns(policies)
    noisy = sorted(set(lever_cols) & {"temperature_noise", "energy_noise", "measurement_noise",
                                       "start_probability", "stop_probability"})  # fmt: skip
    if noisy:
        raise ParameterError(f"{noisy} shape the noise: make them uncertainties", name=noisy[0])
    scen_cols = _process_columns(scenarios)
    pm.validate_parameters({**base, **scen_cols})
    rng = np.random.default_rng(as_seed_sequence(seed))
    noise = draw_noise(rng, steps, n_s, {**base, **scen_cols})
    per_call = max(1, int(max_columns) // n_s)
    parts: list[dict[str, np.ndarray]] = []
    for lo in range(0, n_p, per_call):
        hi = min(lo + per_call, n_p)
        m = hi - lo
        params: dict[str, Any] = dict(base)
        params.update({k: np.tile(v, m) for k, v in scen_cols.items()})
        params.update({k: np.repeat(v[lo:hi], n_s) for k, v in lever_cols.items()})
        pm.validate_parameters(params)
        tiled = {k: np.tile(v, (1,) * (v.ndim - 1) + (m,)) for k, v in noise.items()}
        x = np.repeat(x0[:, None], m * n_s, axis=1)
        parts.append(trajectory_kpis(simulate(x, params, steps, tiled)))
    kpis = {k: np.concatenate([p[k] for p in parts]).reshape(n_p, n_s) for k in parts[0]}
    f = _factor_columns(engine, policies, scenarios)
    kpis["carbon_kg"] = (
        f["energy_impact_factor"] * kpis["energy_kwh"]
        + f["silicon_wafer_impact_factor"] * kpis["silicon_wafer_kg"]
        + f["solar_glass_impact_factor"] * kpis["solar_glass_kg"]
    )
    return kpis


def nominal_scenario(uncertainties: Sequence[Uncertainty], config: Any = None) -> pd.DataFrame:
    """Return the one-row scenario of every uncertainty at its nominal value.

    The nominal value is the uncertainty's ``nominal``, else the configured value (process
    parameter or impact factor), else its median (first category).
    """
    engine = _engine(config)
    defaults = {**engine.default_parameters(), **_impact_defaults(engine)}
    row = {u.name: u.nominal_value(defaults) for u in uncertainties}
    frame = pd.DataFrame([row])
    for u in uncertainties:
        if u.categorical and not isinstance(row[u.name], int | float):
            frame[u.name] = pd.Categorical([row[u.name]], categories=list(u.categories or ()))
    frame.index.name = "scenario"
    return frame


def outcome_frame(outcomes: Mapping[str, np.ndarray], step: int) -> pd.DataFrame:
    """Return outcomes as the store's long frame: one row per experiment and outcome."""
    keys = list(outcomes)
    n = len(np.asarray(outcomes[keys[0]]).reshape(-1))
    return pd.DataFrame(
        {
            "iteration": np.repeat(np.arange(n, dtype=np.int64), len(keys)),
            "step": np.full(n * len(keys), step, dtype=np.int64),
            "variable": pd.array(np.tile(np.array(keys, dtype=object), n), dtype="str"),
            "value": np.column_stack([np.asarray(outcomes[k], float).reshape(-1) for k in keys])
            .reshape(-1),
        }
    )  # fmt: skip


def _frame(inputs: Any, n: int | None, seed: Any, kind: str) -> pd.DataFrame:
    if isinstance(inputs, pd.DataFrame):
        return inputs
    items = list(inputs or ())
    if not items:
        return pd.DataFrame(index=pd.RangeIndex(1, name=kind))
    if n is None:
        raise ParameterError(f"give the number of {kind} draws", name=f"n_{kind}")
    sampler = sample_policies if kind == "policy" else sample_scenarios
    return sampler(items, n, seed=seed)


def perform_experiments(
    levers: Sequence[Lever] | pd.DataFrame | None,
    uncertainties: Sequence[Uncertainty] | pd.DataFrame,
    *,
    n_policies: int | None = None,
    n_scenarios: int | None = None,
    config: Any = None,
    steps: int = 200,
    seed: Any = 0,
    initial_state: Mapping[str, Any] | None = None,
    store: Any = None,
    name: str | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Return ``(experiments, outcomes)``: every policy crossed with every scenario.

    ``levers`` / ``uncertainties`` are lists (sampled by Latin hypercube into
    ``n_policies`` / ``n_scenarios`` rows, seeds spawned from ``seed``) or ready frames;
    ``levers=None`` runs the configured policy. Experiments are policy-major (see
    :func:`~circman_kernel.simulation.levers.cross`); outcomes are 1-d arrays aligned on
    them. With ``store``, saved as one run of kind ``"sweep"`` tagged ``experiments``.
    """
    start = time.perf_counter()
    ss = as_seed_sequence(seed)
    s_policy, s_scen, s_noise = ss.spawn(3)
    policies = _frame(levers, n_policies, s_policy, "policy")
    scenarios = _frame(uncertainties, n_scenarios, s_scen, "scenario")
    engine = _engine(config)
    kpis = run_ensemble(policies, scenarios, config=engine, steps=steps, seed=s_noise,
                        initial_state=initial_state)  # fmt: skip
    experiments = cross(policies.reset_index(drop=True), scenarios.reset_index(drop=True))
    outcomes = {k: v.reshape(-1) for k, v in kpis.items()}
    if store is not None:
        shown = experiments.astype({c: "str" for c in experiments.columns
                                    if not pd.api.types.is_numeric_dtype(experiments[c])})  # fmt: skip
        store.save_run(
            "sweep",
            name=name,
            tags=("experiments",),
            parameters={"steps": steps, "levers": list(policies.columns),
                        "uncertainties": list(scenarios.columns),
                        "experiments": shown.to_dict("list")},
            seed=int(ss.entropy) if isinstance(ss.entropy, int) and ss.entropy < 2**63 else None,
            config_hash=engine.config.config_hash,
            duration_s=time.perf_counter() - start,
            kpis={k: float(np.nanmean(v)) for k, v in outcomes.items()},
            trajectories=outcome_frame(outcomes, steps),
        )  # fmt: skip
    return experiments, outcomes
