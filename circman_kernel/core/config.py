"""Typed, immutable configuration loaded from ``configs/*.json`` and validated by pydantic.

Three files make a configuration folder (the manual's section 16.1):

* ``digital_twin.json``: ``DIGITAL_TWIN_CONFIG``, ``SIMULATION_PARAMETERS``,
  ``EVENT_NOTIFICATION``, ``PARAMETER_THRESHOLDS``, ``AI_INTEGRATION``;
* ``impact_factors.json``: the default LCA impact-factor profile;
* ``optimization.json``: objective weights, solver, surrogate-model and Pareto settings.

Every section must be present in a file; keys left out of a section take the manual's
default. Any problem raises :class:`~circman_kernel.core.errors.ConfigError` naming the file,
the dotted key path, the bad value and what is expected.

>>> cfg = load_config()
>>> cfg.digital_twin.SIMULATION_PARAMETERS.target_temperature
22.5
>>> cfg.with_overrides({"digital_twin.SIMULATION_PARAMETERS.target_temperature": 23.0}
...                    ).digital_twin.SIMULATION_PARAMETERS.target_temperature
23.0
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
import reprlib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from circman_kernel.core.errors import ConfigError
from circman_kernel.core.paths import default_config_dir
from circman_kernel.core.state_schema import _NUM as _STATE_NUMBER
from circman_kernel.core.state_schema import SCHEMA as STATE_SCHEMA

__all__ = [
    "CONFIG_FILES",
    "AIIntegrationConfig",
    "CircmanConfig",
    "DigitalTwinFile",
    "DigitalTwinSettings",
    "EventNotificationConfig",
    "ImpactFactors",
    "OptimizationFile",
    "PARAMETER_NAMES",
    "SimulationParameters",
    "default_config",
    "load_config",
]

# --------------------------------------------------------------------------- field types


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _ordered_bounds(bounds: tuple[float, float]) -> tuple[float, float]:
    lower, upper = bounds
    if lower > upper:
        raise ValueError(f"lower bound {lower} > upper bound {upper}")
    return bounds


def _frozen_mapping(value: dict) -> Mapping:
    return MappingProxyType(dict(value))


_as_dict = PlainSerializer(lambda m: dict(m), when_used="always")

Bounds = Annotated[tuple[float, float], BeforeValidator(_as_tuple), AfterValidator(_ordered_bounds)]
NonNegative = Annotated[float, Field(ge=0.0)]
NonPositive = Annotated[float, Field(le=0.0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
DOTTED_PATH_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
DottedPath = Annotated[str, Field(pattern=DOTTED_PATH_PATTERN)]


def FrozenMap(key: Any, value: Any) -> Any:
    """A read-only mapping field: validated as ``dict[key, value]``, stored as a proxy."""
    return Annotated[dict[key, value], AfterValidator(_frozen_mapping), _as_dict]


def _unknown_map_key(key: str, known: list[str]) -> PydanticCustomError:
    # _format_errors turns this into "<file>: <section>.<key>: unknown key ...; did you mean"
    return PydanticCustomError(
        "unknown_map_key", "unknown key {key}", {"key": key, "known": tuple(known)}
    )


def _threshold_paths(key: str) -> list[str]:
    """Return every numeric field of the twin state as a dotted path.

    ``"*"`` levels (the materials) take the name ``key`` gives at that level, so
    ``materials.glass.inventory`` is valid and a typo is matched against its own material.
    """
    given = key.split(".")
    out: list[str] = []

    def walk(node: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
        for name, child in node.items():
            if name == "*":
                depth = len(prefix)
                name = given[depth] if depth < len(given) - 1 else "<name>"
            path = (*prefix, name)
            if isinstance(child, Mapping):
                walk(child, path)
            elif child[0] == _STATE_NUMBER:
                out.append(".".join(path))

    walk(STATE_SCHEMA, ())
    return out


def _known_threshold_paths(value: dict[str, Any]) -> dict[str, Any]:
    # A threshold on a path the twin state does not have would never be checked.
    for key in value:
        known = _threshold_paths(key)
        if key not in known:
            raise _unknown_map_key(key, known)
    return value


def _known_parameter_names(value: dict[str, Any]) -> dict[str, Any]:
    # A constraint on an unknown name would be dropped when the optimiser runs.
    known = sorted(PARAMETER_NAMES)
    for key in value:
        if key not in PARAMETER_NAMES:
            raise _unknown_map_key(key, known)
    return value


def ParameterMap(value: Any) -> Any:
    """A read-only mapping keyed by :data:`PARAMETER_NAMES` (constraints, defaults)."""
    return Annotated[
        dict[str, value],
        AfterValidator(_known_parameter_names),
        AfterValidator(_frozen_mapping),
        _as_dict,
    ]


ThresholdMap = Annotated[
    dict[DottedPath, Bounds],
    AfterValidator(_known_threshold_paths),
    AfterValidator(_frozen_mapping),
    _as_dict,
]


class _Section(BaseModel):
    """Base of every config section: strict types, frozen, unknown keys rejected."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid", allow_inf_nan=False)


