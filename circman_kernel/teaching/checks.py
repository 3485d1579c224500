"""Self-checks for the exercises of the guided notebooks (``notebooks/0*.ipynb``).

Each exercise has an id (``"02-1"``: notebook 02, first exercise) and a check function
``check_<name>(answer) -> CheckResult``. A check works the expected answer out itself with
the package (the exercise fixes every seed), compares, and says *correct*, *wrong* (with a
hint that points at the idea, never at the value) or *not yet answered* (the placeholder
``answer = None`` is still there). Checks never raise on a learner's answer.

This module holds the exercise list (``EXERCISES``), ``check``, ``solution`` and the
``check_*`` helpers; how an answer is compared (numbers by the tolerance policy, counts,
names, SQL run on a check database) is in :mod:`circman_kernel.teaching.comparers`, which
documents the policy for instructors: an answer to 3 significant figures (or the
precision the question asks) is right, a near miss is told "close — check your rounding
or units", a typical mistake gets its own hint and only a real miss the method hint. Reference
solutions live in :mod:`circman_kernel.teaching.solutions`, not in the learner's
notebooks; instructors show them with :func:`solution`.

Examples
--------
>>> from circman_kernel import teaching
>>> teaching.check_minutes_above_threshold(None).status
'unanswered'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from circman_kernel.core.errors import ParameterError
from circman_kernel.teaching.comparers import (
    Verdict,
    boolean,
    choice,
    integer,
    numeric,
    sql_first_value,
)

__all__ = [
    "EXERCISES",
    "CheckResult",
    "Exercise",
    "check",
    "exercises",
    "solution",
]

CORRECT, WRONG, UNANSWERED = "correct", "wrong", "unanswered"


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one self-check: ``status`` is ``correct``, ``wrong`` or ``unanswered``."""

    exercise: str
    status: str
    message: str
    hint: str = ""

    @property
    def correct(self) -> bool:
        """True when the answer was accepted."""
        return self.status == CORRECT

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
        mark = {CORRECT: "✔ correct", WRONG: "✘ not quite", UNANSWERED: "… not yet answered"}
        text = f"[{self.exercise}] {mark[self.status]}: {self.message}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        icon = {CORRECT: "✅", WRONG: "❌", UNANSWERED: "✏️"}[self.status]
        text = f"{icon} **Exercise {self.exercise}**: {self.message}"
        return f"{text}  \n*Hint:* {self.hint}" if self.hint else text


@dataclass(frozen=True)
class Exercise:
    """One exercise: where it is, what it asks, and how an answer is judged.

    ``compare(answer, expected, mistakes=())`` returns ``(ok, hint)``; ``expected`` comes
    from the reference solution in :mod:`circman_kernel.teaching.solutions`, ``mistakes``
    (typical wrong answers with their hints) from :mod:`circman_kernel.teaching.mistakes`.
    """

    id: str
    name: str
    notebook: str
    question: str
    compare: Callable[..., Verdict] = field(repr=False)
    praise: str = "well done."


# ----------------------------------------------------------------------------- registry
def exercises() -> list[Exercise]:
    """Return every exercise in notebook order."""
    return [EXERCISES[k] for k in sorted(EXERCISES)]


def _find(exercise: str) -> Exercise:
    if exercise in EXERCISES:
        return EXERCISES[exercise]
    for ex in EXERCISES.values():
        if ex.name == exercise:
            return ex
    known = ", ".join(f"{e.id} ({e.name})" for e in exercises())
    raise ParameterError(f"unknown exercise {exercise!r}; known exercises: {known}")


def check(exercise: str, answer: Any) -> CheckResult:
    """Check ``answer`` to ``exercise`` (an id such as ``"02-1"`` or its name)."""
    ex = _find(exercise)
    if answer is None or answer is Ellipsis:
        return CheckResult(
            ex.id,
            UNANSWERED,
            "replace `answer = None` in the cell marked `# YOUR ANSWER` with your answer, "
            "run it, then run this cell again.",
        )
    from circman_kernel.teaching import solutions as teaching_solutions

    try:
        expected = teaching_solutions.expected(ex.id)
    except Exception as exc:  # the package cannot work the answer out: say so, do not hide it
        raise RuntimeError(
            f"exercise {ex.id}: the self-check could not compute the expected answer "
            f"({type(exc).__name__}: {exc}); check the circman installation"
        ) from exc
    try:
        ok, hint = ex.compare(answer, expected)
        if not ok:  # a typical mistake gets its own hint (worked out only when needed)
            from circman_kernel.teaching.mistakes import typical_wrong_answers

            ok, hint = ex.compare(answer, expected, typical_wrong_answers(ex.id))
    except Exception as exc:  # a learner's odd object must give a hint, not a traceback
        ok, hint = False, f"this answer could not be compared ({type(exc).__name__}: {exc})."
    if ok:
        return CheckResult(ex.id, CORRECT, ex.praise)
    return CheckResult(ex.id, WRONG, "not the expected answer yet.", hint)


