"""Values returned by the LCA: one assessment (:class:`LifeCycleImpact`) and a Monte Carlo
distribution (:class:`LCAUncertainty`); scores in kg CO2-eq."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.core.errors import ParameterError
from circman_kernel.lca.factors import PHASES

__all__ = ["LCAUncertainty", "LifeCycleImpact"]

_NAN = math.nan


def read_only(values: Any) -> np.ndarray:
    """Return ``values`` as a float array nobody can write to: a frozen value's own copy.

    An array that is already read-only and owns its data is returned as it is; anything
    else is copied first, so that the caller's array keeps its flags and cannot change
    the value through a shared buffer.

    >>> a = read_only([1.0, 2.0])
    >>> a.flags.writeable
    False
    """
    arr = np.asarray(values, dtype=float)
    if arr.flags.writeable or arr.base is not None:
        arr = arr.copy()
        arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class LifeCycleImpact:
    """The four phase scores [kg CO2-eq] of one assessment, with their breakdown.

    :attr:`total_impact` is the manual's total (manufacturing + use + end of life); the
    recycling credit is reported beside it (EN 15804 module D) and included in
    :attr:`net_impact`.

    ``activity`` (:math:`A`, :math:`K \\times 4`) and ``factors`` (:math:`f`, length
    :math:`K`, entries named by ``labels``) are the inputs of the product :math:`s = f A`;
    :attr:`contributions` and :meth:`to_frame` break the phases down. The context fields
    (lifetime, generation, modules, capacity) give the functional units; NaN where unknown.
    """

    manufacturing_impact: float
    use_phase_impact: float
    end_of_life_impact: float
    recycling_benefit: float
    activity: np.ndarray | None = None
    factors: np.ndarray | None = None
    labels: tuple[str, ...] = ()
    lifetime_years: float = _NAN
    annual_energy_generation: float = _NAN
    manufacturing_energy_kwh: float = _NAN
    grid_carbon_intensity: float = _NAN
    n_modules: float = _NAN
    capacity_kwp: float = _NAN
    operational_factor: float = 0.01
    profile: str = "custom"

    def __post_init__(self) -> None:
        # LCAAnalyzer builds its values past __init__ with arrays already read-only.
        for name in ("activity", "factors"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, read_only(value))

    @property
    def contributions(self) -> np.ndarray | None:
        """Each factor's contribution to each phase, :math:`f_k A_{kp}` (K x 4) [kg CO2-eq]."""
        if self.activity is None or self.factors is None:
            return None
        return self.activity * self.factors[:, None]

    @property
    def total_impact(self) -> float:
        """Manufacturing + use + end of life [kg CO2-eq], the manual's total (16.3.3).

        The recycling credit is not in it: it is reported beside it
        (:attr:`recycling_benefit`, EN 15804 module D); :attr:`net_impact` adds it.
        """
        return self.manufacturing_impact + self.use_phase_impact + self.end_of_life_impact

    @property
    def net_impact(self) -> float:
        """Total with the recycling credit [kg CO2-eq]: :attr:`total_impact` + module D."""
        return self.total_impact + self.recycling_benefit

    @property
    def embodied_impact(self) -> float:
        """Manufacturing + end of life + recycling credit [kg CO2-eq] (no use phase).

        The per-module, per-kWp and per-kWh scores and the carbon payback count the
        credit, as a module's footprint with recycling at its end of life.
        """
        return self.manufacturing_impact + self.end_of_life_impact + self.recycling_benefit

    @property
    def total_generation_kwh(self) -> float:
        """Lifetime generation :math:`L a` [kWh]."""
        return self.lifetime_years * self.annual_energy_generation

    def _ratio(self, value: float, denominator: float) -> float:
        return value / denominator if denominator > 0 else _NAN

    @property
    def impact_per_kwh(self) -> float:
        """Carbon intensity of the electricity [kg CO2-eq/kWh]: (embodied + operation) / kWh.

        Avoided grid emissions are left out, as in a PV carbon footprint per kWh.
        """
        operation = self.total_generation_kwh * self.operational_factor
        return self._ratio(self.embodied_impact + operation, self.total_generation_kwh)

    @property
    def impact_per_module(self) -> float:
        """Embodied impact per module [kg CO2-eq/module]."""
        return self._ratio(self.embodied_impact, self.n_modules)

    @property
    def impact_per_kwp(self) -> float:
        """Embodied impact per installed peak power [kg CO2-eq/kWp]."""
        return self._ratio(self.embodied_impact, self.capacity_kwp)

    @property
    def energy_payback_time_years(self) -> float:
        """Manufacturing energy / annual generation [yr] (the line's direct energy only)."""
        return self._ratio(self.manufacturing_energy_kwh, self.annual_energy_generation)

    @property
    def carbon_payback_time_years(self) -> float:
        """Embodied impact / net annual avoided emissions [yr]; ``inf`` if never paid back."""
        net = self.annual_energy_generation * (self.grid_carbon_intensity - self.operational_factor)
        if self.embodied_impact <= 0:
            return 0.0
        return self.embodied_impact / net if net > 0 else math.inf

    def functional_units(self) -> dict[str, float]:
        """Return the per-unit scores and payback times as a flat dict."""
        return {
            "impact_per_module": self.impact_per_module,
            "impact_per_kwp": self.impact_per_kwp,
            "impact_per_kwh": self.impact_per_kwh,
            "energy_payback_time_years": self.energy_payback_time_years,
            "carbon_payback_time_years": self.carbon_payback_time_years,
        }

    def to_frame(self) -> pd.DataFrame:
        """Return the breakdown: one row per material and per non-material contributor.

        Rows: each material, ``energy``, ``transport``, ``operation``, ``avoided_grid``;
        columns: the four phases, ``total_impact`` (the first three) and ``net_impact``
        (with the recycling credit). Column sums equal the phases.
        """
        c = self.contributions
        if c is None:
            values = np.array(
                [
                    [
                        self.manufacturing_impact,
                        self.use_phase_impact,
                        self.end_of_life_impact,
                        self.recycling_benefit,
                    ]
                ]
            )
            frame = pd.DataFrame(
                values, index=pd.Index(["total"], name="contributor"), columns=list(PHASES)
            )
        else:
            n = (len(self.labels) - 4) // 3
            materials = c[:n] + c[n : 2 * n] + c[2 * n : 3 * n]
            rows = np.vstack([materials, c[3 * n], c[3 * n + 2], c[3 * n + 3], c[3 * n + 1]])
            names = [lab.split(":", 1)[1] for lab in self.labels[:n]]
            names += ["energy", "transport", "operation", "avoided_grid"]
            frame = pd.DataFrame(
                rows, index=pd.Index(names, name="contributor"), columns=list(PHASES)
            )
        frame["total_impact"] = frame[list(PHASES[:3])].sum(axis=1)
        frame["net_impact"] = frame["total_impact"] + frame[PHASES[3]]
        return frame

    def to_dict(self) -> dict[str, Any]:
        """Return phases, total, net, functional units, context and the breakdown (JSON-ready)."""
        out: dict[str, Any] = {p: float(getattr(self, p)) for p in PHASES}
        out["total_impact"] = self.total_impact
        out["net_impact"] = self.net_impact
        out["embodied_impact"] = self.embodied_impact
        out.update(self.functional_units())
        for key in (
            "lifetime_years",
            "annual_energy_generation",
            "manufacturing_energy_kwh",
            "grid_carbon_intensity",
            "n_modules",
            "capacity_kwp",
        ):
            out[key] = float(getattr(self, key))
        out["profile"] = self.profile
        out["breakdown"] = {
            name: {k: float(v) for k, v in row.items()}
            for name, row in self.to_frame().to_dict(orient="index").items()
        }
        return out