# --------------------------------------------------------------------------- digital_twin.json


class DigitalTwinSettings(_Section):
    """``DIGITAL_TWIN_CONFIG``: identity, pacing and history of one twin."""

    name: str = Field("SoliTek_DigitalTwin", min_length=1)
    update_frequency: float = Field(1.0, gt=0.0, le=1000.0, description="[Hz]")
    history_length: int = Field(1000, ge=1, le=10_000_000)
    simulation_steps: int = Field(10, ge=1)
    data_sources: Annotated[
        tuple[
            Literal["sensors", "manual_input", "manufacturing_system", "replay", "simulated"], ...
        ],
        BeforeValidator(_as_tuple),
    ] = Field(("sensors", "manual_input", "manufacturing_system"), min_length=1)
    synchronization_mode: Literal["real_time", "batch", "manual"] = "real_time"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"


class SimulationParameters(_Section):
    """``SIMULATION_PARAMETERS``: constants of the process model (units in descriptions)."""

    temperature_increment: NonNegative = Field(0.5, description="[degC/step]")
    energy_consumption_increment: NonNegative = Field(2.0, description="[kWh/step]")
    production_rate_increment: NonNegative = Field(0.2, description="[modules/h per step]")
    default_simulation_steps: int = Field(10, ge=1)
    target_temperature: float = Field(22.5, ge=-50.0, le=150.0, description="[degC]")
    temperature_regulation: Fraction = Field(0.1, description="[1/step]")
    silicon_wafer_consumption_rate: NonNegative = Field(0.5, description="[kg/module]")
    solar_glass_consumption_rate: NonNegative = Field(0.2, description="[kg/module]")
    # Process-model constants beyond the manual's list (circman_kernel.simulation.process).
    step_duration: float = Field(1.0, gt=0.0, le=8760.0, description="[h/step]")
    temperature_noise: NonNegative = Field(0.1, description="[degC] std of N(0, s) per step")
    energy_noise: NonNegative = Field(
        0.1, description="[-] std of the N(1, s) factor on the energy increment"
    )
    idle_energy_decay: Fraction = Field(0.95, description="[-/step] power factor when idle")
    nominal_production_rate: NonNegative = Field(
        10.0, description="[modules/h] at nominal_cycle_time and efficiency 1"
    )
    nominal_cycle_time: float = Field(30.0, gt=0.0, description="[s/module]")
    base_efficiency: Fraction = Field(0.92, description="[-] inside the temperature band")
    base_defect_rate: Fraction = Field(0.01, description="[-] at material quality 1")
    efficiency_temperature_sensitivity: NonNegative = Field(
        0.02, description="[1/degC] efficiency lost per degC outside the band"
    )
    defect_temperature_sensitivity: NonNegative = Field(
        0.01, description="[1/degC] defect rate added per degC outside the band"
    )
    defect_quality_sensitivity: NonNegative = Field(
        0.2, description="[-] defect rate added per unit of quality below 1"
    )
    quality_decay: Fraction = Field(0.0, description="[1/step] ageing of stored material")
    silicon_wafer_replenishment: NonNegative = Field(0.0, description="[kg/step]")
    solar_glass_replenishment: NonNegative = Field(0.0, description="[kg/step]")
    start_probability: Fraction = Field(0.0, description="[1/step] idle -> running")
    stop_probability: Fraction = Field(0.0, description="[1/step] running -> idle")
    measurement_noise: NonNegative = Field(
        0.0, description="[-] relative std of measured temperature, power and rate"
    )


