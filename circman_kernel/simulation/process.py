"""Process model of the PV module line: a discrete-time state-space model on NumPy arrays.

The line is the state-space model of the manual's section 16.3.1,

.. math::

    x_{t+1} = f(x_t, u_t, w_t), \\qquad y_t = g(x_t, u_t, v_t),

with the state :math:`x` (the :data:`VARIABLES`), the input :math:`u` (running/idle status
and the parameters), the process noise :math:`w` and the measurement noise :math:`v`.
Every variable is an array of shape ``(n,)``: one column per Monte Carlo iteration or
sweep experiment, each column with its own parameters. No Python loop runs over columns.

This module defines the model: its state variables (the rows of the state array), its
:data:`PARAMETERS` (range and unit of each) and their defaults and validation. The
equations are small pure functions (arrays in, arrays out) in
:mod:`~circman_kernel.simulation.equations`, documented with their units, their
configuration key (``SIMULATION_PARAMETERS.<key>`` in ``configs/digital_twin.json``) and a
worked example; :func:`~circman_kernel.simulation.equations.step` composes them into one
transition :math:`f`. :func:`~circman_kernel.simulation.recurrences.simulate` solves the
same recursions for all steps at once (closed forms along the time axis: cumulative sums,
running minima and linear recurrences), which is what the engine uses.
``tests/test_process.py`` checks that both agree. Both return the true state :math:`x`;
:func:`~circman_kernel.simulation.measurement.observe` is the output map :math:`g`, the
measurements :math:`y` (cut to physical ranges), computed apart so that measurement noise
never enters the propagated state.

The manual's own equations (section 5.3) hold as written:

* temperature: :math:`T_{t+1} = T_t + (T^* - T_t)\\,k + w`, :math:`w \\sim N(0, 0.1)`;
* line power: :math:`P_{t+1} = P_t + \\Delta P\\,\\varepsilon` with
  :math:`\\varepsilon \\sim N(1, 0.1)` while running, :math:`P_{t+1} = 0.95\\,P_t` while idle.

The manual's ``energy_consumption`` is read as the line's power draw [kW]; the energy
[kWh] is its integral over the step duration (``energy_kwh``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from circman_kernel.core.errors import ParameterError

__all__ = [
    "MATERIALS",
    "MEASURED",
    "MEASURED_RANGES",
    "PARAMETERS",
    "VARIABLES",
    "default_parameters",
    "validate_parameters",
]

MATERIALS = ("silicon_wafer", "solar_glass")

#: State variables (rows of the state array), as dotted paths of the twin state where
#: they map to one; the cumulative counters start at 0 with every run.
VARIABLES = (
    "production_line.temperature",  # [degC]
    "production_line.energy_consumption",  # [kW] line power draw
    "production_line.production_rate",  # [modules/h] achieved
    "production_line.attainable_rate",  # [modules/h] ramp state before material limits
    "production_line.efficiency",  # [0..1]
    "production_line.defect_rate",  # [0..1]
    "production_line.running",  # 1 running, 0 idle
    "materials.silicon_wafer.inventory",  # [kg]
    "materials.silicon_wafer.quality",  # [0..1]
    "materials.silicon_wafer.consumption",  # [kg/step]
    "materials.solar_glass.inventory",  # [kg]
    "materials.solar_glass.quality",  # [0..1]
    "materials.solar_glass.consumption",  # [kg/step]
    "energy_kwh",  # [kWh] since the start of the run
    "output_modules",  # [modules] since the start of the run
    "defective_modules",  # [modules] since the start of the run
)
(
    TEMPERATURE,
    POWER,
    RATE,
    ATTAINABLE,
    EFFICIENCY,
    DEFECT,
    RUNNING,
    SI_INVENTORY,
    SI_QUALITY,
    SI_USE,
    GLASS_INVENTORY,
    GLASS_QUALITY,
    GLASS_USE,
    ENERGY,
    OUTPUT,
    DEFECTIVE,
) = range(len(VARIABLES))
N_VARS = len(VARIABLES)

#: Rows of the state seen through the output map :math:`g`
#: (:func:`~circman_kernel.simulation.measurement.observe`).
MEASURED = (TEMPERATURE, POWER, RATE)
#: Physical range of each measured row (the state schema's limits): a sensor reading
#: outside it is cut to it, so that a measured state is still a valid twin state.
MEASURED_RANGES = ((-100.0, 500.0), (0.0, math.inf), (0.0, math.inf))

_INF = math.inf
#: Model parameters: name -> (lower, upper, lower bound open?, unit). Every name but the
#: last three is a ``SIMULATION_PARAMETERS`` key; ``cycle_time`` is a process input and
#: the temperature band defaults to ``PARAMETER_THRESHOLDS["production_line.temperature"]``.
PARAMETERS: dict[str, tuple[float, float, bool, str]] = {
    "temperature_increment": (0.0, _INF, False, "degC/step (kept from the manual; unused)"),
    "energy_consumption_increment": (0.0, _INF, False, "kW/step"),
    "production_rate_increment": (0.0, _INF, False, "modules/h per step"),
    "target_temperature": (-50.0, 150.0, False, "degC"),
    "temperature_regulation": (0.0, 1.0, False, "1/step"),
    "silicon_wafer_consumption_rate": (0.0, _INF, False, "kg/module"),
    "solar_glass_consumption_rate": (0.0, _INF, False, "kg/module"),
    "step_duration": (0.0, 8760.0, True, "h/step"),
    "temperature_noise": (0.0, _INF, False, "degC"),
    "energy_noise": (0.0, _INF, False, "-"),
    "idle_energy_decay": (0.0, 1.0, False, "-/step"),
    "nominal_production_rate": (0.0, _INF, False, "modules/h"),
    "nominal_cycle_time": (0.0, _INF, True, "s/module"),
    "base_efficiency": (0.0, 1.0, False, "-"),
    "base_defect_rate": (0.0, 1.0, False, "-"),
    "efficiency_temperature_sensitivity": (0.0, _INF, False, "1/degC"),
    "defect_temperature_sensitivity": (0.0, _INF, False, "1/degC"),
    "defect_quality_sensitivity": (0.0, _INF, False, "-"),
    "quality_decay": (0.0, 1.0, False, "1/step"),
    "silicon_wafer_replenishment": (0.0, _INF, False, "kg/step"),
    "solar_glass_replenishment": (0.0, _INF, False, "kg/step"),
    "start_probability": (0.0, 1.0, False, "1/step"),
    "stop_probability": (0.0, 1.0, False, "1/step"),
    "measurement_noise": (0.0, _INF, False, "-"),
    "cycle_time": (0.0, _INF, True, "s/module"),
    "temperature_low": (-100.0, 500.0, False, "degC"),
    "temperature_high": (-100.0, 500.0, False, "degC"),
}


def default_parameters(config: Any = None) -> dict[str, float]:
    """Return every model parameter from a configuration (``None``: the manual's defaults).

    >>> p = default_parameters()
    >>> p["target_temperature"], p["temperature_low"], p["cycle_time"]
    (22.5, 18.0, 30.0)
    """
    if config is None:
        from circman_kernel.core.config import default_config

        config = default_config()
    sim = config.digital_twin.SIMULATION_PARAMETERS.model_dump()
    low, high = config.digital_twin.PARAMETER_THRESHOLDS.get(
        "production_line.temperature", (18.0, 27.0)
    )
    params = {name: float(sim[name]) for name in PARAMETERS if name in sim}
    params["cycle_time"] = params["nominal_cycle_time"]
    params["temperature_low"] = float(low)
    params["temperature_high"] = float(high)
    return params


def validate_parameters(
    parameters: Mapping[str, Any], *, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Return ``parameters`` as floats or float arrays after checking names, values, ranges.

    Raises
    ------
    ParameterError
        For an unknown name (listing the valid ones), a non-number, NaN or infinity, or a
        value outside the parameter's range.
    """
    out: dict[str, Any] = {}
    for name, value in parameters.items():
        if name in extra:
            out[name] = value
            continue
        if name not in PARAMETERS:
            valid = ", ".join(sorted((*PARAMETERS, *extra)))
            raise ParameterError(
                f"unknown parameter {name!r}; valid names: {valid}", name=name, value=value
            )
        lo, hi, open_lo, unit = PARAMETERS[name]
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ParameterError(
                f"parameter {name!r} must be a number [{unit}], got {value!r}",
                name=name,
                value=value,
            ) from None
        if isinstance(value, bool) or not np.all(np.isfinite(arr)):
            raise ParameterError(
                f"parameter {name!r} must be a finite number [{unit}], got {value!r}",
                name=name,
                value=value,
            )
        if np.any(arr < lo) or np.any(arr > hi) or (open_lo and np.any(arr <= lo)):
            bound = f"{'(' if open_lo else '['}{lo}, {hi}]"
            raise ParameterError(
                f"parameter {name!r} must lie in {bound} [{unit}], got {value!r}",
                name=name,
                value=value,
            )
        out[name] = float(arr) if arr.ndim == 0 else arr
    low, high = out.get("temperature_low"), out.get("temperature_high")
    if low is not None and high is not None and np.any(np.asarray(low) > np.asarray(high)):
        raise ParameterError(
            f"temperature_low ({low}) must not exceed temperature_high ({high})",
            name="temperature_low",
            value=low,
        )
    return out


def _p(parameters: Mapping[str, Any], name: str) -> Any:
    """Return parameter ``name`` as a float array (a float or one value per column)."""
    return np.asarray(parameters[name], dtype=float)
