"""Impact-factor profiles as vectors, cheap input validation and factor sampling for the LCA.

An impact-factor profile (:class:`~circman_kernel.core.config.ImpactFactors`) becomes one
factor vector :math:`f` of length :math:`K = 3M + 4` for :math:`M` materials::

    f = [material_1..M, disposal_1..M, recycling_1..M, energy, grid, transport, operation]

A life-cycle assessment is then linear in the factors: with the activity matrix
:math:`A` (:math:`K \\times 4`, one column per phase: manufacturing, use, end of life,
recycling) built from the inputs, the phase scores are :math:`s = f A` and the
contributions :math:`f_k A_{kp}` are the breakdown. Monte Carlo redraws :math:`f` as an
:math:`N \\times K` matrix :math:`F` and re-solves :math:`S = F A` in one product.

Units: material, disposal and recycling factors [kg CO2-eq/kg]; energy and operation
[kg CO2-eq/kWh]; transport [kg CO2-eq/(kg·km)] after dividing the profile's factor by
``TRANSPORT_MASS_UNIT_KG`` (1000 kg: the profile gives kg CO2-eq per tonne·km); the grid
slot is a dimensionless multiplier (1.0) on the grid intensity carried by :math:`A`.

Profiles are JSON files shaped like ``configs/impact_factors.json``; a named profile lives
in ``<config dir>/impact_profiles/<name>.json`` and keys it leaves out take the values of
the configuration's default profile.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from circman_kernel.core.config import (
    CircmanConfig,
    _format_errors,
    _read_json,
    load_config,
)
from circman_kernel.core.config_schema import ImpactFactors
from circman_kernel.core.errors import ParameterError
from circman_kernel.core.paths import default_config_dir

__all__ = [
    "FACTOR_GROUPS",
    "PHASES",
    "FactorTables",
    "available_profiles",
    "check_number",
    "resolve_profile",
    "sample_factor_multipliers",
]

#: The four phases, in the column order of the activity matrix.
PHASES = ("manufacturing_impact", "use_phase_impact", "end_of_life_impact", "recycling_benefit")
#: The factor groups of a profile that carry an uncertainty spread.
FACTOR_GROUPS = (
    "MATERIAL_IMPACT_FACTORS",
    "ENERGY_IMPACT_FACTOR",
    "GRID_CARBON_INTENSITIES",
    "TRANSPORT_IMPACT_FACTOR",
    "DISPOSAL_IMPACT_FACTORS",
    "RECYCLING_BENEFIT_FACTORS",
    "OPERATIONAL_IMPACT_FACTOR",
)
_INF = math.inf


def check_number(name: str, value: Any, minimum: float = 0.0, maximum: float = _INF) -> float:
    """Return ``value`` as a float in ``[minimum, maximum]``, else raise ParameterError.

    NaN, infinity, booleans and non-numbers are rejected.
    """
    kind = type(value)
    if kind is float or kind is int or isinstance(value, numbers.Real) and kind is not bool:
        number = float(value)
    else:
        raise ParameterError(f"{name}: expected a number, got {value!r}", name=name, value=value)
    if minimum <= number <= maximum and number != _INF:
        return number
    if number != number:
        reason = "is NaN"
    elif number in (_INF, -_INF):
        reason = "is infinite"
    else:
        reason = f"= {number!r} is outside [{minimum}, {maximum}]"
    raise ParameterError(
        f"{name} {reason}; pass a finite number in [{minimum}, {maximum}]", name=name, value=value
    )


@dataclass(frozen=True, eq=False)
class FactorTables:
    """A profile's factors as read-only vectors over a fixed material order.

    Attributes
    ----------
    profile : ImpactFactors
        The validated profile the vectors come from.
    name : str
        Profile name (``"default"``, a file stem, or ``"custom"``).
    materials : tuple of str
        Material order of every per-material vector.
    index : Mapping[str, int]
        Material name -> position.
    factors : numpy.ndarray
        The factor vector :math:`f` (length :math:`3M + 4`), see the module docstring.
    labels : tuple of str
        One label per entry of ``factors`` (``"material:silicon_wafer"``, ``"energy"``...).
    """

    profile: ImpactFactors
    name: str
    materials: tuple[str, ...]
    index: Mapping[str, int]
    factors: np.ndarray
    labels: tuple[str, ...]

    @classmethod
    def from_profile(cls, profile: ImpactFactors, name: str = "custom") -> FactorTables:
        """Build the vectors of ``profile`` (missing disposal/recycling entries are 0)."""
        materials = tuple(profile.MATERIAL_IMPACT_FACTORS)
        material = [profile.MATERIAL_IMPACT_FACTORS[m] for m in materials]
        disposal = [profile.DISPOSAL_IMPACT_FACTORS.get(m, 0.0) for m in materials]
        recycling = [profile.RECYCLING_BENEFIT_FACTORS.get(m, 0.0) for m in materials]
        transport = profile.TRANSPORT_IMPACT_FACTOR / profile.TRANSPORT_MASS_UNIT_KG
        tail = [profile.ENERGY_IMPACT_FACTOR, 1.0, transport, profile.OPERATIONAL_IMPACT_FACTOR]
        factors = np.array(material + disposal + recycling + tail, dtype=float)
        factors.setflags(write=False)
        labels = tuple(
            [f"material:{m}" for m in materials]
            + [f"disposal:{m}" for m in materials]
            + [f"recycling:{m}" for m in materials]
            + ["energy", "grid", "transport", "operation"]
        )
        return cls(
            profile, name, materials, {m: i for i, m in enumerate(materials)}, factors, labels
        )

    @property
    def n_materials(self) -> int:
        """Number of materials :math:`M`."""
        return len(self.materials)

    def grid_intensity(self, grid_carbon_intensity: Any) -> tuple[float, str | None]:
        """Return (intensity [kg CO2-eq/kWh], region name or None) for a number or a region."""
        if isinstance(grid_carbon_intensity, str):
            regions = self.profile.GRID_CARBON_INTENSITIES
            if grid_carbon_intensity not in regions:
                raise ParameterError(
                    f"unknown grid region {grid_carbon_intensity!r}; known regions: "
                    f"{', '.join(regions)} (or pass an intensity in kg CO2-eq/kWh)",
                    name="grid_carbon_intensity",
                    value=grid_carbon_intensity,
                )
            return regions[grid_carbon_intensity], grid_carbon_intensity
        return check_number("grid_carbon_intensity", grid_carbon_intensity), None

    def material_vector(self, values: Any, name: str, maximum: float = _INF) -> np.ndarray:
        """Return a length-M vector from ``{material: number}``; unknown names raise."""
        vector = np.zeros(len(self.materials))
        self.fill(vector, values, name, maximum)
        return vector

    def fill(self, out: np.ndarray, values: Any, name: str, maximum: float = _INF) -> float:
        """Write ``{material: number}`` into ``out`` (length M), return the sum of values.

        Each value must be a finite number in ``[0, maximum]``; unknown materials raise
        :class:`~circman_kernel.core.errors.ParameterError` listing the known ones.
        """
        if type(values) is not dict and not isinstance(values, Mapping):
            raise ParameterError(
                f"{name}: expected a mapping of material -> number, got {type(values).__name__}",
                name=name,
                value=values,
            )
        index = self.index
        total = 0.0
        for key, value in values.items():
            position = index.get(key)
            if position is None:
                raise ParameterError(
                    f"{name}: unknown material {key!r}; known materials: "
                    f"{', '.join(self.materials)}",
                    name=name,
                    value=key,
                )
            # Fast path for plain floats; everything else goes through the full check.
            if not (type(value) is float and 0.0 <= value <= maximum and value != _INF):
                value = check_number(f"{name}[{key!r}]", value, 0.0, maximum)
            out[position] = value
            total += value
        return total

    def spreads(self, spread: Any = None, region: str | None = None) -> np.ndarray:
        """Return the relative spread (coefficient of variation) of each factor, length K.

        Parameters
        ----------
        spread : None, float or mapping, optional
            ``None``: the profile's ``FACTOR_UNCERTAINTY``; a float: that spread for every
            factor; a mapping: the profile's spreads updated by ``{"GROUP": s}`` or
            ``{"GROUP.name": s}`` entries.
        region : str, optional
            Grid region in use; ``"GRID_CARBON_INTENSITIES.<region>"`` then applies.
        """
        if spread is None:
            table = dict(self.profile.FACTOR_UNCERTAINTY)
        elif isinstance(spread, Mapping):
            table = {**self.profile.FACTOR_UNCERTAINTY, **spread}
            try:
                checked = ImpactFactors.model_validate(
                    {**self.profile.model_dump(), "FACTOR_UNCERTAINTY": table}
                )
                table = dict(checked.FACTOR_UNCERTAINTY)
            except ValidationError as exc:
                message = str(_format_errors("spread", ImpactFactors, exc))
                raise ParameterError(message, name="spread", value=dict(spread)) from None
        else:
            value = check_number("spread", spread)
            table = dict.fromkeys(FACTOR_GROUPS, value)

        def get(group: str, entry: str | None = None) -> float:
            if entry is not None and f"{group}.{entry}" in table:
                return table[f"{group}.{entry}"]
            return table.get(group, 0.0)

        out = [get("MATERIAL_IMPACT_FACTORS", m) for m in self.materials]
        out += [get("DISPOSAL_IMPACT_FACTORS", m) for m in self.materials]
        out += [get("RECYCLING_BENEFIT_FACTORS", m) for m in self.materials]
        out += [
            get("ENERGY_IMPACT_FACTOR"),
            get("GRID_CARBON_INTENSITIES", region),
            get("TRANSPORT_IMPACT_FACTOR"),
            get("OPERATIONAL_IMPACT_FACTOR"),
        ]
        return np.array(out, dtype=float)


def sample_factor_multipliers(
    spreads: np.ndarray,
    samples: int,
    rng: np.random.Generator,
    distribution: str = "lognormal",
    dtype: Any = np.float64,
) -> np.ndarray:
    """Draw an ``samples x K`` matrix of multiplicative factor perturbations.

    Each factor :math:`k` with relative spread :math:`s_k` is multiplied by :math:`m_k`:

    .. math::

        \\text{lognormal:}\\quad m = \\exp(\\sigma z - \\sigma^2/2),\\;
        \\sigma = \\sqrt{\\ln(1 + s^2)} \\qquad
        \\text{normal:}\\quad m = 1 + s z, \\qquad z \\sim N(0, 1)

    Both keep the factor's mean and give a coefficient of variation :math:`s`; the
    lognormal keeps the factor's sign. :math:`s = 0` gives :math:`m = 1` exactly.
    ``dtype=numpy.float32`` halves the cost (7 significant digits per multiplier).

    >>> m = sample_factor_multipliers(np.array([0.0, 0.1]), 4, np.random.default_rng(0))
    >>> m[:, 0].tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    z = rng.standard_normal((samples, spreads.shape[0]), dtype=dtype)
    spreads = spreads.astype(dtype)
    if distribution == "lognormal":
        sigma = np.sqrt(np.log1p(spreads * spreads))
        z *= sigma
        z -= sigma * sigma / 2
        return np.exp(z, out=z)
    if distribution == "normal":
        z *= spreads
        z += 1.0
        return z
    raise ParameterError(
        f"distribution {distribution!r}: use 'lognormal' or 'normal'",
        name="distribution",
        value=distribution,
    )