#: Names a constraint or a default parameter may use: the process-model parameters
#: (``circman_kernel.simulation.process.PARAMETERS``: the ``SIMULATION_PARAMETERS`` constants and
#: three inputs), the twin-state context the surrogate reads
#: (``surrogate_data.CONTEXT_FEATURES``), the surrogate's outcomes (``model.TARGETS``) and
#: the inputs of the manual's own surrogate. tests/test_config.py keeps this in step.
PARAMETER_NAMES: frozenset[str] = frozenset(SimulationParameters.model_fields) - {
    "default_simulation_steps"  # a run length, not a model parameter
} | {
    # process-model inputs
    "cycle_time",
    "temperature_low",
    "temperature_high",
    # twin-state context of a batch
    "temperature",
    "energy_consumption",
    "production_rate",
    # surrogate outcomes
    "output_amount",
    "energy_used",
    "efficiency",
    "defect_rate",
    # the manual's surrogate inputs (its AI_INTEGRATION.DEFAULT_PARAMETERS)
    "input_amount",
    "thickness_uniformity",
}


class EventNotificationConfig(_Section):
    """``EVENT_NOTIFICATION``: what the event bus publishes and keeps."""

    persistence_enabled: bool = True
    max_events: int = Field(1000, ge=1)
    default_alert_severity: Literal["info", "warning", "error", "critical"] = "warning"
    publish_state_changes: bool = True
    publish_threshold_breaches: bool = True
    publish_simulation_results: bool = True


class AIIntegrationConfig(_Section):
    """``AI_INTEGRATION``: surrogate defaults, twin-to-model name mapping, parameter bounds."""

    DEFAULT_PARAMETERS: ParameterMap(float) = Field(
        default_factory=lambda: {
            "input_amount": 100.0,
            "energy_used": 50.0,
            "cycle_time": 30.0,
            "efficiency": 0.9,
            "defect_rate": 0.05,
            "thickness_uniformity": 95.0,
        }
    )
    PARAMETER_MAPPING: FrozenMap(str, str) = Field(
        default_factory=lambda: {
            "production_rate": "output_amount",
            "energy_consumption": "energy_used",
            "temperature": "temperature",
            "cycle_time": "cycle_time",
        }
    )
    OPTIMIZATION_CONSTRAINTS: ParameterMap(Bounds) = Field(
        default_factory=lambda: {
            "energy_used": (10.0, 100.0),
            "cycle_time": (20.0, 60.0),
            "defect_rate": (0.01, 0.1),
        }
    )


_DEFAULT_THRESHOLDS = {
    "production_line.temperature": (18.0, 27.0),
    "production_line.energy_consumption": (0.0, 200.0),
    "production_line.production_rate": (0.0, 12.0),
    "environment.temperature": (15.0, 30.0),
    "environment.humidity": (30.0, 70.0),
}


class DigitalTwinFile(_Section):
    """Contents of ``digital_twin.json`` (manual section 16.1.1)."""

    DIGITAL_TWIN_CONFIG: DigitalTwinSettings = Field(default_factory=DigitalTwinSettings)
    SIMULATION_PARAMETERS: SimulationParameters = Field(default_factory=SimulationParameters)
    EVENT_NOTIFICATION: EventNotificationConfig = Field(default_factory=EventNotificationConfig)
    PARAMETER_THRESHOLDS: ThresholdMap = Field(default_factory=lambda: dict(_DEFAULT_THRESHOLDS))
    AI_INTEGRATION: AIIntegrationConfig = Field(default_factory=AIIntegrationConfig)


# --------------------------------------------------------------------------- impact_factors.json


