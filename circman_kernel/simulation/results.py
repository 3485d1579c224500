"""Results of the simulation engine: one run, many runs, their KPIs and frames.

:class:`SimulationResult` (one trajectory, read as a sequence of twin states) and
:class:`MonteCarloResult` (many iterations: percentiles, final states, KPIs) hold the
true state arrays of :mod:`~circman_kernel.simulation.process` and build states and
DataFrames from them on access. It also holds what they are computed with: the headline
KPIs of trajectories (:func:`trajectory_kpis`, :data:`KPI_NAMES`), the long frame the run
store keeps, and the mapping between a twin state dict and a state vector
(:func:`state_to_vector` and back).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.core.errors import StateValidationError
from circman_kernel.simulation import process as pm

__all__ = ["KPI_NAMES", "MonteCarloResult", "SimulationResult", "trajectory_kpis"]

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

    ``template`` passed :meth:`~circman_kernel.simulation.engine.SimulationEngine.resolve`,
    so its timestamp (if any) is valid; step 0 keeps it as written, and ``status=None``
    keeps the template's status.
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


class MonteCarloResult(Sequence):
    """Trajectories of many iterations, ``trajectories``: ``(steps + 1, n_vars, iterations)``.

    ``parameter_draws`` holds each iteration's varied parameters (iteration x parameter).
    Trajectories and KPIs are the true state; ``measurements`` the sensor readings (see
    :class:`SimulationResult`).

    It is also the manual's list (section 5.4): ``len(result)`` is the number of
    iterations and item ``i`` is ``{"iteration": i, "parameters": {...}, "states": [...]}``,
    the iteration's varied parameters and its ``steps + 1`` states. The dicts are built
    when an item is read, never before, so the arrays and frames cost nothing extra.
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
        initial_state: Mapping[str, Any] | None = None,
    ) -> None:
        self.trajectories = trajectories
        self.parameter_draws = parameter_draws
        self.parameters = dict(parameters)
        self.seed = seed
        self.uncertainty = uncertainty
        self.run_id = run_id
        self._measurements = measurements
        self.initial_state = {} if initial_state is None else initial_state

    # -- the manual's list of iterations ------------------------------------------------
    def __len__(self) -> int:
        return self.trajectories.shape[2]

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]
        return {
            "iteration": i,
            "parameters": self.varied_parameters(i),
            "states": list(self.run(i)),
        }

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[i] for i in range(len(self)))

    def varied_parameters(self, iteration: int) -> dict[str, float]:
        """Return the parameters drawn for one iteration (name -> value)."""
        row = self.parameter_draws.iloc[iteration]
        return {str(k): float(v) for k, v in row.items()}

    def run(self, iteration: int) -> SimulationResult:
        """Return one iteration as a :class:`SimulationResult` (states built on access)."""
        i = range(len(self))[iteration]
        measured = None if self._measurements is None else self._measurements[:, :, i]
        return SimulationResult(
            self.trajectories[:, :, i],
            self.initial_state,
            {**self.parameters, **self.varied_parameters(i)},
            self.seed,
            run_id=self.run_id,
            measurements=measured,
        )

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
