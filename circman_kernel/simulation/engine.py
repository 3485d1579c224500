"""Simulation engine: single runs and Monte Carlo runs of the process model, as DataFrames.

:class:`SimulationEngine` maps a twin state (``circman_kernel.twin.state``) to the state array
of :mod:`circman_kernel.simulation.process`, runs the vectorised model and maps the result back.
Monte Carlo iterations are columns of one model run; large runs are cut into chunks
of ``chunk_size`` columns (:mod:`~circman_kernel.simulation.chunks`), each with its own
seed from ``numpy.random.SeedSequence.spawn``, so that the result is the same whether the
chunks run in-process or on any ``concurrent.futures.Executor`` (a process pool, a Dask
``Client.get_executor()``).

Results (:mod:`~circman_kernel.simulation.results`) hold the true state :math:`x_t` of the model: the states, the trajectories, the
KPIs (energy, ``final_power_kw``) all come from it. With
``SIMULATION_PARAMETERS.measurement_noise`` > 0, the sensor readings
:math:`y_t = g(x_t, v_t)` (temperature, power draw, production rate; cut to their
physical ranges) are kept beside it as ``measurements``, and
:meth:`~circman_kernel.simulation.results.SimulationResult.observed` gives a state as the sensors would report it.

The manual's calls work as written (section 5): ``SimulationEngine(state_manager)`` starts
runs from that manager's current state, ``parameters`` may override the state itself
(``{"production_line": {"temperature": 25.5}}`` or ``{"production_line.temperature":
25.5}``) beside the model's parameter names, and a Monte Carlo result is also the list of
``{"iteration", "parameters", "states"}`` dicts of section 5.4.

>>> engine = SimulationEngine()
>>> res = engine.run_simulation(steps=3, seed=1)
>>> len(res), res[0]["production_line"]["status"]
(4, 'running')
>>> res = engine.run_simulation(3, parameters={"production_line.temperature": 25.5}, seed=1)
>>> res[0]["production_line"]["temperature"]
25.5
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.core.config import CircmanConfig
from circman_kernel.core.errors import NotInitializedError, ParameterError, StateValidationError
from circman_kernel.core.state_merge import merge_state
from circman_kernel.simulation import process as pm
from circman_kernel.simulation.chunks import _map, _seed_record, as_seed_sequence, run_columns
from circman_kernel.simulation.overrides import _flat_overrides, split_parameters
from circman_kernel.simulation.results import (
    MonteCarloResult,
    SimulationResult,
    _long_frame,
    state_to_vector,
)

__all__ = ["UNCERTAIN_PARAMETERS", "SimulationEngine", "split_parameters"]

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


def _check_steps(steps: Any, default: int) -> int:
    if steps is None:
        return default
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer):
        raise ParameterError(f"steps must be an int >= 0, got {steps!r}", name="steps", value=steps)
    if steps < 0:
        raise ParameterError(f"steps must be >= 0, got {steps}", name="steps", value=steps)
    return int(steps)


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


# --------------------------------------------------------------------------- the engine


class SimulationEngine:
    """Runs the process model from a twin state; stores every run when given a store.

    Parameters
    ----------
    state_manager : StateManager, DigitalTwin or CircmanConfig, optional
        The manual's first argument (section 5.1): with a ``StateManager`` (or a
        ``DigitalTwin``), a run without ``initial_state`` starts from its current state;
        a twin also lends its configuration. A ``CircmanConfig`` here is the
        configuration (as ``config=``). Anything else is a ``TypeError``.
    config : CircmanConfig, optional
        Default: the twin's, else :func:`circman_kernel.core.config.load_config`.
    store : RunStore, optional
        When given, every run is saved (kinds ``"simulation"`` and ``"monte_carlo"``).
    """

    def __init__(self, state_manager: Any = None, *, config: Any = None, store: Any = None) -> None:
        source = None
        if isinstance(state_manager, CircmanConfig):
            if config is not None:
                raise TypeError("SimulationEngine: the configuration is given twice")
            config = state_manager
        elif state_manager is not None:
            # The twin sits above the simulation (it composes the engine), so both are
            # recognised by what they offer, not by class.
            twin_like = hasattr(state_manager, "state_manager") and isinstance(
                getattr(state_manager, "config", None), CircmanConfig
            )
            if not callable(getattr(state_manager, "get_current_state", None)):
                raise TypeError(
                    "SimulationEngine(state_manager): expected a StateManager, a DigitalTwin "
                    f"or a CircmanConfig (or nothing), got {type(state_manager).__name__}"
                )
            source = state_manager
            if twin_like and config is None:
                config = state_manager.config
        if config is None:
            from circman_kernel.core.config import load_config

            config = load_config()
        self.config = config
        self.store = store
        self.state_manager = source

    def current_state(self) -> dict[str, Any] | None:
        """Return the state manager's current state (``None`` without a state manager).

        Raises
        ------
        NotInitializedError
            If the state manager holds no state yet (or the twin is not initialized).
        """
        if self.state_manager is None:
            return None
        state = self.state_manager.get_current_state()
        if state is None:
            raise NotInitializedError(
                "the engine's state manager has no state yet; call set_state(...) first "
                "or pass initial_state"
            )
        return state

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

        ``parameters`` holds model parameters (:meth:`parameter_names`) and state
        overrides: nested (``{"production_line": {"temperature": 25.5}}``) or dotted
        (``{"production_line.temperature": 25.5}``), applied to the initial state through
        :func:`~circman_kernel.core.state_schema.merge_state` before the first step.

        Raises
        ------
        ParameterError
            Unknown names (with a did-you-mean hint), non-finite or out-of-range values.
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
        model, overrides = split_parameters(parameters)
        given = pm.validate_parameters(model, extra=("status",))
        status = given.pop("status", None)
        if status is not None and status not in _STATUSES:
            raise ParameterError(
                f"parameter 'status' must be one of {', '.join(_STATUSES)}, got {status!r}",
                name="status",
                value=status,
            )
        defaults = _default_state(self.config)
        if initial_state is None:
            initial_state = self.current_state()
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
        if overrides:
            # the manual's _apply_parameters: the state is changed before the first step
            state = merge_state(state, overrides)
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
            A twin state (not modified); default: the state manager's current state, else
            :func:`circman_kernel.core.state_schema.default_state`.
        parameters : dict, optional
            Overrides of :meth:`parameter_names` (``status`` is ``"running"`` or
            ``"idle"``) and of the initial state, nested or as dotted paths
            (``"production_line.temperature"``; see :meth:`resolve`).
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
                parameters={**params, **_flat_overrides(parameters), "steps": steps},
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
            traj, draws, params, _seed_record(ss), float(uncertainty), measurements=measured,
            initial_state=state,
        )  # fmt: skip
        if self.store is not None:
            kpi_table = result.kpis()
            result.run_id = self.store.save_run(
                "monte_carlo",
                name=name,
                parameters={**params, **_flat_overrides(parameters), "steps": steps,
                            "iterations": iterations,
                            "uncertainty": float(uncertainty), "chunk_size": chunk_size},
                seed=result.seed,
                config_hash=self.config.config_hash,
                tags=tuple(tags),
                duration_s=time.perf_counter() - start,
                kpis={k: float(v) for k, v in kpi_table.mean().items()},
                trajectories=result.to_frame(),
            )  # fmt: skip
        return result
