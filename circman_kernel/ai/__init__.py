"""Surrogate models and optimisation of process parameters.

Owns ``model`` (``ManufacturingModel``; its parts in ``model_parts``, saving and loading
in ``model_files``), ``surrogate_data`` (training data drawn from the process model),
``problem`` (the optimisation problem and its result types, ``OptimizationResult`` and
``HonestyCheck``), ``optimize_setup`` (checking and building a problem), ``optimize``
(``ProcessOptimizer``), ``honesty`` (the honesty check: the process model re-run at a
proposed optimum), ``pareto`` (multi-objective fronts), ``integration``
(``AIIntegration``), ``discovery`` (scenario discovery: PRIM, CART; what it reads in
``discovery_data``), ``feature_scoring`` (extra-trees scores) and ``robust`` (robust
optimisation over a scenario ensemble; its metrics in ``robust_metrics``, its report in
``robust_report``). May import ``core``, ``lca``, ``simulation`` and ``twin``.

The public names are importable from here; scikit-learn, scipy, pymoo and the EMA
Workbench are imported only when a model is trained, a problem solved or a box found.
"""

from circman_kernel.ai.discovery import Discovery, cart_boxes, discover
from circman_kernel.ai.feature_scoring import feature_scores, monte_carlo_sample
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
from circman_kernel.ai.robust import RobustResult, robust_optimize
from circman_kernel.ai.robust_metrics import Robustness
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
    "Discovery",
    "HonestyCheck",
    "ManufacturingModel",
    "OptimizationResult",
    "PolynomialRidge",
    "ProcessOptimizer",
    "RobustResult",
    "Robustness",
    "build_problem",
    "carbon_per_module",
    "cart_boxes",
    "discover",
    "energy_cap",
    "feature_scores",
    "function_simulator",
    "honesty_check",
    "model_cache_dir",
    "monte_carlo_sample",
    "objective_values",
    "pareto_front",
    "parse_constraint",
    "quality_floor",
    "read_model_file",
    "robust_optimize",
    "simulate_outcomes",
    "synthetic_history",
    "write_model_file",
]
