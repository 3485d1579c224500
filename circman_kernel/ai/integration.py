"""``AIIntegration``: the digital twin meets the surrogate model and the optimiser.

The manual's section 7.4 API on one twin (no singletons: every twin gets its own
integration). Names cross between the twin and the model through
``AI_INTEGRATION.PARAMETER_MAPPING`` (``production_rate -> output_amount``,
``energy_consumption -> energy_used``, ...). The surrogate's inputs are the decision
variables (set point, regulation, cycle time) and the twin's state at the start of a
batch; :meth:`AIIntegration.model_inputs` shows exactly what goes in.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np

from circman_kernel.ai.model import ManufacturingModel
from circman_kernel.ai.optimize import ProcessOptimizer
from circman_kernel.ai.optimize_setup import energy_cap, parse_constraint, quality_floor
from circman_kernel.ai.problem import OptimizationResult
from circman_kernel.ai.surrogate_data import CONTEXT_FEATURES, DECISION_VARIABLES
from circman_kernel.core.config_schema import PARAMETER_NAMES
from circman_kernel.core.errors import ParameterError

__all__ = ["AIIntegration"]

log = logging.getLogger("circman.ai_integration")


class AIIntegration:
    """Connect a :class:`~circman_kernel.twin.digital_twin.DigitalTwin` with a surrogate and an optimiser.

    Parameters
    ----------
    digital_twin : DigitalTwin
    model : ManufacturingModel, optional
        Default: :meth:`ManufacturingModel.default` (a cached default model in the user
        cache folder, else one trained now on the synthetic history).
    optimizer : ProcessOptimizer, optional
        Default: a :class:`ProcessOptimizer` on ``model`` with the twin's configuration.
    store : RunStore, optional
        Where optimisations are stored (kind ``"optimization"``); default ``twin.store``.
    """

    def __init__(
        self,
        digital_twin: Any,
        model: ManufacturingModel | None = None,
        optimizer: ProcessOptimizer | None = None,
        *,
        store: Any = None,
    ) -> None:
        self.digital_twin = digital_twin
        self.config = digital_twin.config
        self.model = model if model is not None else ManufacturingModel.default(self.config)
        self.optimizer = (
            optimizer if optimizer is not None else ProcessOptimizer(self.model, self.config)
        )
        self.store = store if store is not None else getattr(digital_twin, "store", None)
        self.parameter_mapping = dict(self.config.digital_twin.AI_INTEGRATION.PARAMETER_MAPPING)
        self.optimization_history: list[OptimizationResult] = []
        self.run_ids: list[str] = []

    # ------------------------------------------------------------- names
    def extract_parameters_from_state(
        self, state: Mapping[str, Any] | None = None
    ) -> dict[str, float]:
        """Return the production line's numbers under the model's names (``PARAMETER_MAPPING``).

        >>> # production_line.energy_consumption 120.5 comes out as energy_used 120.5
        """
        if state is None:
            state = self.digital_twin.get_current_state()
        line = state.get("production_line", {}) if isinstance(state, Mapping) else {}
        return {
            model_name: float(line[twin_name])
            for twin_name, model_name in self.parameter_mapping.items()
            if isinstance(line.get(twin_name), int | float)
            and not isinstance(line.get(twin_name), bool)
        }

    def model_inputs(
        self, parameters: Mapping[str, Any] | None = None, state: Mapping[str, Any] | None = None
    ) -> dict[str, float]:
        """Return the surrogate's inputs: the twin's state, overridden by ``parameters``.

        ``parameters`` may use the model's names or the mapped names: ``energy_used``
        and ``output_amount`` read from the twin are the power and the rate at the start
        of the batch (``energy_consumption``, ``production_rate`` for the model).
        """
        if state is None:
            state = self.digital_twin.get_current_state()
        features = self.model.feature_names_
        line = state.get("production_line", {})
        sim = self.config.digital_twin.SIMULATION_PARAMETERS
        inputs: dict[str, float] = {}
        for name in features:
            if name in CONTEXT_FEATURES and isinstance(line.get(name), int | float):
                inputs[name] = float(line[name])
            elif name == "cycle_time":
                value = line.get("cycle_time")
                ok = isinstance(value, int | float) and not isinstance(value, bool)
                inputs[name] = float(value) if ok else float(sim.nominal_cycle_time)
            elif hasattr(sim, name):
                inputs[name] = float(getattr(sim, name))
        inverse = {m: t for t, m in self.parameter_mapping.items()}
        for key, value in (parameters or {}).items():
            name = key if key in features else inverse.get(key, key)
            if name not in features:
                name = key  # let the model name the unknown parameter
            inputs[name] = value
        self.model.feature_matrix(inputs)  # raises on unknown names, NaN, non-numbers
        return {k: float(v) for k, v in inputs.items()}

    # ------------------------------------------------------------- manual's API
    def predict_outcomes(self, parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return the predicted batch outcomes at the twin's state (or ``parameters``).

        The result holds the outcomes, their ``*_std`` uncertainty, ``in_training_range``
        and ``parameters`` (the inputs used).
        """
        inputs = self.model_inputs(parameters)
        out = dict(self.model.predict_batch_outcomes(inputs))
        out["parameters"] = inputs
        return out

    def optimize_parameters(
        self,
        current_params: Mapping[str, Any] | None = None,
        constraints: Mapping[str, Any] | None = None,
        *,
        objective: str = "weighted",
        min_quality: float = 0.9,
        max_energy: float | None = None,
    ) -> dict[str, float]:
        """Optimise the decision variables from the twin's state; return them and every key given.

        The decision variables are the model inputs among ``target_temperature``,
        ``temperature_regulation`` and ``cycle_time``; the twin's state (temperature,
        power, rate) is held fixed. ``current_params`` may be the manual's
        ``AI_INTEGRATION.DEFAULT_PARAMETERS`` as they are: decision variables in it are
        the start values; readings (``energy_used``: the power at the start of the
        batch) override the twin's; outcomes and names the model does not use
        (``efficiency``, ``input_amount``, ``thickness_uniformity``) are held. Held keys
        come back as given and are listed in the result's ``held``. The full result (prediction, honesty check) is
        appended to :attr:`optimization_history` and stored when a store is set.
        ``objective="efficiency"`` adds quality >= ``min_quality``; ``"quality"`` adds
        ``energy_used <= max_energy`` [kW] when given.

        Raises
        ------
        ParameterError
            For a NaN, infinite or out-of-range ``min_quality`` / ``max_energy`` (whatever
            the objective), or ``max_energy`` given with an objective other than quality.
        """
        floor, cap = quality_floor(min_quality), energy_cap(max_energy)
        if cap and objective != "quality":
            raise ParameterError(
                f"max_energy applies to objective='quality' only, not {objective!r}; "
                "to cap the power of another objective, pass "
                "constraints={'energy_used': (None, max_energy)}",
                name="max_energy",
                value=max_energy,
            )
        state = self.digital_twin.get_current_state()
        features, targets = self.model.feature_names_, self.model.target_names_
        inverse = {m: t for t, m in self.parameter_mapping.items()}
        given: dict[str, Any] = {}  # caller's name -> value, for the model
        held: dict[str, float] = {}  # caller's name -> value, not optimised
        if current_params is not None and not isinstance(current_params, Mapping):
            raise ParameterError(
                "current_params must be a dict of parameter -> value", name="current_params"
            )
        for key, value in (current_params or {}).items():
            if key in features or inverse.get(key) in features:
                given[key] = value
            elif key in targets or key in PARAMETER_NAMES:
                held[key] = parse_constraint(key, value)[0]  # a finite number
            else:
                given[key] = value  # model_inputs names the unknown parameter
        inputs = self.model_inputs(given, state)
        decision = [n for n in DECISION_VARIABLES if n in inputs]
        if not decision:  # a model with other inputs: optimise what the caller named
            decision = [k if k in features else inverse.get(k, k) for k in given] or list(inputs)
        variables = {n: inputs[n] for n in decision}
        fixed = {n: v for n, v in inputs.items() if n not in variables}
        for key in given:  # a reading the caller gave (energy_used) is the batch's context
            if (key if key in features else inverse.get(key, key)) not in variables:
                held[key] = inputs[key if key in features else inverse[key]]
        self.optimizer.initial_state = state
        extra = floor if objective == "efficiency" else cap if objective == "quality" else {}
        result = self.optimizer.optimize_detailed(
            objective, variables, constraints, fixed=fixed, extra=extra, held=held
        )
        self.optimization_history.append(result)
        if self.store is not None:
            self.run_ids.append(
                save_optimization(self.store, result, self.config, seed=self.optimizer.seed)
            )
        return result.with_held(current_params or {})

    def apply_optimized_parameters(
        self, optimized_params: Mapping[str, Any], simulation_steps: int = 10
    ) -> bool:
        """Simulate the twin with the optimised parameters (its own state is unchanged).

        Model-only names are translated to process parameters; the simulation is kept in
        :attr:`last_simulation_` (and stored by the twin's engine when it has a store).
        """
        if not isinstance(optimized_params, Mapping) or not optimized_params:
            raise ParameterError(
                "optimized_params must be a non-empty dict of parameters", name="optimized_params"
            )
        from circman_kernel.simulation import process

        params = {}
        for name, value in optimized_params.items():
            if name in process.PARAMETERS:
                params[name] = value
            elif name in CONTEXT_FEATURES or name in self.parameter_mapping.values():
                continue  # state values, not settings: the twin keeps its own
            else:
                raise ParameterError(
                    f"{name!r} is not a process parameter the twin can simulate with "
                    f"(valid: {', '.join(sorted(process.PARAMETERS))})",
                    name=name,
                )
        self.last_simulation_ = self.digital_twin.simulate(
            steps=simulation_steps, parameters=params
        )
        return True

    def generate_optimization_report(self) -> dict[str, Any]:
        """Return a summary of every optimisation so far: counts, gains, verdicts, latest."""
        history = self.optimization_history
        report: dict[str, Any] = {
            "timestamp": datetime.now().isoformat(),
            "total_optimizations": len(history),
            "model": {
                "estimator": getattr(self.model, "estimator_name_", None),
                "features": list(self.model.feature_names_),
                "cv_r2": {t: float(r) for t, r in self.model.cv_metrics_["r2"].items()},
            },
        }
        if not history:
            report["message"] = "no optimisation has run yet; call optimize_parameters()"
            return report
        verdicts = [r.verdict for r in history]
        report.update(
            reproduced=verdicts.count("reproduced"),
            partly_reproduced=verdicts.count("partly reproduced"),
            not_reproduced=verdicts.count("not reproduced"),
            mean_predicted_improvement=float(np.mean([r.predicted_improvement for r in history])),
            mean_simulated_improvement=float(np.nanmean([r.simulated_improvement for r in history]))
            if any(r.honesty is not None for r in history)
            else math.nan,
            latest=_jsonable(history[-1].to_dict()),
            run_ids=list(self.run_ids),
        )
        return report

    def train_model_from_digital_twin(self, history_limit: int | None = None) -> bool:
        """Retrain the surrogate on the twin's state history; return ``True``.

        Each pair of consecutive states is one sample: inputs from the earlier state,
        outcomes (rate, power, efficiency, defect rate) from the later one, so the
        model learns one-step batches. Needs at least ``2 * cv_folds + 1`` states.
        """
        import pandas as pd

        states = self.digital_twin.get_state_history(history_limit)
        rows = []
        for before, after in zip(states[:-1], states[1:], strict=False):
            inputs = self.model_inputs(None, before)
            line = after.get("production_line", {})
            try:
                rows.append(
                    {
                        **inputs,
                        "output_amount": float(line["production_rate"]),
                        "energy_used": float(line["energy_consumption"]),
                        "efficiency": float(line["efficiency"]),
                        "defect_rate": float(line["defect_rate"]),
                    }
                )
            except (KeyError, TypeError) as exc:
                raise ParameterError(
                    f"twin history state lacks production_line value {exc}", name="history"
                ) from None
        model = ManufacturingModel(self.config)
        model.train_optimization_model(pd.DataFrame(rows))
        self.model = model
        self.optimizer.model = model
        return True