class ImpactFactors(_Section):
    """An LCA impact-factor profile (manual section 16.1.2), in kg CO2-eq per unit.

    Material factors are per kg of material; energy and grid factors per kWh;
    the transport factor per tonne·km (``TRANSPORT_MASS_UNIT_KG`` = 1000 kg; set it to 1
    for a factor per kg·km). Recycling benefits are credits, so they are <= 0.
    ``FACTOR_UNCERTAINTY`` gives the relative spread (coefficient of variation) of each
    factor group, or of one entry as ``"GROUP.name"``, for Monte Carlo.
    """

    MATERIAL_IMPACT_FACTORS: FrozenMap(str, NonNegative) = Field(
        default_factory=lambda: {
            "silicon_wafer": 120.0,
            "solar_glass": 25.0,
            "aluminum_frame": 40.0,
            "copper_wiring": 35.0,
            "silver_paste": 200.0,
            "EVA_encapsulant": 15.0,
            "backsheet": 18.0,
        },
        min_length=1,
    )
    ENERGY_IMPACT_FACTOR: NonNegative = 0.5
    GRID_CARBON_INTENSITIES: FrozenMap(str, NonNegative) = Field(
        default_factory=lambda: {
            "EU_average": 0.275,
            "US_average": 0.385,
            "China": 0.555,
            "Sweden": 0.013,
            "France": 0.055,
            "Germany": 0.338,
        },
        min_length=1,
    )
    TRANSPORT_IMPACT_FACTOR: NonNegative = 0.025
    DISPOSAL_IMPACT_FACTORS: FrozenMap(str, NonNegative) = Field(
        default_factory=lambda: {
            "silicon_wafer": 10.0,
            "solar_glass": 5.0,
            "aluminum_frame": 8.0,
            "copper_wiring": 7.0,
            "silver_paste": 15.0,
            "EVA_encapsulant": 12.0,
            "backsheet": 14.0,
        }
    )
    RECYCLING_BENEFIT_FACTORS: FrozenMap(str, NonPositive) = Field(
        default_factory=lambda: {
            "silicon_wafer": -80.0,
            "solar_glass": -20.0,
            "aluminum_frame": -35.0,
            "copper_wiring": -30.0,
            "silver_paste": -180.0,
        }
    )
    OPERATIONAL_IMPACT_FACTOR: NonNegative = Field(0.01, description="[kg CO2-eq/kWh generated]")
    TRANSPORT_MASS_UNIT_KG: float = Field(1000.0, gt=0.0, description="[kg] per transport unit")
    MODULE_POWER_KWP: float = Field(0.4, gt=0.0, description="[kWp/module]")
    SPECIFIC_YIELD_KWH_PER_KWP: NonNegative = Field(1000.0, description="[kWh/(kWp·yr)]")
    UNCERTAINTY_DISTRIBUTION: Literal["lognormal", "normal"] = "lognormal"
    FACTOR_UNCERTAINTY: FrozenMap(str, NonNegative) = Field(
        default_factory=lambda: {
            "MATERIAL_IMPACT_FACTORS": 0.2,
            "ENERGY_IMPACT_FACTOR": 0.1,
            "GRID_CARBON_INTENSITIES": 0.1,
            "TRANSPORT_IMPACT_FACTOR": 0.3,
            "DISPOSAL_IMPACT_FACTORS": 0.3,
            "RECYCLING_BENEFIT_FACTORS": 0.3,
            "OPERATIONAL_IMPACT_FACTOR": 0.5,
        }
    )

    @model_validator(mode="after")
    def _uncertainty_keys_are_known(self) -> ImpactFactors:
        groups = ("MATERIAL_IMPACT_FACTORS", "ENERGY_IMPACT_FACTOR", "GRID_CARBON_INTENSITIES",
                  "TRANSPORT_IMPACT_FACTOR", "DISPOSAL_IMPACT_FACTORS",
                  "RECYCLING_BENEFIT_FACTORS", "OPERATIONAL_IMPACT_FACTOR")  # fmt: skip
        for key in self.FACTOR_UNCERTAINTY:
            group, _, entry = key.partition(".")
            if group not in groups:
                raise ValueError(
                    f"FACTOR_UNCERTAINTY.{key}: unknown factor group {group!r}; "
                    f"known: {', '.join(groups)}"
                )
            table = getattr(self, group)
            if entry and (isinstance(table, float) or entry not in table):
                raise ValueError(f"FACTOR_UNCERTAINTY.{key}: {group} has no entry {entry!r}")
        return self

    @model_validator(mode="after")
    def _materials_are_known(self) -> ImpactFactors:
        known = set(self.MATERIAL_IMPACT_FACTORS)
        for section in ("DISPOSAL_IMPACT_FACTORS", "RECYCLING_BENEFIT_FACTORS"):
            for material in getattr(self, section):
                if material not in known:
                    hint = difflib.get_close_matches(material, sorted(known), n=1)
                    did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
                    raise ValueError(
                        f"{section}.{material}: material not in MATERIAL_IMPACT_FACTORS"
                        f"{did_you_mean}; known: {', '.join(sorted(known))}"
                    )
        return self


