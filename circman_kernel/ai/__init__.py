"""Surrogate models and optimisation of process parameters.

Owns ``model`` (``ManufacturingModel``), ``surrogate_data`` (training data drawn from the
process model), ``optimize`` (``ProcessOptimizer``), ``pareto`` (multi-objective fronts),
the honesty check and ``integration`` (``AIIntegration``). May import ``core``, ``lca``,
``simulation`` and ``twin``.
"""
