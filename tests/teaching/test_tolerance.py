"""The tolerance policy, exercise by exercise: a right value rounded to 3 significant figures
(or to the precision the question asks) passes, numpy scalars pass, the typical wrong
answers named in the hints fail with the matching hint, a near miss is told "close", and
the SQL exercises reject plausible wrong queries on the adversarial check database."""

from __future__ import annotations

import math

import numpy as np
import pytest

from circman_kernel.teaching import check_db, comparers, mistakes
from circman_kernel.teaching import checks as teaching
from circman_kernel.teaching import solutions as teaching_solutions

NUMERIC = ["01-1", "01-2", "02-2", "03-1", "03-3", "04-2", "05-1", "05-2", "07-1"]
#: exercises whose question asks for a precision of its own (decimals)
DECIMALS = {"01-2": 3}


def _round_sig(x: float, sig: int = 3) -> float:
    return round(x, sig - 1 - math.floor(math.log10(abs(x))))


def _rounded(ex_id: str) -> float:
    e = float(teaching_solutions.expected(ex_id))
    return round(e, DECIMALS[ex_id]) if ex_id in DECIMALS else _round_sig(e)


@pytest.mark.parametrize("ex_id", NUMERIC)
def test_right_value_to_the_asked_precision_passes_also_as_numpy_scalar(ex_id: str) -> None:
    value = _rounded(ex_id)
    for answer in (value, np.float64(value), np.float32(value), np.array(value)):
        result = teaching.check(ex_id, answer)
        assert result.correct, (answer, result)


def test_integer_choice_and_boolean_accept_numpy_types() -> None:
    assert teaching.check("02-1", np.int64(teaching_solutions.expected("02-1"))).correct
    assert teaching.check("02-1", float(teaching_solutions.expected("02-1"))).correct
    assert teaching.check("03-2", np.str_(teaching_solutions.expected("03-2"))).correct
    reproduced = teaching_solutions.expected("04-1")
    assert teaching.check("04-1", np.bool_(reproduced)).correct
    assert teaching.check("04-1", np.True_ if reproduced else np.False_).correct
    wrong = teaching.check("04-1", np.bool_(not reproduced))
    assert wrong.status == "wrong" and "standard error" in wrong.hint
    assert teaching.check("04-1", 1).status == "wrong"  # a number is not a yes/no answer


@pytest.mark.parametrize("ex_id", sorted(mistakes.MISTAKES))
def test_typical_wrong_answers_get_their_own_hint(ex_id: str) -> None:
    expected = teaching_solutions.expected(ex_id)
    named = mistakes.MISTAKES[ex_id]
    assert named, ex_id
    for mistake, (value, hint) in zip(named, mistakes.typical_wrong_answers(ex_id), strict=True):
        if ex_id.startswith("06"):
            continue  # SQL: the wrong queries are checked below
        result = teaching.check(ex_id, value)
        assert result.status == "wrong", (ex_id, mistake.what, value, expected)
        assert result.hint == hint, (ex_id, mistake.what, result.hint)
        assert "close" not in result.hint


@pytest.mark.parametrize("ex_id", NUMERIC)
def test_a_near_miss_is_close_and_a_real_miss_gets_the_method_hint(ex_id: str) -> None:
    e = float(teaching_solutions.expected(ex_id))
    near = teaching.check(ex_id, e * 1.012)
    assert near.status == "wrong" and near.hint.startswith(comparers.CLOSE), near
    far = teaching.check(ex_id, e * 1.37 + 0.5)
    assert far.status == "wrong" and not far.hint.startswith("close"), far
    assert far.hint.startswith("your value is too high")


def test_rounded_coarser_than_asked_is_close_not_wrong_method() -> None:
    # 6.75 minutes answered as 7: the method was right, the rounding too coarse
    assert teaching_solutions.expected("01-1") == 6.75
    result = teaching.check("01-1", 7)
    assert result.status == "wrong" and result.hint.startswith(comparers.CLOSE)
    assert teaching.check("01-1", 6.75).correct and teaching.check("01-1", "6.75").status == "wrong"
    # 442.2 for 442.233 and 13 for 13.0157 are right (3 significant figures)
    assert teaching.check("07-1", round(teaching_solutions.expected("07-1"), 1)).correct
    assert teaching.check("03-1", round(teaching_solutions.expected("03-1"))).correct
    # the question of 01-2 asks for 3 decimals: 3 significant figures are close, not right
    coarse = teaching.check("01-2", round(teaching_solutions.expected("01-2"), 1))
    assert coarse.status == "wrong" and coarse.hint.startswith(comparers.CLOSE)


