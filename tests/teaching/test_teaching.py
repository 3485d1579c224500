"""Self-checks of the guided notebooks: right answers accepted, wrong ones rejected with a
hint that does not give the answer away, placeholders reported as not yet answered."""

from __future__ import annotations

from typing import Any

import pytest

from circman_kernel.core.errors import ParameterError
from circman_kernel.teaching import checks as teaching
from circman_kernel.teaching import comparers
from circman_kernel.teaching import solutions as teaching_solutions

IDS = sorted(teaching.EXERCISES)


def _wrong_answers(ex_id: str, expected: Any) -> list[Any]:
    """Plausible mistakes for an expected answer of any type."""
    if isinstance(teaching_solutions.reference_answer(ex_id), str) and ex_id.startswith("06"):
        return [
            "SELECT 1e9 AS x, 'nobody' AS name",  # runs, wrong value
            "SELECT * FROM runs WHERE false",  # no rows
            "SELECT nonsense FROM nowhere",  # fails
            42,
        ]
    if isinstance(expected, bool):
        return [not expected, "yes"]
    if isinstance(expected, int | float):
        e = float(expected)
        step = abs(e) * 0.2 + 1.0
        return [e + step, e - step, e * 1000 + 1, "twelve", [e]]
    if isinstance(expected, str):
        return [expected + "_x", "", 3.0]
    if isinstance(expected, set | frozenset | list | tuple):
        items = sorted(expected)
        return [items[:-1], [*items, "production_line.nonsense"], "a string"]
    raise AssertionError(f"no wrong answers for {expected!r}")


def _spellings(expected: Any) -> list[str]:
    """Ways an answer could be leaked in a hint."""
    if isinstance(expected, bool):
        return []  # "True"/"False" words may appear in hints about the answer's form
    if isinstance(expected, int | float):
        e = float(expected)
        out = {repr(e), f"{e:g}", f"{e:.1f}", f"{e:.2f}", f"{e:.3f}"}
        if e == int(e):
            out.add(str(int(e)))
        return [s for s in out if len(s.strip("-0.")) >= 2]  # "0.0"-like strings are not leaks
    if isinstance(expected, str):
        return [expected]
    return [str(x) for x in expected]


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    return {ex_id: teaching_solutions.expected(ex_id) for ex_id in IDS}


def test_every_exercise_has_a_solution_and_a_check_function() -> None:
    assert IDS, "no exercises registered"
    assert set(IDS) == set(teaching_solutions.SOLUTIONS)
    for ex in teaching.exercises():
        fn = getattr(teaching, f"check_{ex.name}")
        assert fn.__name__ == f"check_{ex.name}"
        assert ex.id in fn.__doc__
        assert f"check_{ex.name}" in dir(teaching)


@pytest.mark.parametrize("ex_id", IDS)
def test_reference_solution_is_accepted(ex_id: str, expected: dict[str, Any]) -> None:
    ex = teaching.EXERCISES[ex_id]
    result = getattr(teaching, f"check_{ex.name}")(teaching_solutions.reference_answer(ex_id))
    assert result.status == "correct", result
    assert result.correct and bool(result)
    assert "✔ correct" in str(result)


@pytest.mark.parametrize("ex_id", IDS)
def test_wrong_answers_are_rejected_without_revealing_the_answer(
    ex_id: str, expected: dict[str, Any]
) -> None:
    ex = teaching.EXERCISES[ex_id]
    check = getattr(teaching, f"check_{ex.name}")
    for wrong in _wrong_answers(ex_id, expected[ex_id]):
        result = check(wrong)
        assert result.status == "wrong", (wrong, result)
        assert not result.correct
        assert result.hint, "a wrong answer gets a hint"
        for spelling in _spellings(expected[ex_id]):
            assert spelling not in result.hint, (spelling, result.hint)
            assert spelling not in result.message
            assert spelling not in str(result)
            assert spelling not in result._repr_markdown_()


@pytest.mark.parametrize("ex_id", IDS)
def test_placeholder_is_not_yet_answered_and_does_not_raise(ex_id: str) -> None:
    ex = teaching.EXERCISES[ex_id]
    result = getattr(teaching, f"check_{ex.name}")(None)
    assert result.status == "unanswered"
    assert "not yet answered" in str(result)
    assert not result