# --------------------------------------------------------------------------- optimization.json


class SolverSettings(_Section):
    """``SOLVER``: scipy methods and tolerances of the single-objective optimiser."""

    method: Literal["L-BFGS-B", "TNC", "Powell"] = "L-BFGS-B"
    constrained_method: Literal["SLSQP", "trust-constr", "COBYLA"] = "SLSQP"
    maxiter: int = Field(200, ge=1)
    tolerance: float = Field(1e-8, gt=0.0)
    n_starts: int = Field(4, ge=1, le=100)
    honesty_iterations: int = Field(8, ge=1, le=10_000, description="MC runs per honesty check")
    honesty_sigma: float = Field(2.0, ge=0.0, description="gain must exceed this many std errors")


class ModelSettings(_Section):
    """``MODEL``: the scikit-learn surrogate and its synthetic training history."""

    estimator: Literal["polynomial", "gradient_boosting", "random_forest", "gaussian_process"] = (
        "polynomial"
    )
    degree: int = Field(3, ge=1, le=6, description="polynomial degree (estimator polynomial)")
    alpha: float = Field(1e-3, ge=0.0, description="ridge penalty (estimator polynomial)")
    n_estimators: int = Field(200, ge=1)
    max_depth: int = Field(3, ge=1)
    cv_folds: int = Field(5, ge=2)
    training_samples: int = Field(2000, ge=10)
    horizon_steps: int = Field(8, ge=1, description="[steps] simulated per synthetic batch")
    random_state: int = Field(42, ge=0)


class ParetoSettings(_Section):
    """``PARETO``: NSGA-II population and generations for the multi-objective front."""

    population_size: int = Field(100, ge=4)
    generations: int = Field(40, ge=1)
    seed: int = Field(42, ge=0)


class OptimizationFile(_Section):
    """Contents of ``optimization.json``.

    ``OBJECTIVE_WEIGHTS`` weigh the scalar objective (lower is better): the manual's
    ``-100 * efficiency + 0.1 * energy_used + 1000 * defect_rate`` and
    ``-10 * output_amount`` [per module/h], so that output is not traded away for nothing
    (the line's efficiency does not see the cycle time); -10 per module/h is the
    manual's efficiency weight at the nominal 10 modules/h.
    ``DEFAULT_CONSTRAINTS`` add to (and override) ``AI_INTEGRATION.OPTIMIZATION_CONSTRAINTS``.
    """

    OBJECTIVE_WEIGHTS: FrozenMap(str, float) = Field(
        default_factory=lambda: {
            "efficiency": -100.0,
            "energy_used": 0.1,
            "defect_rate": 1000.0,
            "output_amount": -10.0,
        }
    )
    # The manual's energy_used bound (10, 100) kW cannot hold on the default line (power
    # starts at 120.5 kW and rises while running), so the default widens it to the twin's
    # own energy threshold band.
    DEFAULT_CONSTRAINTS: ParameterMap(Bounds) = Field(
        default_factory=lambda: {"energy_used": (0.0, 200.0)}
    )
    SOLVER: SolverSettings = Field(default_factory=SolverSettings)
    MODEL: ModelSettings = Field(default_factory=ModelSettings)
    PARETO: ParetoSettings = Field(default_factory=ParetoSettings)


# --------------------------------------------------------------------------- the whole folder

CONFIG_FILES: dict[str, type[_Section]] = {
    "digital_twin": DigitalTwinFile,
    "impact_factors": ImpactFactors,
    "optimization": OptimizationFile,
}


