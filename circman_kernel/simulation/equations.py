"""The process model's equations: pure functions of one time step, arrays in and out.

Each function is one equation of :mod:`~circman_kernel.simulation.process`, documented
with its units, its configuration key (``SIMULATION_PARAMETERS.<key>``) and a worked
example: temperature regulation, line power, the temperature excursion and what it does
to efficiency and defects, the target and attainable production rate, the material
limits and ageing. :func:`step` composes them into one transition
:math:`x_{t+1} = f(x_t, u_t, w_t)`; the output map :math:`y_t = g(x_t, v_t)` is in
:mod:`~circman_kernel.simulation.measurement` and the whole-trajectory solution of the
same recursions is :func:`~circman_kernel.simulation.recurrences.simulate`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from circman_kernel.simulation.process import (
    ATTAINABLE,
    DEFECT,
    DEFECTIVE,
    EFFICIENCY,
    ENERGY,
    GLASS_INVENTORY,
    GLASS_QUALITY,
    GLASS_USE,
    OUTPUT,
    POWER,
    RATE,
    RUNNING,
    SI_INVENTORY,
    SI_QUALITY,
    SI_USE,
    TEMPERATURE,
    _p,
)

__all__ = [
    "defect_rate",
    "line_efficiency",
    "line_power",
    "material_quality",
    "producible_modules",
    "ramp_production_rate",
    "regulate_temperature",
    "step",
    "target_production_rate",
    "temperature_excursion",
]


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
        return np.where(rate > 0, np.add(inventory, replenishment) / rate, math.inf)


def material_quality(quality: Any, quality_decay: Any) -> Any:
    r"""Return the quality of stored material after one step [0..1].

    .. math:: q_{t+1} = q_t\,(1 - a)

    ``quality_decay`` (:math:`a`, [1/step], default 0) is
    ``SIMULATION_PARAMETERS.quality_decay``.

    >>> round(float(material_quality(0.95, 0.01)), 6)
    0.9405
    """
    return quality * (1.0 - quality_decay)


# --------------------------------------------------------------------------- the transition


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
        State :math:`x_t` (rows in the order of
        :data:`~circman_kernel.simulation.process.VARIABLES`).
    running : array_like of bool, shape ``(n,)``
        Input :math:`u_t`: True while the line runs in this step.
    parameters : mapping
        Every name in :data:`~circman_kernel.simulation.process.PARAMETERS` (floats or
        ``(n,)`` arrays).
    temperature_noise, energy_factor : array_like
        Process noise :math:`w_t` (see
        :func:`~circman_kernel.simulation.recurrences.draw_noise`); the defaults make a
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
