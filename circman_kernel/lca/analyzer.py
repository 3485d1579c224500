"""Life-cycle assessment of PV modules: the manual's formulas as vectors (section 8, 16.3.3).

Every score is in kg CO2-eq. With quantities :math:`q_m` [kg], end-of-life recycling rates
:math:`r_m` [0..1], manufacturing energy :math:`E` [kWh], lifetime :math:`L` [yr], annual
generation :math:`a` [kWh/yr], grid intensity :math:`g` [kg CO2-eq/kWh] and transport
distance :math:`d` [km], the four phases are

.. math::

    CF_{mfg} &= \\sum_m q_m f^{mat}_m + E f^{E}                         \\\\
    CF_{use} &= L a f^{op} - L a g                                      \\\\
    CF_{eol} &= \\sum_m q_m (1 - r_m) f^{disp}_m + f^{T} d \\sum_m q_m   \\\\
    CF_{rec} &= \\sum_m q_m r_m f^{rec}_m                                \\\\
    CF_{total} &= CF_{mfg} + CF_{use} + CF_{eol}                        \\\\
    CF_{net} &= CF_{total} + CF_{rec}

(:math:`f^{op}` = ``OPERATIONAL_IMPACT_FACTOR``, 0.01 in the manual; :math:`f^{T}` =
``TRANSPORT_IMPACT_FACTOR`` / ``TRANSPORT_MASS_UNIT_KG``, i.e. the manual's 0.025 read as
kg CO2-eq per tonne·km). The total is the manual's (section 16.3.3), three terms; the
recycling credit :math:`CF_{rec}` lies beyond the product's life cycle and is reported
beside it, as EN 15804 reports module D, and the net :math:`CF_{net}`
(``net_impact``) is the total with the credit. Since :math:`f^{rec} \\le 0 \\le f^{disp}`,
more recycling never raises :math:`CF_{eol} + CF_{rec}`.

All phases are one product :math:`s = f A` of the profile's factor vector and an
activity matrix (see :mod:`circman_kernel.lca.factors`); Monte Carlo redraws :math:`f`.
The results are :mod:`circman_kernel.lca.results`; :class:`LCAIntegration` (twin states,
run store, reports) builds on this module in :mod:`circman_kernel.lca.integration`. All
of them are importable from :mod:`circman_kernel.lca`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from circman_kernel.core.errors import ParameterError
from circman_kernel.lca.factors import (
    FactorTables,
    check_number,
    resolve_profile,
    sample_factor_multipliers,
)
from circman_kernel.lca.results import LCAUncertainty, LifeCycleImpact

__all__ = ["LCAAnalyzer"]

_NAN = math.nan


class LCAAnalyzer:
    """Life-cycle assessment with one impact-factor profile (the manual's ``LCAAnalyzer``).

    Parameters
    ----------
    impact_factors : ImpactFactors, mapping, str, path or None
        The profile: a validated :class:`~circman_kernel.core.config.ImpactFactors`, a mapping of
        its keys, a profile name (``configs/impact_profiles/<name>.json``), a path, or
        ``None`` for the configuration's default (the manual's factors).
    config, config_dir : optional
        Where the default profile and named profiles come from.

    Examples
    --------
    >>> an = LCAAnalyzer()
    >>> impact = an.perform_full_lca({"silicon_wafer": 2.0, "solar_glass": 10.0}, 10.0,
    ...     25, 400.0, 0.275, {"silicon_wafer": 0.9, "solar_glass": 0.5}, 100.0)
    >>> [round(v, 4) for v in (impact.manufacturing_impact, impact.use_phase_impact,
    ...     impact.end_of_life_impact, impact.recycling_benefit, impact.total_impact,
    ...     impact.net_impact)]
    [495.0, -2650.0, 27.03, -244.0, -2127.97, -2371.97]
    """

    def __init__(
        self, impact_factors: Any = None, *, config: Any = None, config_dir: Any = None
    ) -> None:
        profile, name = resolve_profile(impact_factors, config=config, config_dir=config_dir)
        self.impact_factors = profile
        self.profile_name = name
        self.tables = FactorTables.from_profile(profile, name)
        m = self.tables.n_materials
        f = self.tables.factors
        self._m = m
        self._f_material, self._f_disposal, self._f_recycling = (
            f[:m],
            f[m : 2 * m],
            f[2 * m : 3 * m],
        )
        self._f_energy, _, self._f_transport, self._f_operation = (float(x) for x in f[3 * m :])

    def __repr__(self) -> str:
        return f"LCAAnalyzer(profile={self.profile_name!r}, materials={len(self.tables.materials)})"

    @property
    def materials(self) -> tuple[str, ...]:
        """Materials the profile has factors for."""
        return self.tables.materials

    # ----------------------------------------------------------------- the manual's phases

    def calculate_manufacturing_impact(
        self, material_inputs: Mapping[str, float], energy_consumption: float
    ) -> float:
        """Return :math:`\\sum_m q_m f^{mat}_m + E f^E` [kg CO2-eq].

        Parameters
        ----------
        material_inputs : mapping
            Material name -> quantity [kg].
        energy_consumption : float
            Manufacturing energy [kWh].

        >>> LCAAnalyzer().calculate_manufacturing_impact({"silicon_wafer": 1.0}, 10.0)
        125.0
        """
        q = self.tables.material_vector(material_inputs, "material_inputs")
        energy = check_number("energy_consumption", energy_consumption)
        return float(q @ self._f_material) + energy * self._f_energy

    def calculate_use_phase_impact(
        self,
        lifetime_years: float,
        annual_energy_generation: float,
        grid_carbon_intensity: float | str,
    ) -> float:
        """Return :math:`L a f^{op} - L a g` [kg CO2-eq]; negative is a net benefit.

        Parameters
        ----------
        lifetime_years : float
            Service life :math:`L` [yr].
        annual_energy_generation : float
            Generation :math:`a` [kWh/yr].
        grid_carbon_intensity : float or str
            :math:`g` [kg CO2-eq/kWh] or a region of ``GRID_CARBON_INTENSITIES``.

        >>> LCAAnalyzer().calculate_use_phase_impact(25, 400.0, "Germany")
        -3280.0
        """
        generation = check_number("lifetime_years", lifetime_years) * check_number(
            "annual_energy_generation", annual_energy_generation
        )
        grid, _ = self.tables.grid_intensity(grid_carbon_intensity)
        return generation * self._f_operation - generation * grid

    def calculate_end_of_life_impact(
        self,
        material_inputs: Mapping[str, float],
        recycling_rates: Mapping[str, float],
        transport_distance: float,
    ) -> float:
        """Return :math:`\\sum_m q_m (1-r_m) f^{disp}_m + f^T d \\sum_m q_m` [kg CO2-eq].

        Disposal of the share not recycled plus transport of the whole mass [kg] over
        ``transport_distance`` [km]; the recycling credit is :meth:`calculate_recycling_benefit`.

        >>> LCAAnalyzer().calculate_end_of_life_impact({"solar_glass": 10.0},
        ...                                            {"solar_glass": 0.5}, 100.0)
        25.025
        """
        q, r = self._inputs(material_inputs, recycling_rates)
        distance = check_number("transport_distance", transport_distance)
        return float((q - q * r) @ self._f_disposal) + self._f_transport * distance * float(q.sum())

    def calculate_recycling_benefit(
        self, material_inputs: Mapping[str, float], recycling_rates: Mapping[str, float]
    ) -> float:
        """Return the recycling credit :math:`\\sum_m q_m r_m f^{rec}_m` [kg CO2-eq] (<= 0).

        >>> LCAAnalyzer().calculate_recycling_benefit({"silicon_wafer": 2.0},
        ...                                           {"silicon_wafer": 0.9})
        -144.0
        """
        q, r = self._inputs(material_inputs, recycling_rates)
        return float((q * r) @ self._f_recycling)

    def _inputs(self, material_inputs: Any, recycling_rates: Any) -> tuple[np.ndarray, np.ndarray]:
        q = self.tables.material_vector(material_inputs, "material_inputs")
        r = self.tables.material_vector(recycling_rates, "recycling_rates", 1.0)
        return q, r

    # ----------------------------------------------------------------- the whole assessment

    def activity_matrix(
        self,
        material_inputs: Mapping[str, float],
        energy_consumption: float,
        lifetime_years: float,
        annual_energy_generation: float,
        grid_carbon_intensity: float | str,
        recycling_rates: Mapping[str, float],
        transport_distance: float,
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Return the validated activity matrix :math:`A` (K x 4) and the context values."""
        m = self._m
        tables = self.tables
        a = np.zeros((3 * m + 4, 4))
        q = a[:m, 0]
        mass = tables.fill(q, material_inputs, "material_inputs")
        r = np.zeros(m)
        tables.fill(r, recycling_rates, "recycling_rates", 1.0)
        energy = check_number("energy_consumption", energy_consumption)
        lifetime = check_number("lifetime_years", lifetime_years)
        annual = check_number("annual_energy_generation", annual_energy_generation)
        grid, _ = tables.grid_intensity(grid_carbon_intensity)
        distance = check_number("transport_distance", transport_distance)
        generation = lifetime * annual
        qr = np.multiply(q, r, out=a[2 * m : 3 * m, 3])
        np.subtract(q, qr, out=a[m : 2 * m, 2])
        a[3 * m, 0] = energy
        a[3 * m + 1, 1] = -generation * grid
        a[3 * m + 2, 2] = distance * mass
        a[3 * m + 3, 1] = generation
        return a, {
            "lifetime_years": lifetime,
            "annual_energy_generation": annual,
            "manufacturing_energy_kwh": energy,
            "grid_carbon_intensity": grid,
        }

    def perform_full_lca(
        self,
        material_inputs: Mapping[str, float],
        energy_consumption: float,
        lifetime_years: float,
        annual_energy_generation: float,
        grid_carbon_intensity: float | str,
        recycling_rates: Mapping[str, float],
        transport_distance: float,
        *,
        n_modules: float | None = None,
        capacity_kwp: float | None = None,
    ) -> LifeCycleImpact:
        """Return the four phases, total and breakdown of one assessment.

        Parameters are those of the ``calculate_*`` methods; ``n_modules`` and
        ``capacity_kwp`` [kWp] (default ``n_modules * MODULE_POWER_KWP``) give the
        per-module and per-kWp functional units.
        """
        a, context = self.activity_matrix(
            material_inputs,
            energy_consumption,
            lifetime_years,
            annual_energy_generation,
            grid_carbon_intensity,
            recycling_rates,
            transport_distance,
        )
        return self._impact(a, context, n_modules, capacity_kwp)

    def _impact(
        self,
        a: np.ndarray,
        context: dict[str, float],
        n_modules: float | None,
        capacity_kwp: float | None,
    ) -> LifeCycleImpact:
        f = self.tables.factors
        s = (f @ a).tolist()
        modules = _NAN if n_modules is None else check_number("n_modules", n_modules)
        if capacity_kwp is None:
            kwp = modules * self.impact_factors.MODULE_POWER_KWP
        else:
            kwp = check_number("capacity_kwp", capacity_kwp)
        # Every field set at once, past the frozen dataclass's per-field __setattr__: this
        # is a third of a single assessment's cost (tests check that all fields are set).
        a.setflags(write=False)  # a frozen value: its breakdown must not change either
        impact = object.__new__(LifeCycleImpact)
        impact.__dict__.update(
            manufacturing_impact=s[0],
            use_phase_impact=s[1],
            end_of_life_impact=s[2],
            recycling_benefit=s[3],
            activity=a,
            factors=f,
            labels=self.tables.labels,
            n_modules=modules,
            capacity_kwp=kwp,
            operational_factor=self._f_operation,
            profile=self.profile_name,
            **context,
        )
        return impact

    def monte_carlo(
        self,
        material_inputs: Mapping[str, float],
        energy_consumption: float,
        lifetime_years: float,
        annual_energy_generation: float,
        grid_carbon_intensity: float | str,
        recycling_rates: Mapping[str, float],
        transport_distance: float,
        *,
        samples: int = 10_000,
        spread: Any = None,
        distribution: str | None = None,
        seed: Any = None,
        n_modules: float | None = None,
        capacity_kwp: float | None = None,
    ) -> LCAUncertainty:
        """Return the distribution of every phase under factor uncertainty.

        The factor vector is redrawn ``samples`` times as one ``samples x K`` matrix
        :math:`F` (see :func:`~circman_kernel.lca.factors.sample_factor_multipliers`) and the
        phases solved as one product :math:`S = F A`. Only factors with a spread and a
        non-zero activity row are drawn (the others add exactly :math:`f A`), so a zero
        spread returns the deterministic phases exactly.

        Parameters
        ----------
        samples : int
            Number of draws :math:`N`.
        spread : None, float or mapping
            Relative spread per factor (None: the profile's ``FACTOR_UNCERTAINTY``).
        distribution : {"lognormal", "normal"}, optional
            Default: the profile's ``UNCERTAINTY_DISTRIBUTION``.
        seed : int or numpy.random.Generator, optional
            Same seed, same distribution.
        """
        if type(samples) is not int or samples < 1:
            raise ParameterError(
                f"samples must be a positive int, got {samples!r}", name="samples", value=samples
            )
        a, context = self.activity_matrix(
            material_inputs,
            energy_consumption,
            lifetime_years,
            annual_energy_generation,
            grid_carbon_intensity,
            recycling_rates,
            transport_distance,
        )
        impact = self._impact(a, context, n_modules, capacity_kwp)
        _, region = self.tables.grid_intensity(grid_carbon_intensity)
        spreads = self.tables.spreads(spread, region)
        spreads.setflags(write=False)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        dist = distribution or self.impact_factors.UNCERTAINTY_DISTRIBUTION
        # Only factors that are uncertain and used move: S = f A + ((m - 1) f)[:, k] A[k].
        # The deviations are drawn in float32 (half the cost; 7 digits on a spread of
        # percent), the deterministic part f A stays float64.
        f = self.tables.factors
        active = np.flatnonzero((spreads > 0) & (f != 0) & (a != 0).any(axis=1))
        deviation = sample_factor_multipliers(spreads[active], samples, rng, dist, np.float32)
        deviation -= np.float32(1.0)
        deviation *= f[active].astype(np.float32)
        result = (deviation @ a[active].astype(np.float32)).astype(np.float64)
        result += f @ a
        result.setflags(write=False)
        return LCAUncertainty(result, impact, spreads, dist, seed)

    def carbon_footprint_kpis(self, kpis: Mapping[str, float]) -> dict[str, float]:
        """Return the manufacturing carbon footprint of simulation KPIs [kg CO2-eq].

        Reads ``energy_kwh``, ``<material>_kg`` for every known material present and
        ``output_modules``; returns ``carbon_footprint_kg_co2e`` and
        ``carbon_footprint_per_module_kg_co2e`` (NaN without modules).

        >>> LCAAnalyzer().carbon_footprint_kpis({"energy_kwh": 10.0, "silicon_wafer_kg": 1.0,
        ...                                      "output_modules": 5.0})
        {'carbon_footprint_kg_co2e': 125.0, 'carbon_footprint_per_module_kg_co2e': 25.0}
        """
        inputs = {m: kpis[f"{m}_kg"] for m in self.materials if f"{m}_kg" in kpis}
        footprint = self.calculate_manufacturing_impact(inputs, kpis.get("energy_kwh", 0.0))
        modules = check_number("output_modules", kpis.get("output_modules", 0.0))
        per_module = footprint / modules if modules > 0 else _NAN
        return {
            "carbon_footprint_kg_co2e": footprint,
            "carbon_footprint_per_module_kg_co2e": per_module,
        }
