"""LCA of the digital twin's state: material and energy flows in, stored assessments out.

A twin state (``circman_kernel.twin.state``) gives the inputs of one assessment:

* material quantities [kg]: ``materials.<name>.consumption``;
* end-of-life recycling rate: ``recycled / waste`` of each material when it has waste
  (``recycled`` is the part of ``waste`` that was recycled), else ``recycling_rate``;
* manufacturing energy [kWh]: ``production_line.energy_consumption``, read as the energy of
  the assessed period (the manual's convention);
* modules made: silicon consumption / ``SIMULATION_PARAMETERS.silicon_wafer_consumption_rate``;
  capacity [kWp] = modules x ``MODULE_POWER_KWP``; annual generation [kWh/yr] = capacity x
  ``SPECIFIC_YIELD_KWH_PER_KWP``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from circman_kernel.core.config import CircmanConfig, load_config
from circman_kernel.core.errors import NotInitializedError, ParameterError, StateValidationError
from circman_kernel.lca.analyzer import LCAAnalyzer
from circman_kernel.lca.factors import PHASES, check_number
from circman_kernel.lca.results import LifeCycleImpact

__all__ = ["LCAIntegration"]

log = logging.getLogger("circman.lca")

MATERIAL_COLUMNS = (
    "batch_id",
    "timestamp",
    "material_type",
    "quantity_used",
    "waste_generated",
    "recycled_amount",
)
ENERGY_COLUMNS = ("batch_id", "timestamp", "process_stage", "energy_source", "energy_consumption")


class LCAIntegration:
    """Life-cycle assessment of a digital twin's states (the manual's ``LCAIntegration``).

    Parameters
    ----------
    digital_twin : DigitalTwin, optional
        Source of the current state when a method gets ``state=None``.
    analyzer : LCAAnalyzer, optional
        Default: one on the configuration's impact factors.
    store : RunStore, optional
        Where ``perform_lca_analysis(save_results=True)`` records runs (default: the twin's).
    config : CircmanConfig, optional
        Default: the twin's, else :func:`~circman_kernel.core.config.load_config`.
    lifetime_years : float
        Service life of the modules [yr].
    grid_carbon_intensity : float or str
        Grid the modules displace: [kg CO2-eq/kWh] or a region name.
    transport_distance : float
        End-of-life transport [km].
    recycling_rate : float
        End-of-life recycling rate [0..1] of materials without observed waste.
    """

    def __init__(
        self,
        digital_twin: Any = None,
        *,
        analyzer: LCAAnalyzer | None = None,
        store: Any = None,
        config: CircmanConfig | None = None,
        lifetime_years: float = 25.0,
        grid_carbon_intensity: float | str = "EU_average",
        transport_distance: float = 100.0,
        recycling_rate: float = 0.0,
    ) -> None:
        self.digital_twin = digital_twin
        self.config = config or getattr(digital_twin, "config", None) or load_config()
        self.lca_analyzer = analyzer or LCAAnalyzer(self.config.impact_factors)
        self.store = store if store is not None else getattr(digital_twin, "store", None)
        self.lifetime_years = check_number("lifetime_years", lifetime_years)
        self.lca_analyzer.tables.grid_intensity(grid_carbon_intensity)  # fail early
        self.grid_carbon_intensity = grid_carbon_intensity
        self.transport_distance = check_number("transport_distance", transport_distance)
        self.recycling_rate = check_number("recycling_rate", recycling_rate, 0.0, 1.0)
        self.lca_results_history: list[dict[str, Any]] = []

    # ----------------------------------------------------------------- state -> tables

    def _state(self, state: Mapping[str, Any] | None) -> Mapping[str, Any]:
        if state is not None:
            if not isinstance(state, Mapping):
                raise StateValidationError(f"state must be a dict, got {type(state).__name__}")
            return state
        if self.digital_twin is None:
            raise NotInitializedError(
                "no state given and no digital_twin to read one from; "
                "pass state=... or LCAIntegration(twin)"
            )
        return self.digital_twin.get_current_state()

    def extract_material_data_from_state(
        self, state: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Return one row per material: the manual's columns, quantities in kg."""
        state = self._state(state)
        timestamp = state.get("timestamp") or datetime.now().isoformat()
        batch_id = state.get("batch_id") or "unknown"
        materials = state.get("materials", {})
        if not isinstance(materials, Mapping):
            raise StateValidationError(
                "materials must be a dict of material -> flows", path="materials", value=materials
            )
        rows = []
        for name, flows in materials.items():
            if not isinstance(flows, Mapping):
                raise StateValidationError(
                    f"materials.{name} must be a dict", path=f"materials.{name}", value=flows
                )
            values = {}
            for field, column in (
                ("consumption", "quantity_used"),
                ("waste", "waste_generated"),
                ("recycled", "recycled_amount"),
            ):
                path = f"materials.{name}.{field}"
                try:
                    values[column] = check_number(path, flows.get(field, 0.0))
                except ParameterError as exc:
                    raise StateValidationError(
                        str(exc), path=path, value=flows.get(field)
                    ) from None
            rows.append(
                {"batch_id": batch_id, "timestamp": timestamp, "material_type": name, **values}
            )
        return pd.DataFrame(rows, columns=list(MATERIAL_COLUMNS))

    def extract_energy_data_from_state(
        self, state: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Return the manufacturing energy [kWh] of the state as a one-row table."""
        state = self._state(state)
        line = state.get("production_line", {})
        path = "production_line.energy_consumption"
        try:
            energy = check_number(path, line.get("energy_consumption", 0.0))
        except ParameterError as exc:
            raise StateValidationError(
                str(exc), path=path, value=line.get("energy_consumption")
            ) from None
        row = {
            "batch_id": state.get("batch_id") or "unknown",
            "timestamp": state.get("timestamp") or datetime.now().isoformat(),
            "process_stage": "production_line",
            "energy_source": "grid",
            "energy_consumption": energy,
        }
        return pd.DataFrame([row], columns=list(ENERGY_COLUMNS))

    def lca_inputs_from_state(self, state: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return the keyword arguments of :meth:`LCAAnalyzer.perform_full_lca` for a state."""
        materials = self.extract_material_data_from_state(state)
        energy = self.extract_energy_data_from_state(state)
        inputs: dict[str, float] = {}
        rates: dict[str, float] = {}
        for row in materials.itertuples(index=False):
            name = row.material_type
            inputs[name] = row.quantity_used
            if row.recycled_amount > row.waste_generated:
                raise StateValidationError(
                    f"materials.{name}.recycled = {row.recycled_amount} kg exceeds its waste "
                    f"{row.waste_generated} kg; recycled is the recycled part of the waste",
                    path=f"materials.{name}.recycled",
                    value=row.recycled_amount,
                )
            if row.waste_generated > 0:
                rates[name] = row.recycled_amount / row.waste_generated
            else:
                rates[name] = self.recycling_rate
        per_module = self.config.digital_twin.SIMULATION_PARAMETERS.silicon_wafer_consumption_rate
        silicon = inputs.get("silicon_wafer", 0.0)
        modules = silicon / per_module if per_module > 0 else 0.0
        factors = self.lca_analyzer.impact_factors
        kwp = modules * factors.MODULE_POWER_KWP
        return {
            "material_inputs": inputs,
            "energy_consumption": float(energy["energy_consumption"].iloc[0]),
            "lifetime_years": self.lifetime_years,
            "annual_energy_generation": kwp * factors.SPECIFIC_YIELD_KWH_PER_KWP,
            "grid_carbon_intensity": self.grid_carbon_intensity,
            "recycling_rates": rates,
            "transport_distance": self.transport_distance,
            "n_modules": modules,
            "capacity_kwp": kwp,
        }

    # ----------------------------------------------------------------- assessments

    def perform_lca_analysis(
        self,
        state: Mapping[str, Any] | None = None,
        batch_id: str | None = None,
        save_results: bool = True,
        output_dir: str | Path | None = None,
    ) -> LifeCycleImpact:
        """Assess one state; record it in ``lca_results_history`` (and the store, a report).

        With ``save_results`` and a store, one run of kind ``"lca"`` is saved with the
        phases as KPIs and a row in ``lca_results``; with ``output_dir`` a JSON report
        ``lca_<batch>_<time>.json`` is written there. Nothing is written otherwise.
        """
        start = time.perf_counter()
        state = self._state(state)
        inputs = self.lca_inputs_from_state(state)
        impact = self.lca_analyzer.perform_full_lca(**inputs)
        duration_s = time.perf_counter() - start
        batch = batch_id or state.get("batch_id") or "unknown"
        timestamp = datetime.now().isoformat()
        row = {
            "batch_id": batch,
            "timestamp": timestamp,
            **{p: float(getattr(impact, p)) for p in PHASES},
            "total_impact": impact.total_impact,
        }
        run_id = None
        if save_results and self.store is not None:
            kpis = {
                k: v
                for k, v in impact.to_dict().items()
                if isinstance(v, float) and math.isfinite(v)
            }
            run_id = self.store.save_run(
                "lca",
                name=batch,
                parameters={k: v for k, v in inputs.items()},
                config_hash=self.config.config_hash,
                duration_s=duration_s,
                kpis=kpis,
                records={"lca_results": [row]},
            )
        record = {
            **row,
            "net_impact": impact.net_impact,
            "impact": impact,
            "inputs": inputs,
            "run_id": run_id,
        }
        self.lca_results_history.append(record)
        if output_dir is not None:
            folder = Path(output_dir)
            folder.mkdir(parents=True, exist_ok=True)
            stamp = timestamp.replace(":", "").replace("-", "").replace(".", "_")
            report = {
                "batch_id": batch,
                "timestamp": timestamp,
                "run_id": run_id,
                "inputs": inputs,
                "impact": impact.to_dict(),
            }
            path = folder / f"lca_{batch}_{stamp}.json"
            path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
            log.info("LCA report written to %s", path)
        return impact

    def compare_scenarios(
        self,
        baseline_state: Mapping[str, Any],
        alternative_state: Mapping[str, Any],
        scenario_name: str = "scenario_comparison",
    ) -> dict[str, Any]:
        """Return both assessments and the differences (alternative - baseline) per phase.

        Nothing is stored or added to the history.
        """
        base = self.lca_analyzer.perform_full_lca(**self.lca_inputs_from_state(baseline_state))
        alt = self.lca_analyzer.perform_full_lca(**self.lca_inputs_from_state(alternative_state))
        keys = (*PHASES, "total_impact", "net_impact")
        diff = {k: getattr(alt, k) - getattr(base, k) for k in keys}
        pct = {
            k: (100.0 * diff[k] / abs(getattr(base, k)) if getattr(base, k) else math.nan)
            for k in keys
        }
        return {
            "scenario_name": scenario_name,
            "baseline": base,
            "alternative": alt,
            "differences": diff,
            "percent_changes": pct,
        }

    def simulate_lca_improvements(
        self,
        improvement_scenarios: Mapping[str, Mapping[str, float]],
        state: Mapping[str, Any] | None = None,
    ) -> dict[str, LifeCycleImpact]:
        """Return ``{"baseline": ..., name: ...}`` assessments with reduced inputs.

        Each scenario maps a material (or ``"energy"``) to a reduction fraction in [0, 1]:
        ``{"less_silicon": {"silicon_wafer": 0.1, "energy": 0.2}}`` uses 10 % less silicon
        and 20 % less energy for the same modules (generation is unchanged).
        """
        inputs = self.lca_inputs_from_state(state)
        known = (*self.lca_analyzer.materials, "energy")
        results = {"baseline": self.lca_analyzer.perform_full_lca(**inputs)}
        for name, reductions in improvement_scenarios.items():
            if not isinstance(reductions, Mapping):
                raise ParameterError(
                    f"scenario {name!r}: expected {{material: fraction}}",
                    name=str(name),
                    value=reductions,
                )
            changed = dict(inputs, material_inputs=dict(inputs["material_inputs"]))
            for key, fraction in reductions.items():
                if key not in known:
                    raise ParameterError(
                        f"scenario {name!r}: unknown input {key!r}; known: {', '.join(known)}",
                        name=str(key),
                    )
                keep = 1.0 - check_number(f"{name}.{key}", fraction, 0.0, 1.0)
                if key == "energy":
                    changed["energy_consumption"] *= keep
                else:
                    amounts = changed["material_inputs"]
                    amounts[key] = amounts.get(key, 0.0) * keep
            results[str(name)] = self.lca_analyzer.perform_full_lca(**changed)
        return results

    def generate_lca_report(self, num_results: int = 5) -> dict[str, Any]:
        """Return the last ``num_results`` assessments of the history and their summary."""
        if type(num_results) is not int or num_results < 1:
            raise ParameterError(
                f"num_results must be a positive int, got {num_results!r}",
                name="num_results",
                value=num_results,
            )
        recent = self.lca_results_history[-num_results:]
        keys = (*PHASES, "total_impact", "net_impact")
        rows = [{k: r[k] for k in ("batch_id", "timestamp", "run_id", *keys)} for r in recent]
        summary: dict[str, Any] = {"count": len(rows)}
        if rows:
            frame = pd.DataFrame(rows)
            summary["mean"] = {k: float(frame[k].mean()) for k in keys}
            summary["min_total_impact"] = float(frame["total_impact"].min())
            summary["max_total_impact"] = float(frame["total_impact"].max())
            summary["latest"] = recent[-1]["impact"].to_dict()
        return {
            "generated_at": datetime.now().isoformat(),
            "num_results": len(rows),
            "total_analyses": len(self.lca_results_history),
            "results": rows,
            "summary": summary,
        }
