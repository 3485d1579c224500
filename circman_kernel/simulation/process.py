"""Process model of the PV module line: a discrete-time state-space model on NumPy arrays.

The line is the state-space model of the manual's section 16.3.1,

.. math::

    x_{t+1} = f(x_t, u_t, w_t), \\qquad y_t = g(x_t, u_t, v_t),

with the state :math:`x` (the :data:`VARIABLES`), the input :math:`u` (running/idle status
and the parameters), the process noise :math:`w` and the measurement noise :math:`v`.
Every variable is an array of shape ``(n,)``: one column per Monte Carlo iteration or
sweep experiment, each column with its own parameters. No Python loop runs over columns.

The equations are small pure functions (arrays in, arrays out) documented with their
units, their configuration key (``SIMULATION_PARAMETERS.<key>`` in
``configs/digital_twin.json``) and a worked example. :func:`step` composes them into one
transition :math:`f`; :func:`simulate` solves the same recursions for all steps at once
(closed forms along the time axis: cumulative sums, running minima and linear
recurrences), which is what the engine uses. ``tests/test_process.py`` checks that both
agree. Both return the true state :math:`x`; :func:`observe` is the output map :math:`g`,
the measurements :math:`y` (cut to physical ranges), computed apart so that measurement
noise never enters the propagated state.

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
    "defect_rate",
    "draw_noise",
    "line_efficiency",
    "line_power",
    "linear_recurrence",
    "material_quality",
    "measure",
    "observe",
    "producible_modules",
    "ramp_production_rate",
    "regulate_temperature",
    "running_schedule",
    "simulate",
    "step",
    "target_production_rate",
    "temperature_excursion",
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

#: Rows of the state seen through the output map :math:`g` (:func:`observe`).
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


# --------------------------------------------------------------------------- equations


def regulate_temperature(
    temperature: Any, target_temperature: Any, temperature_regulation: Any, noise: Any = 0.0
) -> Any:
    r"""Return the line temperature after one step of regulation [degC].

    .. math:: T_{t+1} = T_t + (T^* - T_t)\,k + w_t, \qquad w_t \sim N(0, \sigma_T)

    Parameters
    ----------
    temperature : array_like
        Line temperature :math:`T_t` [degC].
    target_temperature : array_like
        Set point :math:`T^*` [degC]; ``SIMULATION_PARAMETERS.target_temperature`` (22.5).
    temperature_regulation : array_like
        Fraction :math:`k` of the gap closed per step [1/step];
        ``SIMULATION_PARAMETERS.temperature_regulation`` (0.1).
    noise : array_like
        Process noise :math:`w_t` [degC]; std ``SIMULATION_PARAMETERS.temperature_noise``
        (0.1, the manual's value).

    >>> float(regulate_temperature(20.0, 22.5, 0.1))
    20.25
    """
    return temperature + (target_temperature - temperature) * temperature_regulation + noise


def line_power(
    power: Any,
    running: Any,
    energy_consumption_increment: Any,
    factor: Any = 1.0,
    idle_energy_decay: Any = 0.95,
) -> Any:
    r"""Return the line's power draw after one step [kW].

    .. math::

        P_{t+1} = \begin{cases} P_t + \Delta P\,\max(\varepsilon_t, 0) & \text{running} \\
        d\,P_t & \text{idle} \end{cases} \qquad \varepsilon_t \sim N(1, \sigma_E)

    The factor is cut at 0 so that the draw never falls while running (a draw below 0
    has probability :math:`10^{-23}` at the default :math:`\sigma_E = 0.1`).

    Parameters
    ----------
    power : array_like
        Power draw :math:`P_t` [kW] (the twin's ``production_line.energy_consumption``).
    running : array_like of bool
        True while the line runs in this step.
    energy_consumption_increment : array_like
        :math:`\Delta P` [kW/step]; ``SIMULATION_PARAMETERS.energy_consumption_increment`` (2.0).
    factor : array_like
        :math:`\varepsilon_t` [-]; std ``SIMULATION_PARAMETERS.energy_noise`` (0.1).
    idle_energy_decay : array_like
        :math:`d` [-/step]; ``SIMULATION_PARAMETERS.idle_energy_decay`` (0.95).

    >>> float(line_power(120.5, True, 2.0)), float(line_power(100.0, False, 2.0))
    (122.5, 95.0)
    """
    grown = power + energy_consumption_increment * np.maximum(factor, 0.0)
    return np.where(running, grown, power * idle_energy_decay)


def temperature_excursion(temperature: Any, temperature_low: Any, temperature_high: Any) -> Any:
    r"""Return how far the temperature lies outside its band [degC] (0 inside).

    .. math:: e_t = \max(T_{lo} - T_t, 0) + \max(T_t - T_{hi}, 0)

    The band defaults to ``PARAMETER_THRESHOLDS["production_line.temperature"]`` (18, 27).

    >>> float(temperature_excursion(28.5, 18.0, 27.0)), float(temperature_excursion(20, 18, 27))
    (1.5, 0.0)
    """
    return np.maximum(temperature_low - temperature, 0.0) + np.maximum(
        temperature - temperature_high, 0.0
    )


def line_efficiency(excursion: Any, base_efficiency: Any, sensitivity: Any) -> Any:
    r"""Return the line efficiency [0..1], lowered while the temperature is out of band.

    .. math:: \eta_t = \mathrm{clip}(\eta_0 - s_\eta\,e_t,\ 0,\ 1)

    Parameters
    ----------
    excursion : array_like
        :math:`e_t` [degC] from :func:`temperature_excursion`.
    base_efficiency : array_like
        :math:`\eta_0` [-]; ``SIMULATION_PARAMETERS.base_efficiency`` (0.92).
    sensitivity : array_like
        :math:`s_\eta` [1/degC];
        ``SIMULATION_PARAMETERS.efficiency_temperature_sensitivity`` (0.02).

    >>> round(float(line_efficiency(1.5, 0.92, 0.02)), 6)
    0.89
    """
    return np.clip(base_efficiency - sensitivity * excursion, 0.0, 1.0)


def defect_rate(
    excursion: Any,
    quality: Any,
    base_defect_rate: Any,
    temperature_sensitivity: Any,
    quality_sensitivity: Any,
) -> Any:
    r"""Return the defect rate [0..1] from the temperature excursion and material quality.

    .. math:: \delta_t = \mathrm{clip}(\delta_0 + s_T\,e_t + s_q\,(1 - q_t),\ 0,\ 1)

    Parameters
    ----------
    excursion : array_like
        :math:`e_t` [degC] from :func:`temperature_excursion`.
    quality : array_like
        :math:`q_t` [0..1], the lower of the materials' qualities.
    base_defect_rate : array_like
        :math:`\delta_0` [-]; ``SIMULATION_PARAMETERS.base_defect_rate`` (0.01).
    temperature_sensitivity : array_like
        :math:`s_T` [1/degC]; ``SIMULATION_PARAMETERS.defect_temperature_sensitivity`` (0.01).
    quality_sensitivity : array_like
        :math:`s_q` [-]; ``SIMULATION_PARAMETERS.defect_quality_sensitivity`` (0.2).

    >>> round(float(defect_rate(0.0, 0.95, 0.01, 0.01, 0.2)), 6)
    0.02
    """
    value = base_defect_rate + temperature_sensitivity * excursion
    return np.clip(value + quality_sensitivity * (1.0 - quality), 0.0, 1.0)


def target_production_rate(
    efficiency: Any,
    running: Any,
    nominal_production_rate: Any,
    nominal_cycle_time: Any,
    cycle_time: Any,
) -> Any:
    r"""Return the production rate the line aims at [modules/h] (0 when idle).

    .. math:: R^*_t = r_0\,\frac{c_0}{c}\,\eta_t \cdot \mathbb{1}[\text{running}]

    Parameters
    ----------
    efficiency : array_like
        :math:`\eta_t` [0..1].
    running : array_like of bool
    nominal_production_rate : array_like
        :math:`r_0` [modules/h] at :math:`c_0` and efficiency 1;
        ``SIMULATION_PARAMETERS.nominal_production_rate`` (10).
    nominal_cycle_time : array_like
        :math:`c_0` [s/module]; ``SIMULATION_PARAMETERS.nominal_cycle_time`` (30).
    cycle_time : array_like
        :math:`c` [s/module], a process input (``production_line.cycle_time``).

    >>> round(float(target_production_rate(0.92, True, 10.0, 30.0, 30.0)), 6)
    9.2
    """
    return np.where(running, nominal_production_rate * (nominal_cycle_time / cycle_time), 0.0) * (
        efficiency
    )


def ramp_production_rate(rate: Any, target: Any, production_rate_increment: Any) -> Any:
    r"""Return the attainable rate after one step [modules/h]: up by a ramp, down at once.

    .. math:: r_{t+1} = \min(R^*_{t+1},\ r_t + \Delta r)

    ``production_rate_increment`` (:math:`\Delta r`, 0.2 modules/h per step) is the
    manual's ``SIMULATION_PARAMETERS.production_rate_increment``.

    >>> round(float(ramp_production_rate(8.3, 9.2, 0.2)), 6), float(ramp_production_rate(9.0, 0.0, 0.2))
    (8.5, 0.0)
    """
    return np.minimum(target, rate + production_rate_increment)


def producible_modules(inventory: Any, replenishment: Any, consumption_rate: Any) -> Any:
    r"""Return how many modules one material allows in a step [modules] (inf if unused).

    .. math:: M_t = (I_t + \rho) / c_m

    Parameters
    ----------
    inventory : array_like
        :math:`I_t` [kg].
    replenishment : array_like
        :math:`\rho` [kg/step] delivered during the step;
        ``SIMULATION_PARAMETERS.<material>_replenishment`` (0).
    consumption_rate : array_like
        :math:`c_m` [kg/module]; ``SIMULATION_PARAMETERS.<material>_consumption_rate``
        (silicon wafer 0.5, solar glass 0.2).

    >>> float(producible_modules(850.0, 0.0, 0.5)), float(producible_modules(1.0, 0.0, 0.0))
    (1700.0, inf)
    """
    rate = np.asarray(consumption_rate, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(rate > 0, np.add(inventory, replenishment) / rate, _INF)


def material_quality(quality: Any, quality_decay: Any) -> Any:
    r"""Return the quality of stored material after one step [0..1].

    .. math:: q_{t+1} = q_t\,(1 - a)

    ``quality_decay`` (:math:`a`, [1/step], default 0) is
    ``SIMULATION_PARAMETERS.quality_decay``.

    >>> round(float(material_quality(0.95, 0.01)), 6)
    0.9405
    """
    return quality * (1.0 - quality_decay)


def measure(
    value: Any,
    measurement_noise: Any,
    noise: Any = 0.0,
    lower: Any = -math.inf,
    upper: Any = math.inf,
) -> Any:
    r"""Return a measured value :math:`y = \mathrm{clip}(x\,(1 + \sigma_v v),\ lo,\ hi)`.

    :math:`v \sim N(0, 1)`; ``measurement_noise`` (:math:`\sigma_v`, [-], default 0) is
    ``SIMULATION_PARAMETERS.measurement_noise``. The reading is cut to the variable's
    physical range ``[lower, upper]`` (:data:`MEASURED_RANGES`): a rate sensor never
    reads below 0. The noise is relative, so a zero (an idle line's rate) reads 0.

    >>> float(measure(100.0, 0.01, 1.0)), float(measure(8.5, 0.6, -2.0, 0.0))
    (101.0, 0.0)
    """
    return np.clip(value * (1.0 + measurement_noise * noise), lower, upper)


def observe(
    trajectories: np.ndarray, parameters: Mapping[str, Any], noise: Mapping[str, np.ndarray]
) -> np.ndarray:
    r"""Return the measurements :math:`y_t = g(x_t, v_t)`, shape ``(steps + 1, 3, n)``.

    Rows are the :data:`MEASURED` variables (temperature [degC], power draw [kW],
    production rate [modules/h]), each read through :func:`measure` with
    ``noise["measurement"]`` (standard normals ``(3, steps, n)`` from :func:`draw_noise`)
    and cut to :data:`MEASURED_RANGES`. Step 0 is the given initial state, read without
    noise; without ``"measurement"`` in ``noise`` the measurements are the true values.
    ``trajectories`` (the true state :math:`x_t` from :func:`simulate`) is not modified.

    >>> x = np.zeros((2, len(VARIABLES), 1))
    >>> x[1, TEMPERATURE], x[1, POWER], x[1, RATE] = 22.5, 122.5, 8.5
    >>> v = np.array([1.0, 0.0, -2.0]).reshape(3, 1, 1)
    >>> observe(x, {"measurement_noise": 0.6}, {"measurement": v})[1, :, 0].tolist()
    [36.0, 122.5, 0.0]
    """
    y = trajectories[:, list(MEASURED), :]  # a copy: the true state stays as it is
    if "measurement" in noise and y.shape[0] > 1:
        factor = np.multiply(noise["measurement"], _p(parameters, "measurement_noise"))
        factor += 1.0
        y[1:] *= factor.transpose(1, 0, 2)
    for i, (lo, hi) in enumerate(MEASURED_RANGES):
        np.clip(y[:, i], lo, hi, out=y[:, i])
    return y


# --------------------------------------------------------------------------- noise and inputs


def _scaled(z: np.ndarray, scale: Any) -> np.ndarray:
    """Return ``z * scale``, in place when the shapes allow it."""
    scale = np.asarray(scale, dtype=float)
    if np.broadcast_shapes(z.shape, scale.shape) == z.shape:
        z *= scale
        return z
    return z * scale


def draw_noise(
    rng: np.random.Generator, steps: int, n: int, parameters: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """Return the process noise of a run: arrays of shape ``(steps, n)``.

    ``temperature`` is :math:`w_t` [degC], ``energy_factor`` is :math:`\\varepsilon_t` [-];
    ``status`` (uniforms for the running/idle chain) and ``measurement`` (standard
    normals) are drawn only when their probabilities or noise are non-zero, so that a
    default run draws exactly two normals per step and column. With ``n = 1`` and noise
    parameters of shape ``(m,)``, the temperature and energy noise are one draw scaled
    per column, shape ``(steps, m)``: common random numbers for ``m`` what-ifs.
    """
    normals = rng.standard_normal((2, steps, n))
    temperature = _scaled(normals[0], parameters["temperature_noise"])
    factor = _scaled(normals[1], parameters["energy_noise"])
    factor += 1.0
    noise = {"temperature": temperature, "energy_factor": factor}
    if np.any(parameters["start_probability"]) or np.any(parameters["stop_probability"]):
        noise["status"] = rng.random((steps, n))
    if np.any(parameters["measurement_noise"]):
        noise["measurement"] = rng.standard_normal((3, steps, n))
    return noise


def running_schedule(
    running0: Any,
    steps: int,
    start_probability: Any = 0.0,
    stop_probability: Any = 0.0,
    uniforms: np.ndarray | None = None,
) -> np.ndarray:
    r"""Return the running/idle input :math:`u_t` for every step, shape ``(steps, n)``.

    A two-state Markov chain: an idle line starts with probability :math:`p_s` per step,
    a running line stops with probability :math:`p_e`
    (``SIMULATION_PARAMETERS.start_probability`` / ``stop_probability``, default 0, so
    the line keeps its initial status as in the manual).

    >>> running_schedule([True, False], 2).tolist()
    [[True, False], [True, False]]
    """
    current = np.atleast_1d(np.asarray(running0, dtype=bool))
    if uniforms is None or not (np.any(start_probability) or np.any(stop_probability)):
        return np.broadcast_to(current, (steps, current.size)).copy()
    out = np.empty((steps, current.size), dtype=bool)
    start = np.asarray(start_probability)
    stop = np.asarray(stop_probability)
    for t in range(steps):
        u = uniforms[t]
        current = np.where(current, u >= stop, u < start)
        out[t] = current
    return out


def linear_recurrence(a: Any, b: np.ndarray, x0: Any) -> np.ndarray:
    r"""Return :math:`x_1 \ldots x_S` of :math:`x_{t+1} = a_t\,x_t + b_t`, shape ``(S, n)``.

    ``a`` is a scalar, an array of shape ``(n,)`` (one coefficient per column) or
    ``(S, n)``; ``b`` has shape ``(S, n)``. The loop runs over time with whole-row NumPy
    operations: at 1,000 x 1,000 it measured 3 ms where ``scipy.signal.lfilter`` along
    axis 0 took 8 ms (and importing ``scipy.signal`` costs a dashboard kernel 1.5 s).

    >>> linear_recurrence(0.5, np.ones((3, 1)), [8.0]).ravel().tolist()
    [5.0, 3.5, 2.75]
    """
    b = np.asarray(b, dtype=float)
    x0 = np.broadcast_to(np.asarray(x0, dtype=float), b.shape[1:])
    a_arr = np.asarray(a, dtype=float)
    a_full = np.broadcast_to(a_arr, b.shape)
    out = np.empty_like(b)
    if b.shape[1] == 1:  # one column: a float loop beats per-row NumPy calls
        x = float(x0[0])
        values = out[:, 0]
        for t, (at, bt) in enumerate(zip(a_full[:, 0].tolist(), b[:, 0].tolist(), strict=True)):
            x = at * x + bt
            values[t] = x
        return out
    previous = x0
    for t in range(b.shape[0]):
        row = out[t]
        np.multiply(a_full[t], previous, out=row)
        row += b[t]
        previous = row
    return out


# --------------------------------------------------------------------------- the model


def _p(parameters: Mapping[str, Any], name: str) -> Any:
    return np.asarray(parameters[name], dtype=float)


def _cumsum(x: np.ndarray, out: np.ndarray, start: Any) -> np.ndarray:
    """Write ``start + cumsum(x, axis=0)`` into ``out`` (row loop for wide arrays: faster)."""
    if x.shape[1] < 32:
        np.cumsum(x, axis=0, out=out)
        out += start
        return out
    previous = np.broadcast_to(np.asarray(start, dtype=float), x.shape[1:])
    for t in range(x.shape[0]):
        np.add(previous, x[t], out=out[t])
        previous = out[t]
    return out


def _running_min(x: np.ndarray, start: Any) -> np.ndarray:
    """Replace ``x`` in place by ``min(start, min_{k <= t} x_k)`` along axis 0."""
    if x.shape[1] < 32:
        np.minimum.accumulate(x, axis=0, out=x)
        np.minimum(x, start, out=x)
        return x
    previous = np.broadcast_to(np.asarray(start, dtype=float), x.shape[1:])
    for t in range(x.shape[0]):
        np.minimum(previous, x[t], out=x[t])
        previous = x[t]
    return x


def step(
    x: np.ndarray,
    running: Any,
    parameters: Mapping[str, Any],
    temperature_noise: Any = 0.0,
    energy_factor: Any = 1.0,
) -> np.ndarray:
    r"""Return :math:`x_{t+1} = f(x_t, u_t, w_t)`: one transition of every column.

    Parameters
    ----------
    x : ndarray, shape ``(len(VARIABLES), n)``
        State :math:`x_t` (rows in the order of :data:`VARIABLES`).
    running : array_like of bool, shape ``(n,)``
        Input :math:`u_t`: True while the line runs in this step.
    parameters : mapping
        Every name in :data:`PARAMETERS` (floats or ``(n,)`` arrays).
    temperature_noise, energy_factor : array_like
        Process noise :math:`w_t` (see :func:`draw_noise`); the defaults make a
        noiseless step.

    Returns
    -------
    ndarray
        A new array; ``x`` is not modified.
    """
    p = parameters
    dt = _p(p, "step_duration")
    nxt = np.empty_like(x, dtype=float)
    run = np.asarray(running, dtype=bool)
    nxt[TEMPERATURE] = regulate_temperature(
        x[TEMPERATURE], _p(p, "target_temperature"), _p(p, "temperature_regulation"),
        temperature_noise,
    )  # fmt: skip
    nxt[POWER] = line_power(
        x[POWER], run, _p(p, "energy_consumption_increment"), energy_factor,
        _p(p, "idle_energy_decay"),
    )  # fmt: skip
    nxt[RUNNING] = run
    nxt[SI_QUALITY] = material_quality(x[SI_QUALITY], _p(p, "quality_decay"))
    nxt[GLASS_QUALITY] = material_quality(x[GLASS_QUALITY], _p(p, "quality_decay"))
    excursion = temperature_excursion(
        nxt[TEMPERATURE], _p(p, "temperature_low"), _p(p, "temperature_high")
    )
    nxt[EFFICIENCY] = line_efficiency(
        excursion, _p(p, "base_efficiency"), _p(p, "efficiency_temperature_sensitivity")
    )
    nxt[DEFECT] = defect_rate(
        excursion, np.minimum(nxt[SI_QUALITY], nxt[GLASS_QUALITY]), _p(p, "base_defect_rate"),
        _p(p, "defect_temperature_sensitivity"), _p(p, "defect_quality_sensitivity"),
    )  # fmt: skip
    target = target_production_rate(
        nxt[EFFICIENCY], run, _p(p, "nominal_production_rate"), _p(p, "nominal_cycle_time"),
        _p(p, "cycle_time"),
    )  # fmt: skip
    nxt[ATTAINABLE] = ramp_production_rate(
        np.maximum(x[ATTAINABLE], 0.0), target, _p(p, "production_rate_increment")
    )
    si_rate, glass_rate = (
        _p(p, "silicon_wafer_consumption_rate"),
        _p(p, "solar_glass_consumption_rate"),
    )
    si_in, glass_in = _p(p, "silicon_wafer_replenishment"), _p(p, "solar_glass_replenishment")
    produced = np.minimum(
        nxt[ATTAINABLE] * dt,
        np.minimum(
            producible_modules(x[SI_INVENTORY], si_in, si_rate),
            producible_modules(x[GLASS_INVENTORY], glass_in, glass_rate),
        ),
    )
    nxt[RATE] = produced / dt
    nxt[SI_USE] = si_rate * produced
    nxt[GLASS_USE] = glass_rate * produced
    nxt[SI_INVENTORY] = np.maximum(x[SI_INVENTORY] + si_in - nxt[SI_USE], 0.0)
    nxt[GLASS_INVENTORY] = np.maximum(x[GLASS_INVENTORY] + glass_in - nxt[GLASS_USE], 0.0)
    nxt[ENERGY] = x[ENERGY] + nxt[POWER] * dt
    nxt[OUTPUT] = x[OUTPUT] + produced
    nxt[DEFECTIVE] = x[DEFECTIVE] + produced * nxt[DEFECT]
    return nxt


def simulate(
    x0: np.ndarray,
    parameters: Mapping[str, Any],
    steps: int,
    noise: Mapping[str, np.ndarray],
    running: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    r"""Return the trajectories of all columns, shape ``(steps + 1, len(VARIABLES), n)``.

    Solves the recursions of :func:`step` for every step at once: the temperature and the
    power draw as linear recurrences, the rate ramp
    :math:`r_t = t\,\Delta r + \min(r_0, \min_{k \le t}(R^*_k - k\,\Delta r))` and the
    material limit on cumulative output
    :math:`C_t = S_t + \min(0, \min_{k \le t}(U_k - S_k))` (:math:`S` the cumulative
    attainable output, :math:`U_k` the output the delivered material allows by step
    :math:`k`) as running minima. Row 0 is ``x0``. The result is the true state
    :math:`x_t` whatever ``noise["measurement"]`` holds: the output map :math:`g` is
    :func:`observe`, applied to a copy, so that measurement noise never feeds back into
    the propagated state (nor into the KPIs computed from it).

    Parameters
    ----------
    x0 : ndarray, shape ``(len(VARIABLES), n)``
    parameters : mapping
        Every name in :data:`PARAMETERS`, floats or ``(n,)`` arrays.
    steps : int
    noise : mapping
        From :func:`draw_noise`.
    running : ndarray of bool, shape ``(steps, n)``, optional
        The input schedule; default: :func:`running_schedule` from ``x0``'s status.
    out : ndarray, optional
        Preallocated result buffer.
    """
    p = parameters
    n = x0.shape[1]
    if out is None:
        out = np.empty((steps + 1, N_VARS, n))
    out[0] = x0
    if steps == 0:
        return out
    if running is None:
        running = running_schedule(
            x0[RUNNING] > 0.5, steps, p["start_probability"], p["stop_probability"],
            noise.get("status"),
        )  # fmt: skip
    run = np.asarray(running, dtype=bool)
    dt = _p(p, "step_duration")
    k = np.arange(1, steps + 1, dtype=float)[:, None]
    body = out[1:]

    # Temperature: T_{t+1} = (1 - k) T_t + k T* + w_t
    reg = _p(p, "temperature_regulation")
    drive = np.add(noise["temperature"], reg * _p(p, "target_temperature"))
    temperature = linear_recurrence(1.0 - reg, drive, x0[TEMPERATURE])
    body[:, TEMPERATURE] = temperature

    # Power: P_{t+1} = P_t + dP max(eps, 0) (running) | d P_t (idle)
    increment = np.maximum(noise["energy_factor"], 0.0)
    increment *= _p(p, "energy_consumption_increment")
    power = body[:, POWER]
    if run.all():
        _cumsum(increment, power, x0[POWER])
    else:
        increment *= run
        decay = _p(p, "idle_energy_decay")
        power[...] = linear_recurrence(np.where(run, 1.0, decay), increment, x0[POWER])
    body[:, RUNNING] = run

    # Material quality: q_t = q_0 (1 - a)^t
    decay_q = _p(p, "quality_decay")
    ageing = (1.0 - decay_q) ** k if np.any(decay_q) else np.ones((1, 1))
    np.multiply(x0[SI_QUALITY], ageing, out=body[:, SI_QUALITY])
    np.multiply(x0[GLASS_QUALITY], ageing, out=body[:, GLASS_QUALITY])
    worst_quality = np.minimum(x0[SI_QUALITY], x0[GLASS_QUALITY]) * ageing

    # Excursion |T - clip(T, lo, hi)|; most runs stay in band, so test before the work.
    excursion = np.clip(temperature, _p(p, "temperature_low"), _p(p, "temperature_high"))
    np.subtract(temperature, excursion, out=excursion)
    np.abs(excursion, out=excursion)
    if not excursion.any():
        excursion = np.zeros((1, n))
    efficiency = line_efficiency(
        excursion, _p(p, "base_efficiency"), _p(p, "efficiency_temperature_sensitivity")
    )
    body[:, EFFICIENCY] = efficiency
    body[:, DEFECT] = defect_rate(
        excursion, worst_quality, _p(p, "base_defect_rate"),
        _p(p, "defect_temperature_sensitivity"), _p(p, "defect_quality_sensitivity"),
    )  # fmt: skip

    # Attainable rate: r_t = min(R*_t, r_{t-1} + dr) solved as a running minimum.
    ramp = _p(p, "production_rate_increment") * k
    target = target_production_rate(
        efficiency, run, _p(p, "nominal_production_rate"), _p(p, "nominal_cycle_time"),
        _p(p, "cycle_time"),
    )  # fmt: skip
    target = np.broadcast_to(target, (steps, n)) - ramp
    _running_min(target, np.maximum(x0[ATTAINABLE], 0.0))
    target += ramp
    attainable = body[:, ATTAINABLE]
    attainable[...] = target

    # Material limit on the cumulative output C_t <= U_t = min_m (I_m0 + t rho_m) / c_m.
    si_rate = _p(p, "silicon_wafer_consumption_rate")
    glass_rate = _p(p, "solar_glass_consumption_rate")
    si_in, glass_in = _p(p, "silicon_wafer_replenishment"), _p(p, "solar_glass_replenishment")
    target *= dt
    cumulative = body[:, OUTPUT]
    _cumsum(target, cumulative, 0.0)
    allowed = np.minimum(
        producible_modules(x0[SI_INVENTORY], si_in * k if np.any(si_in) else 0.0, si_rate),
        producible_modules(
            x0[GLASS_INVENTORY], glass_in * k if np.any(glass_in) else 0.0, glass_rate
        ),
    )
    if allowed.ndim == 1 and np.all(cumulative[-1] <= allowed):
        produced = target  # no material limit is reached in this run
    else:
        slack = np.broadcast_to(allowed, (steps, n)) - cumulative
        _running_min(slack, 0.0)
        cumulative += slack
        produced = np.diff(cumulative, axis=0, prepend=0.0)
        np.maximum(produced, 0.0, out=produced)
    np.divide(produced, dt, out=body[:, RATE])
    np.multiply(si_rate, produced, out=body[:, SI_USE])
    np.multiply(glass_rate, produced, out=body[:, GLASS_USE])
    for inv, rate, delivered in (
        (SI_INVENTORY, si_rate, si_in),
        (GLASS_INVENTORY, glass_rate, glass_in),
    ):
        level = body[:, inv]
        np.multiply(cumulative, -rate, out=level)
        level += x0[inv]
        if np.any(delivered):
            level += delivered * k
        np.maximum(level, 0.0, out=level)

    # Reuse the temperature drive and the power increment as scratch buffers.
    energy_step = power if np.all(dt == 1.0) else np.multiply(power, dt, out=increment)
    _cumsum(energy_step, body[:, ENERGY], x0[ENERGY])
    cumulative += x0[OUTPUT]
    np.multiply(produced, body[:, DEFECT], out=drive)
    _cumsum(drive, body[:, DEFECTIVE], x0[DEFECTIVE])
    return out