@dataclass(frozen=True, eq=False)
class LCAUncertainty:
    """Monte Carlo distribution of the phase scores under factor uncertainty.

    ``samples`` is ``N x 4`` [kg CO2-eq], columns in :data:`PHASES` order;
    ``deterministic`` the assessment with the profile's factors.
    """

    samples: np.ndarray
    deterministic: LifeCycleImpact
    spreads: np.ndarray
    distribution: str
    seed: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "samples", read_only(self.samples))
        object.__setattr__(self, "spreads", read_only(self.spreads))

    def __getitem__(self, phase: str) -> np.ndarray:
        """Return the sample array of one phase, of ``"total_impact"`` or ``"net_impact"``."""
        if phase == "total_impact":
            return self.total
        if phase == "net_impact":
            return self.net
        if phase not in PHASES:
            raise ParameterError(
                f"unknown phase {phase!r}; known: {', '.join(PHASES)}, total_impact, net_impact",
                name="phase",
                value=phase,
            )
        return self.samples[:, PHASES.index(phase)]

    @property
    def total(self) -> np.ndarray:
        """Samples of the total [kg CO2-eq]: manufacturing + use + end of life."""
        return self.samples[:, :3].sum(axis=1)

    @property
    def net(self) -> np.ndarray:
        """Samples of the net [kg CO2-eq]: the total with the recycling credit."""
        return self.samples.sum(axis=1)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per sample, a column per phase, ``total_impact`` and ``net_impact``."""
        frame = pd.DataFrame(self.samples, columns=list(PHASES))
        frame["total_impact"] = self.total
        frame["net_impact"] = self.net
        frame.index.name = "sample"
        return frame

    def percentiles(self, q: tuple[float, ...] = (5.0, 50.0, 95.0)) -> pd.DataFrame:
        """Return ``p5``, ``p50``, ``p95`` (or ``q``), mean and std per phase, total and net."""
        values = np.column_stack([self.samples, self.total, self.net])
        table = np.percentile(values, q, axis=0).T
        frame = pd.DataFrame(
            table,
            columns=[f"p{x:g}" for x in q],
            index=pd.Index([*PHASES, "total_impact", "net_impact"], name="phase"),
        )
        frame["mean"] = values.mean(axis=0)
        frame["std"] = values.std(axis=0, ddof=1) if len(values) > 1 else 0.0
        frame["deterministic"] = [
            *(getattr(self.deterministic, p) for p in PHASES),
            self.deterministic.total_impact,
            self.deterministic.net_impact,
        ]
        return frame
