"""Simulation of the line: the process model, ``SimulationEngine``, scenarios and sweeps.

Owns ``process`` (the step model's equations and vectorised recurrences), ``engine``
(``SimulationEngine``, single runs and Monte Carlo), ``scenarios`` (``ScenarioManager``,
sweep sampling and sensitivity analysis). May import ``core`` and ``lca`` (carbon KPIs).
It starts from a state dict (schema in ``core``), so it needs no twin.
"""
