"""Simulation engine: single runs and Monte Carlo runs of the process model, as DataFrames.

:class:`SimulationEngine` maps a twin state (``circman_kernel.twin.state``) to the state array
of :mod:`circman_kernel.simulation.process`, runs the vectorised model and maps the result back.
Monte Carlo iterations are columns of one model run; large runs are cut into chunks
of ``chunk_size`` columns, each with its own seed from ``numpy.random.SeedSequence.spawn``,
so that the result is the same whether the chunks run in-process or on any
``concurrent.futures.Executor`` (a process pool, a Dask ``Client.get_executor()``).

Results hold the true state :math:`x_t` of the model: the states, the trajectories, the
KPIs (energy, ``final_power_kw``) all come from it. With
``SIMULATION_PARAMETERS.measurement_noise`` > 0, the sensor readings
:math:`y_t = g(x_t, v_t)` (temperature, power draw, production rate; cut to their
physical ranges) are kept beside it as ``measurements``, and
:meth:`SimulationResult.observed` gives a state as the sensors would report it.

>>> engine = SimulationEngine()
>>> res = engine.run_simulation(steps=3, seed=1)
>>> len(res), res[0]["production_line"]["status"]
(4, 'running')
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.core.errors import ParameterError, StateValidationError
from circman_kernel.simulation import process as pm

__all__ = [
    "KPI_NAMES",
    "UNCERTAIN_PARAMETERS",
    "MonteCarloResult",
    "SimulationEngine",
    "SimulationResult",
    "as_seed_sequence",
    "trajectory_kpis",
]

log = logging.getLogger("circman.simulation")

#: Parameters spread by ``uncertainty`` in every Monte Carlo run (plus those passed).
UNCERTAIN_PARAMETERS = (
    "energy_consumption_increment",
    "production_rate_increment",
    "silicon_wafer_consumption_rate",
    "solar_glass_consumption_rate",
    "nominal_production_rate",
    "base_efficiency",
    "base_defect_rate",
)
_STATUSES = ("running", "idle")
KPI_NAMES = (
    "output_modules",
    "good_modules",
    "energy_kwh",
    "energy_per_module_kwh",
    "defect_rate",
    "mean_efficiency",
    "mean_temperature",
    "silicon_wafer_kg",
    "solar_glass_kg",
    "final_power_kw",
)


# --------------------------------------------------------------------------- helpers


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


def _check_steps(steps: Any, default: int) -> int:
    if steps is None:
        return default
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer):
        raise ParameterError(f"steps must be an int >= 0, got {steps!r}", name="steps", value=steps)
    if steps < 0:
        raise ParameterError(f"steps must be >= 0, got {steps}", name="steps", value=steps)
    return int(steps)


def trajectory_kpis(traj: np.ndarray) -> dict[str, np.ndarray]:
    """Return the headline KPIs of trajectories ``(steps + 1, n_vars, n)``, one value per column.

    ``output_modules`` [modules], ``good_modules``, ``energy_kwh`` [kWh],
    ``energy_per_module_kwh`` [kWh/module] (NaN without output), ``defect_rate`` [-]
    (defective / output, NaN without output), ``mean_efficiency`` [-] and
    ``mean_temperature`` [degC] over steps 1..S, material use ``silicon_wafer_kg`` and
    ``solar_glass_kg`` [kg], ``final_power_kw`` [kW].
    """
    first, last = traj[0], traj[-1]
    output = last[pm.OUTPUT] - first[pm.OUTPUT]
    defective = last[pm.DEFECTIVE] - first[pm.DEFECTIVE]
    energy = last[pm.ENERGY] - first[pm.ENERGY]
    body = traj[1:] if traj.shape[0] > 1 else traj
    with np.errstate(divide="ignore", invalid="ignore"):
        per_module = np.where(output > 0, energy / output, np.nan)
        defect = np.where(output > 0, defective / output, np.nan)
    return {
        "output_modules": output,
        "good_modules": output - defective,
        "energy_kwh": energy,
        "energy_per_module_kwh": per_module,
        "defect_rate": defect,
        "mean_efficiency": body[:, pm.EFFICIENCY].mean(axis=0),
        "mean_temperature": body[:, pm.TEMPERATURE].mean(axis=0),
        "silicon_wafer_kg": traj[1:, pm.SI_USE].sum(axis=0),
        "solar_glass_kg": traj[1:, pm.GLASS_USE].sum(axis=0),
        "final_power_kw": last[pm.POWER].copy(),
    }


def _long_frame(traj: np.ndarray, iteration_offset: int = 0) -> pd.DataFrame:
    """Return ``(steps + 1, n_vars, n)`` as a long frame: iteration, step, variable, value."""
    steps1, nv, n = traj.shape
    values = np.ascontiguousarray(traj.transpose(2, 0, 1)).reshape(-1)
    names = np.array(pm.VARIABLES, dtype=object)
    return pd.DataFrame(
        {
            "iteration": np.repeat(np.arange(n, dtype=np.int64) + iteration_offset, steps1 * nv),
            "step": np.tile(np.repeat(np.arange(steps1, dtype=np.int64), nv), n),
            "variable": pd.array(np.tile(names, steps1 * n), dtype="str"),
            "value": values,
        }
    )


# --------------------------------------------------------------------------- state mapping


def _number(state: Mapping[str, Any], path: str, default: float, lo: float = -math.inf) -> float:
    node: Any = state
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise StateValidationError(
            f"{path}: expected a number, got {node!r}", path=path, value=node
        )
    if not math.isfinite(node) or node < lo:
        raise StateValidationError(
            f"{path}: expected a finite number >= {lo}, got {node!r}", path=path, value=node
        )
    return float(node)


def state_to_vector(state: Mapping[str, Any], defaults: Mapping[str, Any]) -> np.ndarray:
    """Return the process state vector ``(n_vars,)`` of a twin state (missing keys: ``defaults``)."""
    x = np.zeros(pm.N_VARS)
    line = "production_line."
    for var, key, lo in (
        (pm.TEMPERATURE, "temperature", -100.0),
        (pm.POWER, "energy_consumption", 0.0),
        (pm.RATE, "production_rate", 0.0),
        (pm.EFFICIENCY, "efficiency", 0.0),
        (pm.DEFECT, "defect_rate", 0.0),
    ):
        x[var] = _number(state, line + key, _number(defaults, line + key, 0.0), lo)
    x[pm.ATTAINABLE] = x[pm.RATE]
    status = state.get("production_line", {}).get("status", "running")
    x[pm.RUNNING] = 1.0 if status == "running" else 0.0
    for material, inv, qual in (
        ("silicon_wafer", pm.SI_INVENTORY, pm.SI_QUALITY),
        ("solar_glass", pm.GLASS_INVENTORY, pm.GLASS_QUALITY),
    ):
        base = f"materials.{material}."
        x[inv] = _number(state, base + "inventory", _number(defaults, base + "inventory", 0.0), 0.0)
        x[qual] = _number(state, base + "quality", _number(defaults, base + "quality", 1.0), 0.0)
        if x[qual] > 1.0:
            raise StateValidationError(
                f"{base}quality: expected [0, 1], got {x[qual]}",
                path=base + "quality",
                value=x[qual],
            )
    return x


def _check_time_span(state: Mapping[str, Any], steps: int, step_duration: float) -> None:
    """Raise ParameterError if the run's last timestamp is past the calendar's end."""
    stamp = state.get("timestamp")
    if not isinstance(stamp, str | datetime):
        return
    start = datetime.fromisoformat(stamp) if isinstance(stamp, str) else stamp
    try:
        start + timedelta(hours=steps * float(step_duration))
    except OverflowError:
        raise ParameterError(
            f"{steps} steps of {step_duration} h from {stamp} end after the year 9999; "
            "use fewer steps or a shorter step_duration",
            name="steps",
            value=steps,
        ) from None


def _default_state(config: Any) -> dict[str, Any]:
    from circman_kernel.core.state_schema import default_state

    return default_state(config)


# --------------------------------------------------------------------------- results


class SimulationResult(Sequence):
    """One simulated trajectory: a Sequence of ``steps + 1`` twin state dicts (initial first).

    States are built on access from the arrays (``trajectory``: ``(steps + 1, n_vars)``),
    so a 1,000-step run costs no dict copies until someone reads the states.

    Item 0 is the initial state as given. Every state holds the true state of the model,
    so it passes state validation and agrees with :meth:`kpis` (energy is the integral
    of the states' power draw, ``final_power_kw`` the last state's). The sensor view is
    ``measurements`` (``(steps + 1, 3)``, the :data:`~circman_kernel.simulation.process.MEASURED`
    variables, cut to their physical ranges; the true values without measurement noise)
    and :meth:`observed` (a state holding those readings).

    The model knows only running and not running: a step that runs shows ``"running"``;
    one that does not shows the initial status (e.g. ``"maintenance"``) until the line
    first runs, ``"idle"`` after that.
    """

    def __init__(
        self,
        trajectory: np.ndarray,
        initial_state: Mapping[str, Any],
        parameters: Mapping[str, Any],
        seed: int | None,
        run_id: str | None = None,
        measurements: np.ndarray | None = None,
    ) -> None:
        self.trajectory = trajectory
        self.initial_state = initial_state
        self.parameters = dict(parameters)
        self.seed = seed
        self.run_id = run_id
        self._measurements = measurements
        ran = trajectory[1:, pm.RUNNING] > 0.5
        # Steps before the first running one keep a non-running initial status.
        self._first_run = int(np.argmax(ran)) + 1 if ran.any() else len(trajectory)

    @property
    def measurements(self) -> np.ndarray:
        """Return the sensor readings ``(steps + 1, 3)``: temperature, power, rate."""
        if self._measurements is None:
            return self.trajectory[:, list(pm.MEASURED)].copy()
        return self._measurements

    def __len__(self) -> int:
        return self.trajectory.shape[0]

    def _status(self, i: int) -> str | None:
        if i == 0:
            return None  # keep the initial state's own status
        if self.trajectory[i, pm.RUNNING] > 0.5:
            return "running"
        initial = self.initial_state.get("production_line", {}).get("status")
        if i < self._first_run and isinstance(initial, str) and initial != "running":
            return initial
        return "idle"

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]
        return _vector_to_state(
            self.initial_state, self.trajectory[i], i, self.parameters, self._status(i)
        )

    def observed(self, index: int) -> dict[str, Any]:
        """Return state ``index`` as the sensors report it (measured temperature, power, rate)."""
        i = range(len(self))[index]
        state = self[i]
        if i:
            y = self.measurements[i]
            line = state["production_line"]
            for value, key in zip(
                y, ("temperature", "energy_consumption", "production_rate"), strict=True
            ):
                line[key] = float(value)
        return state

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[i] for i in range(len(self)))

    def to_frame(self, *, wide: bool = False) -> pd.DataFrame:
        """Return the run as a tidy frame (step, variable, value); ``wide``: step x variable."""
        if wide:
            frame = pd.DataFrame(self.trajectory, columns=list(pm.VARIABLES))
            frame.index.name = "step"
            return frame
        return _long_frame(self.trajectory[:, :, None]).drop(columns="iteration")

    def kpis(self) -> dict[str, float]:
        """Return the run's headline numbers (see :func:`trajectory_kpis`)."""
        return {k: float(v[0]) for k, v in trajectory_kpis(self.trajectory[:, :, None]).items()}

    def __repr__(self) -> str:
        return f"<SimulationResult {len(self) - 1} steps, seed={self.seed}, run_id={self.run_id}>"