def test_check_by_id_and_name_agree(expected: dict[str, Any]) -> None:
    ex = teaching.exercises()[0]
    assert teaching.check(ex.id, expected[ex.id]).correct
    assert teaching.check(ex.name, expected[ex.id]).correct
    assert not teaching.check(ex.name, "not a number").correct


def test_unknown_exercise_is_a_typed_error_listing_the_known_ones() -> None:
    with pytest.raises(ParameterError, match="01-1"):
        teaching.check("99-9", 1)
    with pytest.raises(ParameterError, match="known"):
        teaching.solution("nope")
    with pytest.raises(AttributeError):
        teaching.check_nonexistent  # noqa: B018


def test_solution_shows_reference_code_for_instructors(capsys: pytest.CaptureFixture) -> None:
    for ex in teaching.exercises():
        text = teaching.solution(ex.id)
        assert text == teaching_solutions.code(ex.id)
        assert "answer =" in text
        assert ex.question in capsys.readouterr().out
    assert teaching.solution(IDS[0], show=False) and capsys.readouterr().out == ""


def test_numeric_comparer_says_high_or_low_and_flags_unit_slips() -> None:
    compare = comparers.numeric(rtol=1e-3, unit="kg CO2-eq")
    assert compare(10.0, 10.005) == (True, "")
    ok, hint = compare(12.0, 10.0)
    assert not ok and "too high" in hint
    ok, hint = compare(8.0, 10.0)
    assert not ok and "too low" in hint
    ok, hint = compare(10000.0, 10.0)
    assert "units" in hint
    ok, hint = compare(float("nan"), 10.0)
    assert not ok and "kg CO2-eq" in hint
    ok, _ = compare(True, 1.0)
    assert not ok  # a bool is not a number here


def test_names_comparer_counts_missing_and_extra_without_naming_them() -> None:
    compare = comparers.names()
    assert compare(["b", "a"], {"a", "b"}) == (True, "")
    ok, hint = compare(["a", "c"], {"a", "b"})
    assert not ok and "1 missing" in hint and "1 that should not" in hint
    assert "'b'" not in hint and "'c'" not in hint


def test_sql_checks_run_the_query_on_the_check_store_and_report_failures() -> None:
    failed = teaching.check_sql_best_run("SELECT nonsense FROM nowhere")
    assert failed.status == "wrong" and "query failed" in failed.hint
    empty = teaching.check_sql_best_run("SELECT name FROM runs WHERE false")
    assert empty.status == "wrong" and "no rows" in empty.hint
    # a different but equivalent query is accepted: the result is compared, not the text
    other = (
        "SELECT r.name FROM runs r JOIN run_kpis e ON e.run_id = r.id AND e.kpi = "
        "'energy_per_module_kwh' JOIN run_kpis d ON d.run_id = r.id AND d.kpi = 'defect_rate' "
        "WHERE r.kind = 'simulation' AND d.value <= 0.021 ORDER BY e.value LIMIT 1"
    )
    assert teaching.check_sql_best_run(other).correct


def test_notebook_04_checks_train_the_surrogate_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from circman_kernel.ai.model import ManufacturingModel

    trainings = []
    train = ManufacturingModel.train_optimization_model

    def counting(self, *args, **kwargs):
        trainings.append(len(args[0]))
        return train(self, *args, **kwargs)

    monkeypatch.setattr(ManufacturingModel, "train_optimization_model", counting)
    teaching_solutions.expected.cache_clear()
    teaching_solutions._lab_model.cache_clear()
    try:
        reproduced = teaching_solutions.expected("04-1")
        carbon = teaching_solutions.expected("04-2")
    finally:  # leave no model trained by the counting wrapper behind for other tests
        teaching_solutions.expected.cache_clear()
        teaching_solutions._lab_model.cache_clear()
    assert trainings == [2000]  # one surrogate on the 2,000-batch history, shared
    # the default objective values output: the lab's weighted optimum is a real gain
    assert reproduced is True
    assert carbon > 0.0  # kg CO2-eq of a batch on the process-model front
