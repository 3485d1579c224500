"""The configuration's schema: one pydantic model per section of each file.

Holds the sections of ``digital_twin.json`` (``DigitalTwinSettings``,
``SimulationParameters``, ``EventNotificationConfig``, ``AIIntegrationConfig``, gathered in
``DigitalTwinFile``), the impact-factor profile of ``impact_factors.json``
(``ImpactFactors``) and the settings of ``optimization.json`` (``OptimizationFile``), with
their defaults (the manual's), bounds and cross-field checks, and ``PARAMETER_NAMES``, the
names a constraint or a default parameter may use. The field types they are built from are
in :mod:`circman_kernel.core.config_fields`; reading the files is
:mod:`circman_kernel.core.config`.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from circman_kernel.core.config_fields import (
    Bounds,
    FewKeys,
    Fraction,
    FrozenMap,
    NonNegative,
    NonPositive,
    ThresholdMap,
    _as_dict,
    _as_tuple,
    _frozen_mapping,
    _Section,
    _unknown_map_key,
)

__all__ = [
    "AIIntegrationConfig",
    "DigitalTwinFile",
    "DigitalTwinSettings",
    "EventNotificationConfig",
    "ImpactFactors",
    "MAX_STEPS",
    "OBJECTIVE_NAMES",
    "OptimizationFile",
    "PARAMETER_NAMES",
    "SimulationParameters",
]


def KeyedMap(value: Any, known: Any, why: str) -> Any:
    """A read-only mapping of at most ``MAX_MAP_KEYS`` keys, each one of ``known``.

    ``why`` says what an unknown key would do if it were let through.
    """

    def only_known(mapping: dict[str, Any]) -> dict[str, Any]:
        for key in mapping:
            if key not in known:
                raise _unknown_map_key(key, list(known))
        return mapping

    only_known.__doc__ = why
    return Annotated[
        dict[str, value],
        FewKeys,
        AfterValidator(only_known),
        AfterValidator(_frozen_mapping),
        _as_dict,
    ]


def ParameterMap(value: Any) -> Any:
    """A read-only mapping keyed by :data:`PARAMETER_NAMES` (constraints, defaults)."""
    return KeyedMap(
        value, sorted(PARAMETER_NAMES), "a constraint on an unknown name would be dropped"
    )


#: longest run a configuration may ask for [steps] (simulation_steps, default_simulation_steps)
MAX_STEPS = 1_000_000

#: what ``OBJECTIVE_WEIGHTS`` may weigh: the surrogate's outcomes
#: (``circman_kernel.ai.model_parts.TARGETS``; tests/core keeps the two in step)
OBJECTIVE_NAMES: tuple[str, ...] = ("output_amount", "energy_used", "efficiency", "defect_rate")


#: the optimiser's weights: an unknown one would fail only when the optimiser runs
ObjectiveWeights = KeyedMap(float, OBJECTIVE_NAMES, "an unknown weight fails only at use")


# --------------------------------------------------------------------------- digital_twin.json


class DigitalTwinSettings(_Section):
    """``DIGITAL_TWIN_CONFIG``: identity, pacing and history of one twin."""

    name: str = Field("SoliTek_DigitalTwin", min_length=1)
    update_frequency: float = Field(1.0, gt=0.0, le=1000.0, description="[Hz]")
    history_length: int = Field(1000, ge=1, le=10_000_000)
    simulation_steps: int = Field(10, ge=1, le=MAX_STEPS)
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
    default_simulation_steps: int = Field(10, ge=1, le=MAX_STEPS)
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
#: the inputs of the manual's own surrogate. tests/core/test_config.py keeps this in step.
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
    max_events: int = Field(1000, ge=1, le=10_000_000)
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
    maxiter: int = Field(200, ge=1, le=100_000)
    tolerance: float = Field(1e-8, gt=0.0)
    n_starts: int = Field(4, ge=1, le=100)
    honesty_iterations: int = Field(8, ge=1, le=10_000, description="MC runs per honesty check")
    honesty_sigma: float = Field(2.0, ge=0.0, description="gain must exceed this many std errors")


class ModelSettings(_Section):
    """``MODEL``: the scikit-learn surrogate and its synthetic training history.

    Sizes have upper bounds (``training_samples`` <= 10^6, ``n_estimators`` <= 10^4, ...)
    checked at load: 10^12 samples would otherwise end in a 44 TiB allocation.
    """

    estimator: Literal["polynomial", "gradient_boosting", "random_forest", "gaussian_process"] = (
        "polynomial"
    )
    degree: int = Field(3, ge=1, le=6, description="polynomial degree (estimator polynomial)")
    alpha: float = Field(1e-3, ge=0.0, description="ridge penalty (estimator polynomial)")
    n_estimators: int = Field(200, ge=1, le=10_000)
    max_depth: int = Field(3, ge=1, le=64)
    cv_folds: int = Field(5, ge=2, le=100)
    training_samples: int = Field(
        2000, ge=10, le=1_000_000, description="synthetic batches (each simulated)"
    )
    horizon_steps: int = Field(
        8, ge=1, le=10_000, description="[steps] simulated per synthetic batch"
    )
    random_state: int = Field(42, ge=0)


class ParetoSettings(_Section):
    """``PARETO``: NSGA-II population and generations (each <= 10^4) for the front."""

    population_size: int = Field(100, ge=4, le=10_000)
    generations: int = Field(40, ge=1, le=10_000)
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

    OBJECTIVE_WEIGHTS: ObjectiveWeights = Field(
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