def _jsonable(value: Any) -> Any:
    """Return value with inf/NaN replaced by None and tuples by lists (for JSON)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def save_optimization(
    store: Any,
    result: OptimizationResult,
    config: Any,
    *,
    seed: int | None = None,
    name: str | None = None,
) -> str:
    """Store one optimisation run (kind ``"optimization"``); return its run id."""
    data = _jsonable(result.to_dict())
    kpis = {
        "objective_before": result.objective_before,
        "objective_after": result.objective_after,
        "predicted_improvement": result.predicted_improvement,
        "simulated_improvement": result.simulated_improvement,
        "reproduced": 1.0 if result.honesty is not None and result.honesty.reproduced else 0.0,
        "reproduced_share": result.honesty.reproduced_share if result.honesty else math.nan,
    }
    kpis = {k: float(v) for k, v in kpis.items() if math.isfinite(v)}
    row = {
        "timestamp": datetime.now().isoformat(),
        "parameters": data["params"],
        "constraints": data["constraints"],
        "results": json.loads(json.dumps(data)),
        "improvement": None
        if not math.isfinite(result.simulated_improvement)
        else float(result.simulated_improvement),
    }
    return store.save_run(
        "optimization",
        name=name or f"optimize {result.objective}",
        parameters=data["params"],
        seed=seed,
        config_hash=config.config_hash,
        tags=(result.verdict,),
        duration_s=float(result.solver.get("runtime_s", 0.0)),
        kpis=kpis,
        records={"optimizations": [row]},
    )