class CircmanConfig(BaseModel):
    """The complete, validated configuration; immutable, hashable for provenance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    digital_twin: DigitalTwinFile = Field(default_factory=DigitalTwinFile)
    impact_factors: ImpactFactors = Field(default_factory=ImpactFactors)
    optimization: OptimizationFile = Field(default_factory=OptimizationFile)
    source: str = "built-in defaults"

    def to_dict(self) -> dict[str, Any]:
        """Return the three files' contents as plain JSON-ready dicts (no ``source``)."""
        return self.model_dump(mode="json", exclude={"source"})

    @property
    def config_hash(self) -> str:
        """Return a 16-hex-digit SHA-256 of the contents, independent of key order."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def with_overrides(self, overrides: Mapping[str, Any]) -> CircmanConfig:
        """Return a copy with single values replaced, keyed by dotted path.

        The path starts with the file's name: ``"digital_twin.SIMULATION_PARAMETERS.
        target_temperature"``; threshold keys keep their own dots
        (``"digital_twin.PARAMETER_THRESHOLDS.production_line.temperature"``).
        """
        data = self.to_dict()
        for path, value in overrides.items():
            _set_dotted(data, path, value)
        return _validate_all(data, source=f"{self.source} + overrides", origin="override")


def _set_dotted(data: dict[str, Any], path: str, value: Any) -> None:
    node: Any = data
    rest = path
    while True:
        if not isinstance(node, dict):
            raise ConfigError(
                f"override {path!r}: {rest!r} is inside a value, not a section",
                file="override",
                key=path,
                value=value,
            )
        if rest in node or "." not in rest:
            if rest not in node:
                raise ConfigError(
                    _unknown_key_message("override", path, rest, node),
                    file="override",
                    key=path,
                    value=value,
                )
            node[rest] = value
            return
        # Longest key that prefixes the remaining path (threshold keys contain dots).
        head = next(
            (k for k in sorted(node, key=len, reverse=True) if rest.startswith(k + ".")), None
        )
        if head is None:
            raise ConfigError(
                _unknown_key_message("override", path, rest.split(".")[0], node),
                file="override",
                key=path,
                value=value,
            )
        node, rest = node[head], rest[len(head) + 1 :]


def _unknown_key_message(file: str, path: str, key: str, known: Mapping[str, Any]) -> str:
    hint = difflib.get_close_matches(key, [str(k) for k in known], n=1, cutoff=0.5)
    suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
    return f"{file}: {path}: unknown key {key!r}{suggestion} (known: {', '.join(map(str, known))})"


# --------------------------------------------------------------------------- loading


def _short_repr(value: Any) -> str:
    # Bad values are quoted in messages: cut long strings and deep nesting short.
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxstring = 4, 8, 8, 8, 120
    return r.repr(value)


def _format_errors(file: str, model: type[BaseModel], err: ValidationError) -> ConfigError:
    lines: list[str] = []
    first_key: str | None = None
    first_value: Any = None
    for item in err.errors(include_url=False):
        loc = [str(p) for p in item["loc"]]
        # The bounds validators sit on the tuple itself; drop pydantic's type-chain tags.
        loc = [p for p in loc if not re.fullmatch(r"function-\w+\[.*\]|\d+", p) or p.isdigit()]
        is_dict_key = loc[-1:] == ["[key]"]
        loc = [p for p in loc if p != "[key]"]
        key = ".".join(loc) or "<top level>"
        value = item.get("input")
        if is_dict_key:
            lines.append(
                f"{file}: {key}: key must be a dotted path such as 'production_line.temperature'"
            )
        elif item["type"] == "unknown_map_key":
            bad = item["ctx"]["key"]
            key = f"{key}.{bad}"
            value = item["input"].get(bad) if isinstance(item["input"], Mapping) else None
            known = dict.fromkeys(item["ctx"]["known"])
            lines.append(_unknown_key_message(file, key, bad, known))
        elif item["type"] == "extra_forbidden":
            known = _fields_at(model, loc[:-1])
            lines.append(_unknown_key_message(file, key, loc[-1], dict.fromkeys(known)))
        elif item["type"] == "missing" and loc and loc[-1].isdigit():
            key = ".".join(loc[:-1])
            lines.append(f"{file}: {key}: expected a [lower, upper] pair of numbers")
        elif item["type"] == "missing":
            lines.append(f"{file}: {key}: missing")
        elif not loc and ": " in item["msg"]:
            # Cross-field checks name their own dotted path at the start of the message.
            key, _, msg = item["msg"].removeprefix("Value error, ").partition(": ")
            lines.append(f"{file}: {key}: {msg}")
        else:
            msg = item["msg"].removeprefix("Value error, ")
            if isinstance(value, float) and not math.isfinite(value):
                msg = "must be a finite number"
            shown = "" if isinstance(value, dict) else f"; got {_short_repr(value)}"
            lines.append(f"{file}: {key}: {msg}{shown}")
        if first_key is None:
            first_key, first_value = key, value
    return ConfigError("\n".join(lines), file=file, key=first_key, value=first_value)


def _fields_at(model: type[BaseModel], loc: list[str]) -> list[str]:
    current: Any = model
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = field.annotation
    return list(getattr(current, "model_fields", {}))


def _strict_sections(model: type[_Section], data: Any, file: str) -> None:
    """Reject a file that leaves out a whole section (keys inside may default)."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{file}: top level must be a JSON object of sections, got {type(data).__name__}",
            file=file,
            value=data,
        )
    missing = [name for name in model.model_fields if name not in data]
    if missing:
        raise ConfigError(
            f"{file}: missing section(s) {', '.join(missing)}; every section of the manual "
            "is required (copy it from configs/ to keep the defaults)",
            file=file,
            key=missing[0],
        )


