"""Data sources that feed the twin (the manual's ``data_sources``) and their parsing.

Sources deliver partial states (nested dicts) through the :class:`DataSource` protocol:
:class:`CSVReplaySource` replays a timestamped sensor CSV whose columns are dotted state
paths, :class:`SimulatedSensorSource` draws seeded sensor readings (AR(1) noise around a
base state, :data:`DEFAULT_NOISE`), :class:`ManualInputSource` is a queue an operator fills.
:func:`nest_dotted` and :func:`flatten_state` convert between dotted paths and nested
states. :class:`~circman_kernel.twin.sync.Synchronizer` applies a source to a twin.
"""

from __future__ import annotations

import logging
import math
import queue
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np

from circman_kernel.core.errors import (
    ParameterError,
    StateValidationError,
)
from circman_kernel.core.state_merge import merge_state
from circman_kernel.core.state_schema import default_state
from circman_kernel.twin.csv_replay import MAX_LINE_CHARS, CSVReplaySource

__all__ = [
    "MAX_LINE_CHARS",
    "CSVReplaySource",
    "DataSource",
    "ManualInputSource",
    "SimulatedSensorSource",
    "flatten_state",
    "nest_dotted",
]

# Kept under the synchroniser's name: logging set up for the data feed still catches it.
log = logging.getLogger("circman.sync")


class DataSource(Protocol):
    """What a synchroniser reads from."""

    name: str

    def read(self) -> dict[str, Any] | None:
        """Return the next partial state, or ``None`` if nothing is available now."""

    @property
    def exhausted(self) -> bool:
        """``True`` once the source will deliver nothing more."""