def solution(exercise: str, *, show: bool = True) -> str:
    """Return (and print, with ``show=True``) the reference solution of an exercise.

    For instructors: the learner notebooks do not contain the solutions.
    """
    from circman_kernel.teaching import solutions as teaching_solutions

    ex = _find(exercise)
    code = teaching_solutions.code(ex.id)
    if show:
        print(f"# Exercise {ex.id} ({ex.notebook}): {ex.question}\n{code}")
    return code


def _make_check(ex: Exercise) -> Callable[[Any], CheckResult]:
    def check_fn(answer: Any) -> CheckResult:
        return check(ex.id, answer)

    check_fn.__name__ = f"check_{ex.name}"
    check_fn.__qualname__ = check_fn.__name__
    check_fn.__doc__ = f"Check exercise {ex.id} ({ex.notebook}): {ex.question}"
    return check_fn


# ----------------------------------------------------------------------------- exercises
NB01 = "01_digital_twin.ipynb"
NB02 = "02_simulation_monte_carlo.ipynb"
NB03 = "03_scenarios_sweeps.ipynb"
NB04 = "04_surrogate_optimisation.ipynb"
NB05 = "05_life_cycle_assessment.ipynb"
NB06 = "06_sql_over_runs.ipynb"
NB07 = "07_realtime_and_dask.ipynb"