def _read_json(path: Path) -> Any:
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found; a config folder needs "
            f"{', '.join(f'{n}.json' for n in CONFIG_FILES)}",
            file=name,
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}", file=name) from None
    if not text.strip():
        raise ConfigError(f"{name}: file is empty; expected a JSON object", file=name, line=1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{name}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            file=name,
            line=exc.lineno,
        ) from None
    except RecursionError:
        # json's decoder recurses once per nesting level, so '[[[[...' exhausts the stack
        raise ConfigError(
            f"{name}: JSON nested too deeply to read; a config file is a few levels of "
            "objects (sections, keys, [lower, upper] pairs)",
            file=name,
        ) from None


def _validate_all(
    data: Mapping[str, Any], *, source: str, origin: str | None = None
) -> CircmanConfig:
    sections: dict[str, Any] = {}
    for stem, model in CONFIG_FILES.items():
        file = origin or f"{stem}.json"
        raw = data.get(stem)
        _strict_sections(model, raw, file)
        try:
            try:
                sections[stem] = model.model_validate(raw)
            except ValidationError as exc:
                raise _format_errors(file, model, exc) from None
        except RecursionError:
            # an override (or a dict built in code) can nest deeper than the stack allows
            raise ConfigError(
                f"{file}: value nested too deeply; a config is a few levels of objects",
                file=file,
            ) from None
    return CircmanConfig(**sections, source=source)


def default_config() -> CircmanConfig:
    """Return the manual's default configuration without reading any file."""
    return CircmanConfig()


def load_config(
    config_dir: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> CircmanConfig:
    """Load and validate a configuration folder.

    Parameters
    ----------
    config_dir
        Folder holding ``digital_twin.json``, ``impact_factors.json`` and
        ``optimization.json``. Default: ``$CIRCMAN_CONFIG_DIR``, else the checkout's
        ``configs/``, else the built-in defaults.
    overrides
        Single values to replace, keyed by dotted path (see
        :meth:`CircmanConfig.with_overrides`).
    """
    folder = Path(config_dir).expanduser() if config_dir is not None else default_config_dir()
    if folder is None:
        config = default_config()
    else:
        if not folder.is_dir():
            raise ConfigError(f"{folder}: config folder not found", file=str(folder))
        raw = {stem: _read_json(folder / f"{stem}.json") for stem in CONFIG_FILES}
        config = _validate_all(raw, source=str(folder))
    return config.with_overrides(overrides) if overrides else config