def _vector_to_state(
    template: Mapping[str, Any],
    x: np.ndarray,
    step: int,
    parameters: Mapping[str, Any],
    status: str | None = None,
) -> dict[str, Any]:
    """Return ``template`` with the model values of ``x`` at ``step``.

    ``template`` passed :meth:`SimulationEngine.resolve`, so its timestamp (if any) is
    valid; step 0 keeps it as written, and ``status=None`` keeps the template's status.
    """
    from circman_kernel.core.state_schema import copy_state

    state = copy_state(dict(template))
    stamp = template.get("timestamp")
    if step and isinstance(stamp, str | datetime):
        when = (datetime.fromisoformat(stamp) if isinstance(stamp, str) else stamp) + timedelta(
            hours=step * float(parameters.get("step_duration", 1.0))
        )
        state["timestamp"] = when.isoformat() if isinstance(stamp, str) else when
    line = state.setdefault("production_line", {})
    if status is not None:
        line["status"] = status
    elif "status" not in line:
        line["status"] = "running" if x[pm.RUNNING] > 0.5 else "idle"
    line.update(
        temperature=float(x[pm.TEMPERATURE]),
        energy_consumption=float(x[pm.POWER]),
        production_rate=float(x[pm.RATE]),
        efficiency=float(x[pm.EFFICIENCY]),
        defect_rate=float(x[pm.DEFECT]),
    )
    materials = state.setdefault("materials", {})
    for name, inv, qual, use in (
        ("silicon_wafer", pm.SI_INVENTORY, pm.SI_QUALITY, pm.SI_USE),
        ("solar_glass", pm.GLASS_INVENTORY, pm.GLASS_QUALITY, pm.GLASS_USE),
    ):
        entry = materials.setdefault(name, {})
        entry.update(
            inventory=float(x[inv]),
            quality=float(x[qual]),
            consumption=float(x[use]) if step else entry.get("consumption", 0.0),
        )
    return state