def test_unit_slips_are_named() -> None:
    hint = teaching.check("03-1", teaching_solutions.expected("03-1") / 100).hint
    assert "units" in hint and "close" not in hint


# ----------------------------------------------------------------------------- SQL
WRONG_BEST_RUN = {
    "no defect filter": mistakes.NO_DEFECT_FILTER,
    "percent for fraction": mistakes.PERCENT_FOR_FRACTION,
    "no kind filter": mistakes.ANY_KIND,
    "total energy": mistakes.TOTAL_ENERGY,
    "hard-coded answer of the notebook": "SELECT 'cycle 24 s'",
    "highest energy": "SELECT name FROM run_summary WHERE kind = 'simulation' "
    "AND defect_rate <= 0.021 ORDER BY energy_per_module_kwh DESC LIMIT 1",
    "a looser limit": "SELECT name FROM run_summary WHERE kind = 'simulation' "
    "AND defect_rate < 0.03 ORDER BY energy_per_module_kwh LIMIT 1",
    "an unrelated join": "SELECT r.name FROM runs AS r JOIN run_kpis AS k ON k.run_id = r.id "
    "WHERE k.kpi = 'energy_per_module_kwh' ORDER BY k.value LIMIT 1",
}
WRONG_P95 = {
    "every step": mistakes.EVERY_STEP,
    "every run": mistakes.EVERY_KIND_LAST_STEP,
    "median": mistakes.MEDIAN_LAST_STEP,
    "largest step of the whole table": "SELECT quantile_cont(t.value, 0.95) FROM trajectories "
    "AS t JOIN runs AS r ON r.id = t.run_id WHERE r.kind = 'monte_carlo' AND "
    "t.variable = 'output_modules' AND t.step = (SELECT max(step) FROM trajectories)",
    "hard-coded answer of the notebook": "SELECT 508.58368472241693",
    "another variable": "SELECT quantile_cont(t.value, 0.95) FROM trajectories AS t JOIN "
    "runs AS r ON r.id = t.run_id WHERE r.kind = 'monte_carlo' AND t.variable = 'energy_kwh' "
    "AND t.step = (SELECT max(step) FROM trajectories WHERE run_id = r.id)",
}


@pytest.mark.parametrize(
    ("ex_id", "wrong"), [("06-1", WRONG_BEST_RUN), ("06-2", WRONG_P95)], ids=["06-1", "06-2"]
)
def test_sql_checks_reject_plausible_wrong_queries(ex_id: str, wrong: dict[str, str]) -> None:
    assert teaching.check(ex_id, teaching_solutions.reference_answer(ex_id)).correct
    for what, query in wrong.items():
        result = teaching.check(ex_id, query)
        assert result.status == "wrong", (what, result)
        assert result.hint, what
    # the typical wrong queries get the hint that names their mistake
    for mistake, (_, hint) in zip(
        mistakes.MISTAKES[ex_id], mistakes.typical_wrong_answers(ex_id), strict=True
    ):
        query = next(q for q in wrong.values() if mistakes._sql(q) == mistake.value())
        assert hint in teaching.check(ex_id, query).hint, mistake.what
    assert len(wrong) >= 3


def test_the_check_database_answers_differ_from_the_notebooks() -> None:
    # a query hard-coding what the learner saw in the notebook cannot pass
    assert check_db.best_run() != "cycle 24 s"
    assert teaching.check("06-1", "SELECT 'cycle 23 s'").correct  # (the check db's answer)
    # the notebook's runs are all in the check database
    assert set(teaching_solutions.LAB_RUNS) <= set(check_db.CHECK_RUNS)
    hint = teaching.check("06-1", mistakes.PERCENT_FOR_FRACTION).hint
    assert "fraction" in hint
    hint = teaching.check("06-2", mistakes.EVERY_STEP).hint
    assert "last step" in hint


def test_numeric_comparer_policy_by_hand() -> None:
    compare = comparers.numeric(unit="kWh")
    assert compare(442.2, 442.233) == (True, "")
    assert compare(np.float32(442.0), 442.233) == (True, "")
    ok, hint = compare(445.0, 442.233)
    assert not ok and hint == f"{comparers.CLOSE} (kWh)."
    ok, hint = compare(442.233 * 60, 442.233)
    assert not ok and "units" in hint
    ok, hint = compare(400.0, 442.233, [(400.0, "that is the median")])
    assert (ok, hint) == (False, "that is the median")
    strict = comparers.numeric(sig=None, rtol=1e-9)
    assert strict(1.0 + 1e-12, 1.0)[0] and not strict(1.0001, 1.0)[0]
    assert comparers.within_precision(13, 13.0157) and not comparers.within_precision(7, 6.75)