def nest_dotted(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Return a nested dict from dotted keys: ``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    out: dict[str, Any] = {}
    for path, value in flat.items():
        node = out
        *parents, leaf = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return out


def flatten_state(state: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return ``{dotted_path: value}`` for every leaf of a nested state."""
    out: dict[str, Any] = {}
    for key, value in state.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_state(value, path + "."))
        else:
            out[path] = value
    return out


#: Default noise model: per dotted path, the standard deviation of the per-reading
#: innovation (in the path's unit) of an AR(1) process around the base value.
DEFAULT_NOISE: dict[str, float] = {
    "production_line.temperature": 0.15,  # [degC]
    "production_line.energy_consumption": 1.5,  # [kW]
    "production_line.production_rate": 0.1,  # [modules/h]
    "production_line.efficiency": 0.003,
    "production_line.defect_rate": 0.001,
    "environment.temperature": 0.05,  # [degC]
    "environment.humidity": 0.3,  # [% RH]
}

_CLIP = {
    "production_line.efficiency": (0.0, 1.0),
    "production_line.defect_rate": (0.0, 1.0),
    "environment.humidity": (0.0, 100.0),
}


def _clip_range(path: str) -> tuple[float, float]:
    # Temperatures may go anywhere; other readings are non-negative, fractions <= 1.
    if path in _CLIP:
        return _CLIP[path]
    if path.endswith("temperature"):
        return (-math.inf, math.inf)
    return (0.0, math.inf)


class SimulatedSensorSource:
    """Seeded simulated sensors: AR(1) noise around a base state, inventories drawn down.

    Each reading ``x[k+1] = base + phi * (x[k] - base) + sigma * e``, ``e ~ N(0, 1)``,
    per path of ``noise``; material inventories fall by ``production_rate * interval_s /
    3600 * consumption rate`` [kg] (``SIMULATION_PARAMETERS`` rates).

    Parameters
    ----------
    seed : int or numpy.random.Generator, optional
    base_state : dict, optional
        Values the readings revert to (default :func:`default_state`).
    noise : dict, optional
        ``{dotted_path: sigma}``; default :data:`DEFAULT_NOISE`.
    phi : float
        AR(1) persistence in [0, 1).
    interval_s : float
        Time between readings [s]; timestamps start at ``start`` (default now).
    n : int, optional
        Number of readings before the source is exhausted (``None``: endless).
    config : CircmanConfig, optional
        Consumption rates [kg/module]; defaults 0.5 (wafer) and 0.2 (glass).
    """

    def __init__(
        self,
        seed: int | np.random.Generator | None = None,
        *,
        base_state: Mapping[str, Any] | None = None,
        noise: Mapping[str, float] | None = None,
        phi: float = 0.9,
        interval_s: float = 1.0,
        start: datetime | None = None,
        n: int | None = None,
        config: Any = None,
    ) -> None:
        if not 0.0 <= phi < 1.0:
            raise ParameterError(f"phi must be in [0, 1), got {phi}", name="phi", value=phi)
        if not interval_s > 0:
            raise ParameterError("interval_s must be > 0", name="interval_s", value=interval_s)
        self.name = "simulated_sensors"
        self.rng = np.random.default_rng(seed)
        base = flatten_state(base_state or default_state(config))
        self.noise = dict(DEFAULT_NOISE if noise is None else noise)
        for path in self.noise:
            if not isinstance(base.get(path), int | float):
                raise ParameterError(
                    f"noise path {path!r} is not a numeric field of the base state",
                    name="noise",
                    value=path,
                )
        self._paths = list(self.noise)
        self._base = np.array([float(base[p]) for p in self._paths])
        self._sigma = np.array([float(self.noise[p]) for p in self._paths])
        self._x = self._base.copy()
        self.phi = float(phi)
        self.interval_s = float(interval_s)
        self._t = start or datetime.now()
        self._n = n
        self._count = 0
        sp = config.digital_twin.SIMULATION_PARAMETERS if config is not None else None
        self._rates = {
            "silicon_wafer": sp.silicon_wafer_consumption_rate if sp else 0.5,
            "solar_glass": sp.solar_glass_consumption_rate if sp else 0.2,
        }
        self._inventory = {m: float(base.get(f"materials.{m}.inventory", 0.0)) for m in self._rates}
        self._rate_index = (
            self._paths.index("production_line.production_rate")
            if "production_line.production_rate" in self._paths
            else None
        )
        self._base_rate = float(base.get("production_line.production_rate", 0.0))

    @property
    def exhausted(self) -> bool:
        return self._n is not None and self._count >= self._n

    def read(self) -> dict[str, Any] | None:
        """Return the next reading (a partial state with a timestamp)."""
        if self.exhausted:
            return None
        e = self.rng.standard_normal(len(self._paths))
        self._x = self._base + self.phi * (self._x - self._base) + self._sigma * e
        flat: dict[str, Any] = {"timestamp": self._t.isoformat()}
        for path, value in zip(self._paths, self._x, strict=True):
            lo, hi = _clip_range(path)
            flat[path] = float(min(max(value, lo), hi))
        rate = flat.get("production_line.production_rate", self._base_rate)
        modules = rate * self.interval_s / 3600.0
        for material, kg_per_module in self._rates.items():
            use = min(modules * kg_per_module, self._inventory[material])
            self._inventory[material] -= use
            flat[f"materials.{material}.inventory"] = self._inventory[material]
            flat[f"materials.{material}.consumption"] = use
        self._t += timedelta(seconds=self.interval_s)
        self._count += 1
        return nest_dotted(flat)


class ManualInputSource:
    """Operator input: a thread-safe queue of partial states (``put`` them, the twin reads)."""

    def __init__(self, items: list[Mapping[str, Any]] | None = None) -> None:
        self.name = "manual_input"
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._closed = False
        for item in items or ():
            self.put(item)

    def put(self, data: Mapping[str, Any]) -> None:
        """Queue a partial state (validated now, so a typo is reported to whoever typed it).

        As a twin update (:func:`~circman_kernel.core.state_merge.merge_state`): a typo
        raises with a did-you-mean, dotted keys are paths.
        """
        if not isinstance(data, Mapping):
            raise StateValidationError(
                f"manual input must be a mapping, got {type(data).__name__}", path="", value=data
            )
        self._queue.put(merge_state({}, data))

    def close(self) -> None:
        """No more input: the source is exhausted once the queue is empty."""
        self._closed = True

    @property
    def exhausted(self) -> bool:
        return self._closed and self._queue.empty()

    def read(self) -> dict[str, Any] | None:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None