class MonteCarloResult:
    """Trajectories of many iterations, ``trajectories``: ``(steps + 1, n_vars, iterations)``.

    ``parameter_draws`` holds each iteration's varied parameters (iteration x parameter).
    Trajectories and KPIs are the true state; ``measurements`` the sensor readings (see
    :class:`SimulationResult`).
    """

    def __init__(
        self,
        trajectories: np.ndarray,
        parameter_draws: pd.DataFrame,
        parameters: Mapping[str, Any],
        seed: int | None,
        uncertainty: float,
        run_id: str | None = None,
        measurements: np.ndarray | None = None,
    ) -> None:
        self.trajectories = trajectories
        self.parameter_draws = parameter_draws
        self.parameters = dict(parameters)
        self.seed = seed
        self.uncertainty = uncertainty
        self.run_id = run_id
        self._measurements = measurements

    @property
    def measurements(self) -> np.ndarray:
        """Return the sensor readings ``(steps + 1, 3, iterations)``: temperature, power, rate."""
        if self._measurements is None:
            return self.trajectories[:, list(pm.MEASURED)]
        return self._measurements

    @property
    def iterations(self) -> int:
        return self.trajectories.shape[2]

    @property
    def steps(self) -> int:
        return self.trajectories.shape[0] - 1

    def percentiles(self, q: Sequence[float] = (5.0, 50.0, 95.0)) -> pd.DataFrame:
        """Return per-step percentiles: columns step, variable, p5, p50, p95 (one per ``q``)."""
        values = np.percentile(self.trajectories, list(q), axis=2)  # (len(q), S+1, V)
        steps1, nv = values.shape[1:]
        frame = pd.DataFrame(
            {
                "step": np.repeat(np.arange(steps1, dtype=np.int64), nv),
                "variable": pd.array(
                    np.tile(np.array(pm.VARIABLES, dtype=object), steps1), dtype="str"
                ),
            }
        )
        for i, qq in enumerate(q):
            frame[f"p{qq:g}"] = values[i].reshape(-1)
        return frame

    @property
    def final(self) -> pd.DataFrame:
        """Return the end-of-run state of every iteration (iteration x variable)."""
        frame = pd.DataFrame(self.trajectories[-1].T, columns=list(pm.VARIABLES))
        frame.index.name = "iteration"
        return frame

    def kpis(self) -> pd.DataFrame:
        """Return the KPIs of every iteration (iteration x KPI)."""
        frame = pd.DataFrame(trajectory_kpis(self.trajectories))
        frame.index.name = "iteration"
        return frame

    def to_frame(self) -> pd.DataFrame:
        """Return all trajectories as a long frame: iteration, step, variable, value."""
        return _long_frame(self.trajectories)

    def __repr__(self) -> str:
        return (
            f"<MonteCarloResult {self.iterations} iterations x {self.steps} steps, "
            f"uncertainty={self.uncertainty}, seed={self.seed}, run_id={self.run_id}>"
        )


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

    The measurements (:func:`circman_kernel.simulation.process.observe`) are None without
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
    noise = pm.draw_noise(rng, steps, n, params)
    traj = pm.simulate(x0, params, steps, noise, running=running)
    if kpis_only:
        return trajectory_kpis(traj), draws, None
    measured = pm.observe(traj, params, noise) if "measurement" in noise else None
    return traj, draws, measured