_ALL: tuple[Exercise, ...] = (
    Exercise(
        "01-1",
        "minutes_above_threshold",
        NB01,
        "For how many minutes of the shift was the line temperature above its upper "
        "threshold (from the breach event to the recovery event, by sensor time)?",
        numeric(
            unit="minutes",
            idea="Use the sensor time each threshold event carries in its details, not the "
            "moment the event object was created, and convert seconds to minutes.",
        ),
        "the cooling fault is visible in the events alone, no need to scan every row.",
    ),
    Exercise(
        "01-2",
        "temperature_at_ten",
        NB01,
        "What was the line temperature [degC] in effect at 10:00:07 on the shift's day, "
        "to 3 decimals as the sensor reported it?",
        numeric(
            sig=None,
            decimals=3,
            unit="degC",
            idea="The state in effect at a time is the most recent one at or before it; "
            "the state manager can look it up without a loop.",
        ),
        "a time look-up in the history is a binary search, not a scan.",
    ),
    Exercise(
        "02-1",
        "hour_wafers_run_out",
        NB02,
        "In the 200-step run (seed 7, default parameters), at which step (hour) does the "
        "silicon wafer inventory first reach zero?",
        integer(
            idea="Look at materials.silicon_wafer.inventory in the wide frame and find the "
            "first step where it is (numerically) zero."
        ),
        "from that hour on the line cannot make modules: output is material-limited.",
    ),
    Exercise(
        "02-2",
        "p95_energy_per_module",
        NB02,
        "In the Monte Carlo run (500 iterations, 48 steps, uncertainty 0.1, seed 42), what is "
        "the 95th percentile of energy per module [kWh/module] across iterations?",
        numeric(
            unit="kWh/module",
            idea="Take the KPI table of the Monte Carlo run (one row per iteration) and the "
            "95th percentile of the right column, not a per-step percentile.",
        ),
        "one in twenty iterations needs more energy per module than that.",
    ),
    Exercise(
        "03-1",
        "faster_cycle_output_pct",
        NB03,
        "By how many percent does the 'faster cycle' scenario change the modules made "
        "against the baseline (48 h, seed 0)?",
        numeric(
            unit="%",
            idea="The comparison table has a column of percentage differences for each KPI.",
        ),
        "with common random numbers the difference comes from the parameters alone.",
    ),
    Exercise(
        "03-2",
        "most_influential",
        NB03,
        "Which swept parameter influences energy per module the most (rank 1)?",
        choice(
            idea="Read the sensitivity ranking of energy per module, not of another KPI.",
            options=(
                "cycle_time",
                "target_temperature",
                "energy_consumption_increment",
                "base_defect_rate",
            ),
        ),
        "that is the lever to study first.",
    ),
    Exercise(
        "03-3",
        "box_lower_temperature",
        NB03,
        "Above which target temperature [degC] does PRIM's chosen box for the worst 10 % of "
        "defect rates start (its lower limit on target_temperature)?",
        numeric(
            unit="degC",
            idea="Read the chosen box's limits, the row of target_temperature, column min.",
        ),
        "a box is a rule an operator can act on: keep the set-point below it.",
    ),
    Exercise(
        "04-1",
        "optimum_reproduced",
        NB04,
        "Does the process model show a real gain (beyond its Monte Carlo noise) at the "
        "weighted optimum, as the honesty check judges it?",
        boolean(
            idea="Read the verdict of the honesty check: it weighs the simulated gain "
            "against its standard error, not against the size the surrogate promised."
        ),
        "always trust the physics re-run over the surrogate's promise.",
    ),
    Exercise(
        "04-2",
        "lowest_pareto_carbon",
        NB04,
        "On the Pareto front of good modules against the batch's total carbon, what is the "
        "lowest carbon [kg CO2-eq] of a 48-hour batch that makes at least 400 good modules?",
        numeric(
            unit="kg CO2-eq",
            idea="Keep the rows of the front with at least 400 good modules, then take the "
            "minimum of their carbon column.",
        ),
        "every good module beyond that costs carbon: that is the trade-off.",
    ),
    Exercise(
        "05-1",
        "manufacturing_by_hand",
        NB05,
        "By hand: the manufacturing impact [kg CO2-eq] of 5 kg silicon wafer, 12 kg solar "
        "glass, 2.5 kg aluminium frame and 80 kWh of electricity.",
        numeric(
            unit="kg CO2-eq",
            idea="Sum quantity x material factor over the materials, then add energy x the "
            "energy factor; all factors are per kg or per kWh.",
        ),
        "that is the manual's manufacturing formula.",
    ),
    Exercise(
        "05-2",
        "carbon_payback_years",
        NB05,
        "What is the carbon payback time [years] of the assessed batch?",
        numeric(
            unit="years",
            idea="The LifeCycleImpact has the payback times among its functional units.",
        ),
        "after that time the modules have avoided more CO2 than they caused.",
    ),
    Exercise(
        "07-1",
        "dask_sweep_mean_output",
        NB07,
        "What is the mean number of modules made over the 64 experiments of the sweep run "
        "on the Dask cluster?",
        numeric(
            unit="modules",
            idea="Average the output_modules outcome of the sweep that ran on the cluster.",
        ),
        "and it is the very same number as the serial run: seeds, not workers, decide.",
    ),
    Exercise(
        "06-1",
        "sql_best_run",
        NB06,
        "Write a SQL query whose first value is the name of the simulation run with the "
        "lowest energy per module among the runs with a defect rate of at most 2.1 %.",
        sql_first_value(
            choice(),
            idea="Filter on kind and defect rate, sort by energy per module, keep one row.",
        ),
        "a filter, a sort and a limit: most run comparisons look like that.",
    ),
    Exercise(
        "06-2",
        "sql_p95_output",
        NB06,
        "Write a SQL query over the trajectories whose first value is the 95th percentile "
        "of output_modules at the final step of the Monte Carlo run.",
        sql_first_value(
            numeric(sig=None, rtol=1e-9, unit="modules"),  # computed by SQL, not typed
            idea="Restrict to the Monte Carlo run, the variable and its last step.",
        ),
        "SQL aggregates over every iteration without loading them into Python.",
    ),
)

#: Every exercise by id (read-only).
EXERCISES: MappingProxyType[str, Exercise] = MappingProxyType({e.id: e for e in _ALL})

check_minutes_above_threshold = _make_check(EXERCISES["01-1"])
check_temperature_at_ten = _make_check(EXERCISES["01-2"])
check_hour_wafers_run_out = _make_check(EXERCISES["02-1"])
check_p95_energy_per_module = _make_check(EXERCISES["02-2"])
check_faster_cycle_output_pct = _make_check(EXERCISES["03-1"])
check_most_influential = _make_check(EXERCISES["03-2"])
check_box_lower_temperature = _make_check(EXERCISES["03-3"])
check_optimum_reproduced = _make_check(EXERCISES["04-1"])
check_lowest_pareto_carbon = _make_check(EXERCISES["04-2"])
check_manufacturing_by_hand = _make_check(EXERCISES["05-1"])
check_carbon_payback_years = _make_check(EXERCISES["05-2"])
check_dask_sweep_mean_output = _make_check(EXERCISES["07-1"])
check_sql_best_run = _make_check(EXERCISES["06-1"])
check_sql_p95_output = _make_check(EXERCISES["06-2"])