# --------------------------------------------------------------------------- profiles


def _profiles_dir(config_dir: str | Path | None) -> Path | None:
    folder = Path(config_dir).expanduser() if config_dir is not None else default_config_dir()
    return folder / "impact_profiles" if folder is not None else None


def available_profiles(config_dir: str | Path | None = None) -> tuple[str, ...]:
    """Return the profile names usable by name: ``"default"`` and the files' stems."""
    folder = _profiles_dir(config_dir)
    stems = sorted(p.stem for p in folder.glob("*.json")) if folder and folder.is_dir() else []
    return ("default", *stems)


def resolve_profile(
    spec: Any = None, *, config: CircmanConfig | None = None, config_dir: str | Path | None = None
) -> tuple[ImpactFactors, str]:
    """Return ``(profile, name)`` for a profile given in any of the accepted forms.

    Parameters
    ----------
    spec : None, ImpactFactors, CircmanConfig, mapping, str or path
        ``None`` or ``"default"``: the configuration's ``impact_factors``; a mapping:
        validated as a profile (keys left out take the manual's defaults); a name:
        ``<config dir>/impact_profiles/<name>.json``; a path to a JSON file. A file's
        missing keys take the configuration's default profile.
    config : CircmanConfig, optional
        Configuration whose default profile is the base (default: :func:`load_config`).
    config_dir : str or Path, optional
        Configuration folder holding ``impact_profiles/``.
    """
    if isinstance(spec, ImpactFactors):
        return spec, "custom"
    if isinstance(spec, CircmanConfig):
        return spec.impact_factors, "default"
    if isinstance(spec, Mapping):
        return _validate(dict(spec), "profile mapping"), "custom"
    base = (config or load_config(config_dir)).impact_factors
    if spec is None or spec == "default":
        return base, "default"
    if not isinstance(spec, (str, Path)):
        raise ParameterError(
            f"impact_factors: expected a profile name, path, mapping or "
            f"ImpactFactors, got {type(spec).__name__}",
            name="impact_factors",
        )
    path = Path(spec).expanduser()
    if not (path.suffix == ".json" or path.is_file()):
        folder = _profiles_dir(config_dir)
        path = folder / f"{spec}.json" if folder is not None else path
        if not path.is_file():
            raise ParameterError(
                f"unknown impact profile {str(spec)!r}; known profiles: "
                f"{', '.join(available_profiles(config_dir))} (or give a path to a JSON file)",
                name="impact_factors",
                value=spec,
            )
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ParameterError(f"{path.name}: a profile must be a JSON object", name="impact_factors")
    return _validate({**base.model_dump(mode="json"), **data}, path.name), path.stem


def _validate(data: dict[str, Any], file: str) -> ImpactFactors:
    try:
        return ImpactFactors.model_validate(json.loads(json.dumps(data)))
    except ValidationError as exc:
        raise _format_errors(file, ImpactFactors, exc) from None
    except (TypeError, ValueError) as exc:  # not JSON-like (e.g. a set inside)
        raise ParameterError(f"{file}: {exc}", name="impact_factors") from None
