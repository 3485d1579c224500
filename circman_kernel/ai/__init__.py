"""Surrogate models and optimisation of process parameters.

Owns ``model`` (``ManufacturingModel``; its parts in ``model_parts``, saving and loading
in ``model_files``), ``surrogate_data`` (training data drawn from the process model),
``problem`` (the optimisation problem and its result types, ``OptimizationResult`` and
``HonestyCheck``), ``optimize_setup`` (checking and building a problem), ``optimize``
(``ProcessOptimizer``), ``honesty`` (the honesty check: the process model re-run at a
proposed optimum), ``pareto`` (multi-objective fronts) and ``integration``
(``AIIntegration``). May import ``core``, ``lca``, ``simulation`` and ``twin``.

The public names are importable from here; scikit-learn, scipy and pymoo are imported
only when a model is trained or a problem solved.
"""

from circman_kernel.ai.honesty import function_simulator, honesty_check
from circman_kernel.ai.integration import AIIntegration
from circman_kernel.ai.model import ManufacturingModel
from circman_kernel.ai.model_parts import (
    ESTIMATORS,
    MODEL_FORMAT_VERSION,
    TARGET_UNITS,
    TARGETS,
    PolynomialRidge,
    model_cache_dir,
    read_model_file,
    write_model_file,
)
from circman_kernel.ai.optimize import ProcessOptimizer
from circman_kernel.ai.optimize_setup import (
    build_problem,
    energy_cap,
    parse_constraint,
    quality_floor,
)
from circman_kernel.ai.pareto import carbon_per_module, pareto_front
from circman_kernel.ai.problem import HonestyCheck, OptimizationResult, objective_values
from circman_kernel.ai.surrogate_data import (
    CONTEXT_FEATURES,
    DECISION_VARIABLES,
    FEATURES,
    simulate_outcomes,
    synthetic_history,
)

__all__ = [
    "CONTEXT_FEATURES",
    "DECISION_VARIABLES",
    "ESTIMATORS",
    "FEATURES",
    "MODEL_FORMAT_VERSION",
    "TARGETS",
    "TARGET_UNITS",
    "AIIntegration",
    "HonestyCheck",
    "ManufacturingModel",
    "OptimizationResult",
    "PolynomialRidge",
    "ProcessOptimizer",
    "build_problem",
    "carbon_per_module",
    "energy_cap",
    "function_simulator",
    "honesty_check",
    "model_cache_dir",
    "objective_values",
    "pareto_front",
    "parse_constraint",
    "quality_floor",
    "read_model_file",
    "simulate_outcomes",
    "synthetic_history",
    "write_model_file",
]
