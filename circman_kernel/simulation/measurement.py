"""The output map of the process model: what the sensors read of the true state.

:func:`observe` is :math:`y_t = g(x_t, v_t)`: the measured variables
(:data:`~circman_kernel.simulation.process.MEASURED`: temperature, power draw, production
rate) read through :func:`measure` with relative measurement noise and cut to their
physical ranges. It works on a copy of the trajectories, so measurement noise never enters
the propagated state (:mod:`~circman_kernel.simulation.recurrences`) nor the KPIs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from circman_kernel.simulation.process import MEASURED, MEASURED_RANGES, _p

__all__ = ["measure", "observe"]


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
    physical range ``[lower, upper]``
    (:data:`~circman_kernel.simulation.process.MEASURED_RANGES`): a rate sensor never
    reads below 0. The noise is relative, so a zero (an idle line's rate) reads 0.

    >>> float(measure(100.0, 0.01, 1.0)), float(measure(8.5, 0.6, -2.0, 0.0))
    (101.0, 0.0)
    """
    return np.clip(value * (1.0 + measurement_noise * noise), lower, upper)


def observe(
    trajectories: np.ndarray, parameters: Mapping[str, Any], noise: Mapping[str, np.ndarray]
) -> np.ndarray:
    r"""Return the measurements :math:`y_t = g(x_t, v_t)`, shape ``(steps + 1, 3, n)``.

    Rows are the :data:`~circman_kernel.simulation.process.MEASURED` variables
    (temperature [degC], power draw [kW], production rate [modules/h]), each read through
    :func:`measure` with ``noise["measurement"]`` (standard normals ``(3, steps, n)`` from
    :func:`~circman_kernel.simulation.recurrences.draw_noise`) and cut to
    :data:`~circman_kernel.simulation.process.MEASURED_RANGES`. Step 0 is the given
    initial state, read without noise; without ``"measurement"`` in ``noise`` the
    measurements are the true values. ``trajectories`` (the true state :math:`x_t` from
    :func:`~circman_kernel.simulation.recurrences.simulate`) is not modified.

    >>> from circman_kernel.simulation.process import POWER, RATE, TEMPERATURE, VARIABLES
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
