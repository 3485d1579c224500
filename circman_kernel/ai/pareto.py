"""Multi-objective optimisation: the Pareto front of output, energy and carbon (NSGA-II).

Three objectives on the surrogate's prediction:

* maximise ``output_amount`` [modules/h] (or ``efficiency`` [0..1]);
* minimise ``energy_used`` [kW], the line's mean power draw;
* minimise the manufacturing carbon footprint per module [kg CO2-eq/module] from
  :meth:`circman_kernel.lca.analyzer.LCAAnalyzer.calculate_manufacturing_impact` on one module's
  materials (``SIMULATION_PARAMETERS.<material>_consumption_rate`` [kg/module]) and
  energy (``energy_used / output_amount`` [kWh/module]).

Bounds and outcome constraints are those of the single-objective problem
(:meth:`~circman_kernel.ai.optimize.ProcessOptimizer.build_problem`), evaluated by the
surrogate evaluator of :mod:`~circman_kernel.ai.problem`; constraints become pymoo's
``G <= 0``. The entry points are :func:`pareto_front` (also
:meth:`~circman_kernel.ai.optimize.ProcessOptimizer.optimize_pareto`) and
:func:`carbon_per_module`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.ai.problem import _Evaluator
from circman_kernel.core.errors import OptimizationError, ParameterError
from circman_kernel.lca.analyzer import LCAAnalyzer

__all__ = ["carbon_per_module", "pareto_front"]

_FIRST = ("output_amount", "efficiency")


def carbon_per_module(
    output_amount: Any, energy_used: Any, *, config: Any = None, analyzer: Any = None
) -> np.ndarray:
    """Return the manufacturing footprint per module [kg CO2-eq/module], vectorised.

    The LCA is linear in its inputs, so the per-module material part and the per-kWh
    energy part are each taken from one call of ``calculate_manufacturing_impact``.

    Parameters
    ----------
    output_amount : array_like
        Production rate [modules/h] (floored at 1e-6 to avoid division by zero).
    energy_used : array_like
        Mean power draw [kW]; energy per module = ``energy_used / output_amount`` [kWh].
    """
    cfg = config if config is not None else _load()
    an = analyzer if analyzer is not None else LCAAnalyzer(cfg.impact_factors)
    sim = cfg.digital_twin.SIMULATION_PARAMETERS
    materials = {
        "silicon_wafer": sim.silicon_wafer_consumption_rate,
        "solar_glass": sim.solar_glass_consumption_rate,
    }
    per_module = an.calculate_manufacturing_impact(materials, 0.0)
    per_kwh = an.calculate_manufacturing_impact({}, 1.0) - an.calculate_manufacturing_impact(
        {}, 0.0
    )
    kwh = np.asarray(energy_used, dtype=float) / np.maximum(np.asarray(output_amount, float), 1e-6)
    return per_module + per_kwh * kwh


def _load() -> Any:
    from circman_kernel.core.config import load_config

    return load_config()


def pareto_front(
    optimizer: Any,
    current_params: Mapping[str, float],
    constraints: Mapping[str, Any] | None = None,
    *,
    fixed: Mapping[str, float] | None = None,
    first_objective: str = "output_amount",
    population_size: int | None = None,
    generations: int | None = None,
    seed: int | None = None,
) -> pd.DataFrame:
    """Return the Pareto front (one row per non-dominated point) found by NSGA-II.

    Parameters
    ----------
    optimizer : ProcessOptimizer
        Supplies the model, configuration, bounds and constraints.
    current_params
        The decision variables (values only name them; NSGA-II samples the bounds).
    first_objective : {"output_amount", "efficiency"}
        The quantity to maximise.
    population_size, generations, seed
        Default: ``optimization.json`` ``PARETO``.

    Returns
    -------
    DataFrame
        The decision variables, the predicted outcomes, ``energy_kwh_per_module`` and
        ``carbon_kg_per_module``, sorted by the first objective (best first).
    """
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.optimize import minimize

    if first_objective not in _FIRST:
        raise ParameterError(
            f"first_objective must be one of {_FIRST}, got {first_objective!r}",
            name="first_objective",
            value=first_objective,
        )
    problem = optimizer.build_problem("weighted", current_params, constraints, fixed=fixed)
    model = optimizer.model
    targets = model.target_names_
    for name in (first_objective, "energy_used", "output_amount"):
        if name not in targets:
            raise ParameterError(
                f"the Pareto front needs the outcome {name!r}; the model "
                f"predicts {', '.join(targets)}",
                name=name,
            )
    cfg = optimizer._cfg()
    settings = cfg.optimization.PARETO
    pop = int(population_size or settings.population_size)
    gens = int(generations or settings.generations)
    seed = settings.seed if seed is None else int(seed)
    if pop < 4 or gens < 1:
        raise ParameterError(
            "population_size must be >= 4 and generations >= 1",
            name="population_size",
            value=(pop, gens),
        )
    an = LCAAnalyzer(cfg.impact_factors)
    ev = _Evaluator(model, problem, 1e-5)
    i_first, i_energy, i_out = (
        targets.index(n) for n in (first_objective, "energy_used", "output_amount")
    )
    n_ieq = ev.constraint_values(np.zeros((1, len(targets)))).shape[1]
    n_eq = ev.equality_values(np.zeros((1, len(targets)))).shape[1]

    class _Front(Problem):
        def __init__(self) -> None:
            super().__init__(
                n_var=len(problem.variables),
                n_obj=3,
                n_ieq_constr=n_ieq,
                n_eq_constr=n_eq,
                xl=0.0,
                xu=1.0,
            )

        def _evaluate(self, Z: np.ndarray, out: dict, *args: Any, **kwargs: Any) -> None:
            Y = ev.predict_z(np.atleast_2d(Z))
            carbon = carbon_per_module(Y[:, i_out], Y[:, i_energy], config=cfg, analyzer=an)
            out["F"] = np.column_stack([-Y[:, i_first], Y[:, i_energy], carbon])
            if n_ieq:
                out["G"] = -ev.constraint_values(Y)
            if n_eq:
                out["H"] = ev.equality_values(Y)

    res = minimize(_Front(), NSGA2(pop_size=pop), ("n_gen", gens), seed=seed, verbose=False)
    if res.X is None:
        raise OptimizationError(
            "NSGA-II found no feasible point: relax the constraints or widen the bounds"
        )
    Z = np.atleast_2d(res.X)
    Z = np.unique(Z, axis=0)
    X = ev.to_x(Z)
    Y = ev.predict_z(Z)
    front = pd.DataFrame(X, columns=list(problem.variables))
    for i, t in enumerate(targets):
        front[t] = Y[:, i]
    front["energy_kwh_per_module"] = Y[:, i_energy] / np.maximum(Y[:, i_out], 1e-6)
    sim = cfg.digital_twin.SIMULATION_PARAMETERS
    materials = {
        "silicon_wafer": sim.silicon_wafer_consumption_rate,
        "solar_glass": sim.solar_glass_consumption_rate,
    }
    # The exact LCA call for every point of the front (the search used its linear form).
    front["carbon_kg_per_module"] = [
        an.calculate_manufacturing_impact(materials, float(e))
        for e in front["energy_kwh_per_module"]
    ]
    X_full = model.feature_matrix({**problem.fixed, **{v: front[v] for v in problem.variables}})
    front["in_training_range"] = model.in_training_range(X_full)
    front = front.sort_values(first_objective, ascending=False, ignore_index=True)
    front.attrs.update(
        objectives=(f"max {first_objective}", "min energy_used", "min carbon_kg_per_module"),
        population_size=pop,
        generations=gens,
        seed=seed,
        fixed=dict(problem.fixed),
    )
    return front
