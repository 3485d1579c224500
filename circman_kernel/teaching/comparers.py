"""The comparers that judge a learner's answer against the expected one.

Each factory (``numeric``, ``integer``, ``choice``, ``names``, ``boolean`` and
``sql_first_value``, which runs a SQL answer on the check database first) returns a
``compare(answer, expected, mistakes=()) -> Verdict``: ``(ok, hint)``, where the hint says
what to reconsider without giving the value away. ``mistakes`` are the exercise's typical
wrong answers, worked out with the package, each with its own hint
(:mod:`circman_kernel.teaching.mistakes`). The exercises that use them are in
:mod:`circman_kernel.teaching.checks`.

The tolerance policy for numbers (for instructors)
--------------------------------------------------
1. **Right**: the answer agrees with the expected value to the precision a person would
   report: at least 3 significant figures (``442.2`` and ``442`` for 442.233; ``13.0`` and
   ``13`` for 13.0157), or the number of decimals the question asks for
   (``numeric(decimals=3)``), whichever is looser. Any more precise answer within that
   band is right too.
2. **A typical mistake**: the answer matches (by the same rule) a wrong answer the
   exercise's hints name, such as the mean instead of the 95th percentile: its own hint.
3. **A unit slip**: off by a factor of 60, 100, 1000 or 3600 (or one over): "check the
   units".
4. **Close**: within 2 % of the expected value or equal to it rounded more coarsely:
   "close — check your rounding or units"; no method hint, the method was right.
5. **A real miss**: "too high"/"too low" and the method hint.

Booleans accept ``numpy.bool_``; numbers accept numpy scalars and 0-d arrays.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "CLOSE",
    "Verdict",
    "boolean",
    "choice",
    "integer",
    "names",
    "numeric",
    "sql_first_value",
    "within_precision",
]

# A verdict is (ok, hint): the comparison decides, the hint says what to reconsider.
Verdict = tuple[bool, str]
#: a typical wrong answer and the hint it gets
Mistakes = Sequence[tuple[Any, str]]
Compare = Callable[..., Verdict]

CLOSE = "close — check your rounding or units"
_UNIT_FACTORS = (60.0, 100.0, 1000.0, 3600.0)


def _as_bool(x: Any) -> bool | None:
    if isinstance(x, bool):
        return x
    if isinstance(x, np.bool_):
        return bool(x)
    return None


def _as_number(x: Any) -> float | None:
    """Return ``x`` as a finite float (numpy scalars and 0-d arrays too), else None."""
    if _as_bool(x) is not None:
        return None
    if getattr(x, "shape", None) == () and hasattr(x, "item"):
        x = x.item()  # a 0-d numpy array
    if not isinstance(x, numbers.Real):
        return None
    value = float(x)
    return value if math.isfinite(value) else None


def _tolerance(expected: float, sig: int | None, decimals: int | None, rtol: float) -> float:
    tol = abs(expected) * rtol
    if sig is not None and expected != 0:
        tol = max(tol, 0.5 * 10.0 ** (math.floor(math.log10(abs(expected))) - (sig - 1)))
    if decimals is not None:
        tol = max(tol, 0.5 * 10.0**-decimals)
    return tol * (1 + 1e-9) + 1e-12  # a value printed at the band's edge still counts


def within_precision(
    answer: float, expected: float, *, sig: int | None = 3, decimals: int | None = None
) -> bool:
    """True when ``answer`` agrees with ``expected`` to ``sig`` significant figures or
    ``decimals`` decimals (the looser of the two).

    >>> within_precision(442.2, 442.233), within_precision(13, 13.0157)
    (True, True)
    >>> within_precision(7, 6.75), within_precision(22.7, 22.725, sig=None, decimals=3)
    (False, False)
    """
    return abs(answer - expected) <= _tolerance(expected, sig, decimals, 0.0)


def _coarser(answer: float, expected: float) -> bool:
    if expected == 0:
        return False
    digits = math.floor(math.log10(abs(expected)))
    roundings = {round(expected, d) for d in range(-3, 3)}
    roundings |= {round(expected, s - 1 - digits) for s in (1, 2)}
    return any(math.isclose(answer, r, rel_tol=1e-9, abs_tol=1e-12) for r in roundings)


def numeric(
    *,
    sig: int | None = 3,
    decimals: int | None = None,
    rtol: float = 0.0,
    unit: str = "",
    idea: str = "",
) -> Compare:
    """Compare a number by the tolerance policy above (``sig`` significant figures or
    ``decimals`` decimals; ``rtol`` for values computed, not typed, such as SQL results)."""

    def compare(answer: Any, expected: Any, mistakes: Mistakes = ()) -> Verdict:
        a = _as_number(answer)
        if a is None:
            what = f"a single number{f' in {unit}' if unit else ''}"
            return False, f"the answer should be {what}, not {type(answer).__name__}."
        e = float(expected)
        tol = _tolerance(e, sig, decimals, rtol)
        if abs(a - e) <= tol:
            return True, ""
        for value, hint in mistakes:
            w = _as_number(value)
            if w is not None and abs(a - w) <= _tolerance(w, sig, decimals, rtol):
                return False, hint
        if e != 0 and any(
            math.isclose(a, e * f, rel_tol=0.02) or math.isclose(a, e / f, rel_tol=0.02)
            for f in _UNIT_FACTORS
        ):
            units = f" ({unit})" if unit else ""
            return (
                False,
                f"your value is off by a large factor: check the units{units} and the unit conversions.",
            )
        if (e != 0 and abs(a - e) <= 0.02 * abs(e)) or _coarser(a, e):
            return False, f"{CLOSE}" + (f" ({unit})." if unit else ".")
        direction = "too high" if a > e else "too low"
        if e != 0 and (abs(a / e) > 50 or abs(a / e) < 0.02):
            direction += " by a large factor: check the units and the unit conversions"
        return False, f"your value is {direction}. {idea}".strip()

    return compare


def integer(*, idea: str = "") -> Compare:
    """Compare a whole number exactly; a typical mistake gets its hint, else high or low."""

    def compare(answer: Any, expected: Any, mistakes: Mistakes = ()) -> Verdict:
        a = _as_number(answer)
        if a is None or a != int(a):
            return False, "the answer should be a whole number (a count)."
        a, e = int(a), int(expected)
        if a == e:
            return True, ""
        for value, hint in mistakes:
            if a == int(value):
                return False, hint
        return False, f"your count is {'too high' if a > e else 'too low'}. {idea}".strip()

    return compare


def choice(*, idea: str = "", options: Iterable[str] = ()) -> Compare:
    """Compare a name (case and surrounding blanks ignored)."""
    opts = tuple(options)

    def compare(answer: Any, expected: Any, mistakes: Mistakes = ()) -> Verdict:
        if not isinstance(answer, str):
            return False, "the answer should be a name, given as a string."
        got = answer.strip().lower()
        if got == str(expected).strip().lower():
            return True, ""
        for value, hint in mistakes:
            if got == str(value).strip().lower():
                return False, hint
        if opts and got not in {o.lower() for o in opts}:
            return False, (
                "that is not one of the candidates: check its spelling against the "
                f"names in the notebook. {idea}"
            ).strip()
        return False, f"that is not the one. {idea}".strip()

    return compare


def names(*, idea: str = "") -> Compare:
    """Compare a collection of names as a set; the hint says missing/extra, not which."""

    def compare(answer: Any, expected: Any, mistakes: Mistakes = ()) -> Verdict:
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


def boolean(*, idea: str = "") -> Compare:
    """Compare a yes/no answer given as ``True``/``False`` (``numpy.bool_`` too)."""

    def compare(answer: Any, expected: Any, mistakes: Mistakes = ()) -> Verdict:
        a = _as_bool(answer)
        if a is None:
            return False, "the answer should be True or False."
        return (True, "") if a == bool(expected) else (False, idea or "think again.")

    return compare


def sql_first_value(value_compare: Compare, *, idea: str = "") -> Compare:
    """Run the learner's SQL on the check database; compare its first value (row 1, column 1).

    The check database (:func:`circman_kernel.teaching.check_db.check_store`) holds runs
    made like the notebook's plus adversarial ones, so that the usual wrong queries give
    another result than the right one; the result is compared, never the text. A typical
    wrong query is recognised by its result and gets its hint.
    """

    def compare(answer: Any, expected: Any, mistakes: Mistakes = ()) -> Verdict:
        if not isinstance(answer, str) or not answer.strip():
            return False, "the answer should be the text of a SQL query (a string)."
        from circman_kernel.core.errors import StoreError
        from circman_kernel.teaching import check_db

        try:
            frame = check_db.check_store().query(answer)
        except StoreError as exc:
            first = str(exc).splitlines()[0]
            return False, f"the query failed on the check database: {first}"
        if frame.empty or frame.shape[1] == 0:
            return False, f"the query returned no rows. {idea}".strip()
        first = frame.iat[0, 0]
        if first is None or (isinstance(first, float) and math.isnan(first)):
            return False, f"the query's first value is NULL. {idea}".strip()
        ok, hint = value_compare(first, expected, mistakes)
        if ok:
            return True, ""
        return False, f"the first value your query returns is not the one asked for: {hint}"

    return compare