def _run_task(task: dict[str, Any]) -> tuple[Any, dict[str, np.ndarray], np.ndarray | None]:
    return run_columns(**task)


# --------------------------------------------------------------------------- the engine


class SimulationEngine:
    """Runs the process model from a twin state; stores every run when given a store.

    Parameters
    ----------
    config : CircmanConfig, optional
        Default: :func:`circman_kernel.core.config.load_config`.
    store : RunStore, optional
        When given, every run is saved (kinds ``"simulation"`` and ``"monte_carlo"``).
    """

    def __init__(self, config: Any = None, *, store: Any = None) -> None:
        if config is None:
            from circman_kernel.core.config import load_config

            config = load_config()
        self.config = config
        self.store = store

    # ---------------------------------------------------------------- parameters

    def parameter_names(self) -> tuple[str, ...]:
        """Return the valid keys of ``parameters`` (model parameters and ``status``)."""
        return (*pm.PARAMETERS, "status")

    def default_parameters(self) -> dict[str, float]:
        """Return every model parameter's value from this engine's configuration."""
        return pm.default_parameters(self.config)

    def resolve(
        self, initial_state: Mapping[str, Any] | None, parameters: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], np.ndarray, dict[str, Any]]:
        """Return (initial state copy, state vector, validated parameters) of a run.

        Raises
        ------
        ParameterError
            Unknown names (listing the valid ones), non-finite or out-of-range values.
        StateValidationError
            A state value of the wrong type or out of range, or a ``timestamp`` that is
            not ISO 8601 (the message names the path and the value).
        """
        if parameters is not None and not isinstance(parameters, Mapping):
            raise ParameterError(
                f"parameters must be a mapping of name -> value, got {type(parameters).__name__}",
                name="parameters",
                value=parameters,
            )
        given = pm.validate_parameters(parameters or {}, extra=("status",))
        status = given.pop("status", None)
        if status is not None and status not in _STATUSES:
            raise ParameterError(
                f"parameter 'status' must be one of {', '.join(_STATUSES)}, got {status!r}",
                name="status",
                value=status,
            )
        defaults = _default_state(self.config)
        if initial_state is None:
            state = defaults
        elif isinstance(initial_state, Mapping):
            from circman_kernel.core.state_schema import copy_state

            state = copy_state(dict(initial_state))
        else:
            raise StateValidationError(
                f"initial_state must be a state dict, got {type(initial_state).__name__}",
                path="",
                value=initial_state,
            )
        x0 = state_to_vector(state, defaults)
        if "timestamp" in state:
            from circman_kernel.core.state_schema import parse_timestamp

            parse_timestamp(state["timestamp"])  # results advance it: it must parse
        params = self.default_parameters()
        cycle = state.get("production_line", {}).get("cycle_time")
        if isinstance(cycle, int | float) and not isinstance(cycle, bool) and cycle > 0:
            params["cycle_time"] = float(cycle)
        params.update(given)
        pm.validate_parameters(params)
        if status is not None:
            x0[pm.RUNNING] = 1.0 if status == "running" else 0.0
            state.setdefault("production_line", {})["status"] = status
            params["status"] = status
        return state, x0, params

    @staticmethod
    def _schedule(running: Any, steps: int, n: int) -> np.ndarray | None:
        if running is None:
            return None
        arr = np.asarray(running)
        if arr.dtype.kind not in "bi" or arr.shape[0] != steps:
            raise ParameterError(
                f"running must be {steps} booleans (one per step), got shape {arr.shape}",
                name="running",
                value=running,
            )
        arr = arr.astype(bool)
        return np.broadcast_to(arr.reshape(steps, -1), (steps, n)).copy()

    # ---------------------------------------------------------------- runs

    def run_simulation(
        self,
        steps: int | None = None,
        initial_state: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        *,
        seed: Any = None,
        running: Any = None,
        name: str | None = None,
        tags: Sequence[str] = (),
    ) -> SimulationResult:
        """Return ``steps + 1`` states (initial first) simulated from ``initial_state``.

        Parameters
        ----------
        steps : int, optional
            Default ``SIMULATION_PARAMETERS.default_simulation_steps``.
        initial_state : dict, optional
            A twin state (not modified); default :func:`circman_kernel.core.state_schema.default_state`.
        parameters : dict, optional
            Overrides of :meth:`parameter_names`; ``status`` is ``"running"`` or ``"idle"``.
        seed : int, numpy Generator or None
            Same seed, same result.
        running : sequence of bool, optional
            A running/idle schedule, one value per step (overrides the Markov chain).
        """
        start = time.perf_counter()
        steps = _check_steps(
            steps, self.config.digital_twin.SIMULATION_PARAMETERS.default_simulation_steps
        )
        state, x0, params = self.resolve(initial_state, parameters)
        schedule = self._schedule(running, steps, 1)
        ss = as_seed_sequence(seed)
        model_params = {k: v for k, v in params.items() if k != "status"}
        _check_time_span(state, steps, params["step_duration"])
        traj, _, measured = run_columns(x0[:, None], model_params, steps, ss, running=schedule)
        result = SimulationResult(
            traj[:, :, 0], state, params, _seed_record(ss),
            measurements=None if measured is None else measured[:, :, 0],
        )  # fmt: skip
        if self.store is not None:
            result.run_id = self.store.save_run(
                "simulation",
                name=name,
                parameters={**params, "steps": steps},
                seed=result.seed,
                config_hash=self.config.config_hash,
                tags=tuple(tags),
                duration_s=time.perf_counter() - start,
                kpis=result.kpis(),
                trajectories=_long_frame(traj),
            )
        return result

    def run_monte_carlo_simulation(
        self,
        steps: int | None = None,
        initial_state: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        iterations: int = 100,
        uncertainty: float = 0.1,
        *,
        seed: Any = None,
        executor: Executor | None = None,
        chunk_size: int = 1000,
        running: Any = None,
        name: str | None = None,
        tags: Sequence[str] = (),
        progress: bool = False,
    ) -> MonteCarloResult:
        """Return ``iterations`` runs with parameter spread and process noise.

        Each iteration multiplies the parameters in :data:`UNCERTAIN_PARAMETERS` and the
        numeric ones passed in ``parameters`` by N(1, ``uncertainty``) (cut to their
        ranges); process noise is drawn per step. Iterations are cut into chunks of
        ``chunk_size`` columns with seeds from ``SeedSequence(seed).spawn``; the chunks run
        in-process or on ``executor`` with identical results.

        Raises
        ------
        ParameterError
            Before any work: bad parameters, steps < 0, iterations < 1, uncertainty < 0
            or not finite, chunk_size < 1.
        """
        start = time.perf_counter()
        steps = _check_steps(
            steps, self.config.digital_twin.SIMULATION_PARAMETERS.default_simulation_steps
        )
        for label, value in (("iterations", iterations), ("chunk_size", chunk_size)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ParameterError(
                    f"{label} must be an int >= 1, got {value!r}", name=label, value=value
                )
        if (
            isinstance(uncertainty, bool)
            or not isinstance(uncertainty, int | float | np.floating)
            or not math.isfinite(uncertainty)
            or uncertainty < 0
        ):
            raise ParameterError(
                f"uncertainty must be a finite number >= 0 (relative std), got {uncertainty!r}",
                name="uncertainty",
                value=uncertainty,
            )
        state, x0, params = self.resolve(initial_state, parameters)
        model_params = {k: v for k, v in params.items() if k != "status"}
        given = [k for k in (parameters or {}) if k in pm.PARAMETERS]
        vary = tuple(dict.fromkeys((*UNCERTAIN_PARAMETERS, *given)))
        ss = as_seed_sequence(seed)
        iterations = int(iterations)
        schedule = self._schedule(running, steps, 1)
        bounds = list(range(0, iterations, chunk_size)) + [iterations]
        seeds = ss.spawn(len(bounds) - 1)
        tasks = []
        for (lo, hi), child in zip(zip(bounds[:-1], bounds[1:], strict=True), seeds, strict=True):
            n = hi - lo
            tasks.append(
                {
                    "x0": np.repeat(x0[:, None], n, axis=1),
                    "parameters": model_params,
                    "steps": steps,
                    "seed": child,
                    "uncertainty": float(uncertainty),
                    "vary": vary,
                    "running": None if schedule is None else np.repeat(schedule, n, axis=1),
                }
            )
        outputs = _map(tasks, executor, progress, desc="Monte Carlo")
        traj = (
            outputs[0][0] if len(outputs) == 1 else np.concatenate([o[0] for o in outputs], axis=2)
        )
        draws = pd.DataFrame({k: np.concatenate([o[1][k] for o in outputs]) for k in outputs[0][1]})
        draws.index.name = "iteration"
        measured = None
        if outputs[0][2] is not None:
            measured = (
                outputs[0][2] if len(outputs) == 1 else np.concatenate([o[2] for o in outputs], 2)
            )
        result = MonteCarloResult(
            traj, draws, params, _seed_record(ss), float(uncertainty), measurements=measured
        )
        if self.store is not None:
            kpi_table = result.kpis()
            result.run_id = self.store.save_run(
                "monte_carlo",
                name=name,
                parameters={**params, "steps": steps, "iterations": iterations,
                            "uncertainty": float(uncertainty), "chunk_size": chunk_size},
                seed=result.seed,
                config_hash=self.config.config_hash,
                tags=tuple(tags),
                duration_s=time.perf_counter() - start,
                kpis={k: float(v) for k, v in kpi_table.mean().items()},
                trajectories=result.to_frame(),
            )  # fmt: skip
        return result


def _map(
    tasks: list[dict[str, Any]],
    executor: Executor | None,
    progress: bool,
    desc: str,
    worker: Any = _run_task,
) -> list:
    """Run ``worker(task)`` for each task in order (in-process or on ``executor``)."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks), desc=desc, disable=not progress or len(tasks) < 2, leave=False)
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
