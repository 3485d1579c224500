"""Levers (decisions) and uncertainties: the two kinds of input of an exploratory experiment.

As in the EMA Workbench, an experiment names which inputs the line's operators set (the
**levers**: target temperature, regulation, cycle time) and which nobody controls (the
**uncertainties**: base defect rate, noise levels, impact factors), each with a range or a
distribution. :func:`sample_scenarios` draws uncertainties into a frame of *scenarios*,
:func:`sample_policies` draws levers into a frame of *policies*, and :func:`cross` crosses
them (every policy in every scenario) into the experiments that
:func:`~circman_kernel.simulation.experiments.perform_experiments` evaluates.

Inputs are process-model parameters (:data:`~circman_kernel.simulation.process.PARAMETERS`),
the manufacturing impact factors of :data:`IMPACT_INPUTS` (kg CO2-eq per kWh or kg), or
``grid_region``, a categorical input whose values are regions of the configuration's
``GRID_CARBON_INTENSITIES`` (the energy impact factor becomes that region's intensity).

>>> u = [Uncertainty("base_defect_rate", 0.005, 0.03), Uncertainty("temperature_noise", 0.05, 0.3)]
>>> p = [Lever("cycle_time", 20.0, 40.0)]
>>> x = cross(sample_policies(p, 2, seed=1), sample_scenarios(u, 3, seed=2))
>>> x.shape, list(x.columns)
((6, 5), ['cycle_time', 'base_defect_rate', 'temperature_noise', 'policy', 'scenario'])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.core.errors import ParameterError
from circman_kernel.simulation import process as pm
from circman_kernel.simulation.chunks import as_seed_sequence

__all__ = [
    "GRID_REGION",
    "IMPACT_INPUTS",
    "Lever",
    "Uncertainty",
    "cross",
    "input_names",
    "sample_policies",
    "sample_scenarios",
]

#: Impact-factor inputs: name -> (material or "energy", unit). They enter the carbon KPI.
IMPACT_INPUTS: dict[str, tuple[str, str]] = {
    "energy_impact_factor": ("energy", "kg CO2-eq/kWh"),
    "silicon_wafer_impact_factor": ("silicon_wafer", "kg CO2-eq/kg"),
    "solar_glass_impact_factor": ("solar_glass", "kg CO2-eq/kg"),
}
#: Categorical input: a region of ``GRID_CARBON_INTENSITIES`` powering the line.
GRID_REGION = "grid_region"
# Noise levels and the running/idle chain shape the noise draws, which a scenario shares
# with every policy (common random numbers); a decision cannot set them.
_NOT_LEVERS = frozenset(
    {"temperature_noise", "energy_noise", "measurement_noise", "start_probability",
     "stop_probability"}
)  # fmt: skip


def _check_input(name: Any) -> str:
    if name in pm.PARAMETERS or name in IMPACT_INPUTS or name == GRID_REGION:
        return name
    valid = ", ".join(sorted((*pm.PARAMETERS, *IMPACT_INPUTS, GRID_REGION)))
    raise ParameterError(f"unknown input {name!r}; valid names: {valid}", name="name", value=name)


@dataclass(frozen=True)
class Uncertainty:
    """An input nobody controls: a range, a distribution or a set of categories.

    Parameters
    ----------
    name : str
        A process parameter, an :data:`IMPACT_INPUTS` name or :data:`GRID_REGION`.
    low, high : float
        Range in the input's unit; uniform between them unless ``mode`` or ``dist``.
    mode : float, optional
        Triangular distribution on ``[low, high]`` peaking at ``mode``.
    dist : object, optional
        Any distribution with a ``ppf`` (a frozen ``scipy.stats`` one, e.g.
        ``scipy.stats.norm(0.01, 0.002)``); values outside ``[low, high]`` are cut to it
        when a range is given.
    categories : sequence, optional
        Discrete values drawn with equal probability (numbers, or region names for
        :data:`GRID_REGION`).
    nominal : float or str, optional
        The value of the nominal scenario (default: the configuration's, or the middle).
    """

    name: str
    low: float | None = None
    high: float | None = None
    mode: float | None = None
    dist: Any = None
    categories: tuple[Any, ...] | None = None
    nominal: Any = None

    def __post_init__(self) -> None:
        _check_input(self.name)
        if self.categories is not None:
            cats = tuple(self.categories)
            if not cats:
                raise ParameterError(f"{self.name}: categories are empty", name=self.name)
            object.__setattr__(self, "categories", cats)
        elif self.dist is None:
            lo, hi = self._range()
            if self.mode is not None and not lo <= self.mode <= hi:
                raise ParameterError(
                    f"{self.name}: mode {self.mode} lies outside [{lo}, {hi}]", name=self.name
                )
        elif not hasattr(self.dist, "ppf"):
            raise ParameterError(
                f"{self.name}: dist needs a ppf method (a frozen scipy.stats distribution)",
                name=self.name,
            )
        if self.name == GRID_REGION and self.categories is None:
            raise ParameterError("grid_region takes categories (region names)", name=self.name)

    def _range(self) -> tuple[float, float]:
        try:
            lo, hi = float(self.low), float(self.high)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ParameterError(
                f"{self.name}: give low and high, a dist or categories", name=self.name
            ) from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ParameterError(f"{self.name}: need finite low <= high", name=self.name)
        if self.name in pm.PARAMETERS:
            pm.validate_parameters({self.name: np.array([lo, hi])})
        return lo, hi

    @property
    def categorical(self) -> bool:
        return self.categories is not None

    def transform(self, unit: np.ndarray) -> np.ndarray | pd.Categorical:
        """Return the values at quantiles ``unit`` in [0, 1) (inverse-CDF sampling)."""
        if self.categories is not None:
            idx = np.minimum((unit * len(self.categories)).astype(int), len(self.categories) - 1)
            values = [self.categories[i] for i in idx]
            if all(isinstance(c, int | float) and not isinstance(c, bool) for c in self.categories):
                return np.asarray(values, dtype=float)
            return pd.Categorical(values, categories=list(dict.fromkeys(self.categories)))
        if self.dist is not None:
            values = np.asarray(self.dist.ppf(unit), dtype=float)
            if self.low is not None and self.high is not None:
                values = np.clip(values, *self._range())
            return values
        lo, hi = self._range()
        if self.mode is None or hi == lo:
            return lo + unit * (hi - lo)
        c = (self.mode - lo) / (hi - lo)
        left = lo + np.sqrt(unit * (hi - lo) * (self.mode - lo))
        right = hi - np.sqrt((1.0 - unit) * (hi - lo) * (hi - self.mode))
        return np.where(unit < c, left, right)

    def nominal_value(self, defaults: Mapping[str, Any]) -> Any:
        """Return the nominal value: ``nominal``, else the configured one, else the median."""
        if self.nominal is not None:
            return self.nominal
        if self.name in defaults:
            return defaults[self.name]
        if self.categories is not None:
            return self.categories[0]
        value = self.transform(np.array([0.5]))
        return float(np.asarray(value)[0])


@dataclass(frozen=True)
class Lever(Uncertainty):
    """A decision: an input the operators set, with the range a policy may take.

    Noise levels and start/stop probabilities are not decisions (a ParameterError says so);
    make them uncertainties.
    """

    def __post_init__(self) -> None:
        if self.name in _NOT_LEVERS:
            raise ParameterError(
                f"{self.name} is a noise setting, not a decision: make it an Uncertainty",
                name=self.name,
            )
        super().__post_init__()

    def bounds(self) -> tuple[float, float]:
        """Return ``(low, high)``; ParameterError for a categorical lever."""
        if self.categories is not None or self.dist is not None:
            raise ParameterError(
                f"lever {self.name}: optimisation needs a range (low, high)", name=self.name
            )
        return self._range()


def input_names(inputs: Sequence[Uncertainty]) -> list[str]:
    """Return the names of ``inputs``; ParameterError when one repeats or the list is empty."""
    names = [u.name for u in inputs]
    if not names:
        raise ParameterError("give at least one lever or uncertainty", name="inputs")
    if len(set(names)) != len(names):
        raise ParameterError(f"an input is named twice: {names}", name="inputs")
    return names


def _sample(
    inputs: Sequence[Uncertainty], n: int, seed: Any, method: str, index: str
) -> pd.DataFrame:
    names = input_names(inputs)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ParameterError(f"n must be an int >= 1, got {n!r}", name="n", value=n)
    rng = np.random.default_rng(as_seed_sequence(seed))
    if method == "lhs":
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(names), rng=rng).random(n)
    elif method == "monte_carlo":
        unit = rng.random((n, len(names)))
    else:
        raise ParameterError(
            f"method must be lhs or monte_carlo, got {method!r}", name="method", value=method
        )
    frame = pd.DataFrame({u.name: u.transform(unit[:, j]) for j, u in enumerate(inputs)})
    frame.index.name = index
    frame.attrs["inputs"] = tuple(inputs)
    return frame


def sample_scenarios(
    uncertainties: Sequence[Uncertainty], n: int, *, seed: Any = None, method: str = "lhs"
) -> pd.DataFrame:
    """Return ``n`` scenarios: one row per draw of the ``uncertainties``, one column each.

    ``method`` is ``"lhs"`` (Latin hypercube on the quantiles) or ``"monte_carlo"``.
    """
    return _sample(uncertainties, n, seed, method, "scenario")


def sample_policies(
    levers: Sequence[Lever], n: int, *, seed: Any = None, method: str = "lhs"
) -> pd.DataFrame:
    """Return ``n`` policies: one row per draw of the ``levers`` (uniform on their ranges)."""
    for lever in levers:
        if not isinstance(lever, Lever):
            raise ParameterError(
                f"{lever.name}: policies are drawn from Lever objects", name="levers"
            )
    return _sample(levers, n, seed, method, "policy")


def cross(policies: pd.DataFrame, scenarios: pd.DataFrame) -> pd.DataFrame:
    """Return every policy in every scenario: policy-major rows, ``policy`` and ``scenario`` ids.

    Row ``k * len(scenarios) + j`` is policy ``k`` in scenario ``j``.
    """
    shared = set(policies.columns) & set(scenarios.columns)
    if shared:
        raise ParameterError(
            f"an input is both a lever and an uncertainty: {sorted(shared)}", name="inputs"
        )
    n_p, n_s = len(policies), len(scenarios)
    left = policies.iloc[np.repeat(np.arange(n_p), n_s)].reset_index(drop=True)
    right = scenarios.iloc[np.tile(np.arange(n_s), n_p)].reset_index(drop=True)
    frame = pd.concat([left, right], axis=1)
    frame["policy"] = np.repeat(np.arange(n_p), n_s)
    frame["scenario"] = np.tile(np.arange(n_s), n_p)
    frame.index.name = "experiment"
    return frame
