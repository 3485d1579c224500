"""Self-checks and reference solutions of the guided notebooks.

Owns ``checks`` (the exercise list, ``check`` and the ``check_*`` helpers),
``comparers`` (how an answer is judged against the expected one, with a hint: the
tolerance policy for instructors is documented there), ``mistakes`` (each exercise's
typical wrong answers and their hints), ``check_db`` (the adversarial check database of
the SQL exercises) and ``solutions`` (reference answers, computed with the package;
notebook 03's discovery answer in ``solutions_discovery``). May import everything below
``server``. ``from circman_kernel import teaching; teaching.check(...)`` is the notebooks' way in.
"""

from circman_kernel.teaching.checks import (
    EXERCISES,
    CheckResult,
    Exercise,
    check,
    check_box_lower_temperature,
    check_carbon_payback_years,
    check_dask_sweep_mean_output,
    check_faster_cycle_output_pct,
    check_hour_wafers_run_out,
    check_lowest_pareto_carbon,
    check_manufacturing_by_hand,
    check_minutes_above_threshold,
    check_most_influential,
    check_optimum_reproduced,
    check_p95_energy_per_module,
    check_sql_best_run,
    check_sql_p95_output,
    check_temperature_at_ten,
    exercises,
    solution,
)

__all__ = [
    "EXERCISES",
    "CheckResult",
    "Exercise",
    "check",
    "exercises",
    "solution",
    "check_minutes_above_threshold",
    "check_temperature_at_ten",
    "check_hour_wafers_run_out",
    "check_p95_energy_per_module",
    "check_faster_cycle_output_pct",
    "check_most_influential",
    "check_box_lower_temperature",
    "check_optimum_reproduced",
    "check_lowest_pareto_carbon",
    "check_manufacturing_by_hand",
    "check_carbon_payback_years",
    "check_dask_sweep_mean_output",
    "check_sql_best_run",
    "check_sql_p95_output",
]
