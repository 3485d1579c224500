"""The comparers that judge a learner's answer against the expected one.

Each factory (``numeric``, ``integer``, ``choice``, ``names``, ``boolean`` and
``sql_first_value``, which runs a SQL answer on the check database first) returns a
``compare(answer, expected) -> Verdict``: ``(ok, hint)``, where the hint says what to
reconsider (too high, a missing name, a unit slip) without giving the value away.
The exercises that use them are in :mod:`circman_kernel.teaching.checks`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Verdict", "boolean", "choice", "integer", "names", "numeric", "sql_first_value"]

# A verdict is (ok, hint): the comparison decides, the hint says what to reconsider.
Verdict = tuple[bool, str]


def _is_number(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def numeric(
    *, rtol: float = 1e-3, atol: float = 0.0, unit: str = "", idea: str = ""
) -> Callable[[Any, Any], Verdict]:
    """Compare a number within a relative/absolute tolerance; hint only says high or low."""

    def compare(answer: Any, expected: Any) -> Verdict:
        if not _is_number(answer):
            what = f"a single number{f' in {unit}' if unit else ''}"
            return False, f"the answer should be {what}, not {type(answer).__name__}."
        a, e = float(answer), float(expected)
        if math.isclose(a, e, rel_tol=rtol, abs_tol=atol):
            return True, ""
        direction = "too high" if a > e else "too low"
        if e != 0 and (abs(a / e) > 50 or abs(a / e) < 0.02):
            direction += " by a large factor: check the units and the unit conversions"
        return False, f"your value is {direction}. {idea}".strip()

    return compare


def integer(*, idea: str = "") -> Callable[[Any, Any], Verdict]:
    """Compare a whole number exactly; the hint says high or low."""

    def compare(answer: Any, expected: Any) -> Verdict:
        if not _is_number(answer) or float(answer) != int(float(answer)):
            return False, "the answer should be a whole number (a count)."
        a, e = int(float(answer)), int(expected)
        if a == e:
            return True, ""
        return False, f"your count is {'too high' if a > e else 'too low'}. {idea}".strip()

    return compare


def choice(*, idea: str = "", options: Iterable[str] = ()) -> Callable[[Any, Any], Verdict]:
    """Compare a name (case and surrounding blanks ignored)."""
    opts = tuple(options)

    def compare(answer: Any, expected: Any) -> Verdict:
        if not isinstance(answer, str):
            return False, "the answer should be a name, given as a string."
        if answer.strip().lower() == str(expected).strip().lower():
            return True, ""
        if opts and answer.strip().lower() not in {o.lower() for o in opts}:
            return False, (
                "that is not one of the candidates: check its spelling against the "
                f"names in the notebook. {idea}"
            ).strip()
        return False, f"that is not the one. {idea}".strip()

    return compare


def names(*, idea: str = "") -> Callable[[Any, Any], Verdict]:
    """Compare a collection of names as a set; the hint says missing/extra, not which."""

    def compare(answer: Any, expected: Any) -> Verdict:
        if isinstance(answer, str) or not isinstance(answer, Iterable):
            return False, "the answer should be a collection (list or set) of names."
        got = {str(a).strip() for a in answer}
        want = {str(e) for e in expected}
        if got == want:
            return True, ""
        parts = []
        if want - got:
            parts.append(f"{len(want - got)} missing")
        if got - want:
            parts.append(f"{len(got - want)} that should not be there")
        return False, f"your set has {' and '.join(parts)}. {idea}".strip()

    return compare


def boolean(*, idea: str = "") -> Callable[[Any, Any], Verdict]:
    """Compare a yes/no answer given as ``True``/``False``."""

    def compare(answer: Any, expected: Any) -> Verdict:
        if not isinstance(answer, bool):
            return False, "the answer should be True or False."
        return (True, "") if answer == bool(expected) else (False, idea or "think again.")

    return compare


def sql_first_value(
    value_compare: Callable[[Any, Any], Verdict], *, idea: str = ""
) -> Callable[[Any, Any], Verdict]:
    """Run the learner's SQL on a check database; compare its first value (row 1, column 1).

    The check database holds the same runs the notebook creates (same recipe, same seeds),
    so a query that works in the notebook works there.
    """

    def compare(answer: Any, expected: Any) -> Verdict:
        if not isinstance(answer, str) or not answer.strip():
            return False, "the answer should be the text of a SQL query (a string)."
        from circman_kernel.core.errors import StoreError
        from circman_kernel.teaching import solutions as teaching_solutions

        try:
            frame = teaching_solutions.check_store().query(answer)
        except StoreError as exc:
            first = str(exc).splitlines()[0]
            return False, f"the query failed on the check database: {first}"
        if frame.empty or frame.shape[1] == 0:
            return False, f"the query returned no rows. {idea}".strip()
        ok, hint = value_compare(frame.iat[0, 0], expected)
        if ok:
            return True, ""
        return False, f"the first value your query returns is not the one asked for: {hint}"

    return compare
