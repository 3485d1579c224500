"""Merging a partial state into a state: the one path resolution of the package.

:func:`merge_state` serves twin updates (:class:`~circman_kernel.twin.state.StateManager`),
operator input (:class:`~circman_kernel.twin.sources.ManualInputSource`) and the state
overrides of a simulation's ``parameters``
(:meth:`~circman_kernel.simulation.engine.SimulationEngine.resolve`); :func:`validated_copy`
checks a complete state. The schema and the limits are in
:mod:`circman_kernel.core.state_schema`.
"""

from __future__ import annotations

import difflib
import math
import reprlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from circman_kernel.core.errors import StateValidationError
from circman_kernel.core.state_schema import (
    _BIG,
    _ENUM,
    _FREE,
    _NUM,
    _SCALARS,
    _TS,
    EXTRA,
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_TEXT,
    SCHEMA,
    iso_datetime,
)

__all__ = ["merge_state", "validated_copy"]


class _Invalid(Exception):
    """Internal: a bad value; ``keys`` grows while the error unwinds to the dotted path."""

    def __init__(self, key: str, value: Any, reason: str) -> None:
        self.keys = [key]
        self.value = value
        self.reason = reason

    def to_error(self) -> StateValidationError:
        path = ".".join(str(k) for k in self.keys)
        # reprlib: a hostile value (1,000 levels deep, a million items) must not make the
        # error message itself fail or grow without bound
        return StateValidationError(
            f"{path}: {self.reason} (got {reprlib.repr(self.value)})", path=path, value=self.value
        )


def _unknown(key: str, value: Any, level: Mapping[str, Any]) -> _Invalid:
    names = sorted(k for k in level if k != "*")
    hint = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    known = f"did you mean {hint[0]!r}?" if hint else f"known: {', '.join(names)}"
    return _Invalid(key, value, f"unknown field; {known} (free-form data goes under {EXTRA!r})")


def _coerce_number(key: str, value: Any) -> float | int:
    # Slow path: numpy scalars become Python numbers; bools and strings are refused.
    if isinstance(value, bool) or not hasattr(value, "__float__") or isinstance(value, str):
        raise _Invalid(key, value, f"expected a number, got {type(value).__name__}")
    try:
        import numpy as np

        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return float(value)
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    raise _Invalid(key, value, f"expected a number, got {type(value).__name__}")


def _text(key: str, value: str) -> str:
    if len(value) > MAX_TEXT:
        raise _Invalid(
            key, value[:40] + "...", f"text of {len(value)} characters; at most {MAX_TEXT}"
        )
    return value


def _check_leaf(key: str, value: Any, leaf: tuple) -> Any:
    kind = leaf[0]
    if kind == _NUM:
        t = type(value)
        if t is not float and t is not int:
            value = _coerce_number(key, value)
        if not (leaf[1] <= value <= leaf[2]):
            if value != value or value in (math.inf, -math.inf) or not -_BIG <= value <= _BIG:
                raise _Invalid(key, value, "must be a finite number (a double)")
            lo = "" if leaf[1] == -_BIG else f"{leaf[1]:g}"
            hi = "" if leaf[2] == _BIG else f"{leaf[2]:g}"
            raise _Invalid(key, value, f"out of the physical range [{lo or '-inf'}, {hi or 'inf'}]")
        return value
    if kind == _ENUM:
        if type(value) is not str or value not in leaf[1]:
            raise _Invalid(key, value, f"must be one of {', '.join(sorted(leaf[1]))}")
        return value
    if kind == _TS:
        if isinstance(value, datetime):
            return value.isoformat()
        if type(value) is not str:
            raise _Invalid(key, value, "expected an ISO 8601 string")
        try:
            iso_datetime(_text(key, value))
        except ValueError:
            raise _Invalid(key, value, "not an ISO 8601 timestamp") from None
        return value
    # _OPTSTR
    if value is not None and type(value) is not str:
        raise _Invalid(key, value, "expected a string or None")
    return value if value is None else _text(key, value)


def _check_generic(key: str, value: Any, depth: int, budget: list[int] | None) -> Any:
    # Free-form values (under EXTRA): any JSON value; numbers finite doubles.
    t = type(value)
    if t is str:
        return _text(key, value)
    if value is None or t is bool:
        return value
    if t is float or t is int:
        if not -_BIG <= value <= _BIG:  # also NaN; an int beyond a double's range
            raise _Invalid(key, value, "must be a finite number (a double)")
        return value
    if t is dict or isinstance(value, Mapping):
        return _merge({}, value, None, depth + 1, budget)
    if t is list or t is tuple:
        if depth >= MAX_DEPTH:
            raise _Invalid(key, "[...]", f"nested more than {MAX_DEPTH} levels deep")
        if budget is None:
            budget = [MAX_ITEMS]
        budget[0] -= len(value)
        if budget[0] < 0:
            raise _Invalid(key, "[...]", f"more than {MAX_ITEMS} keys and items in one update")
        out = []
        for i, item in enumerate(value):
            try:
                out.append(_check_generic(str(i), item, depth + 1, budget))
            except _Invalid as exc:
                exc.keys.insert(0, key)
                raise
        return out
    value = _coerce_number(key, value)
    return _check_generic(key, value, depth, budget)


def _merge(
    base: dict,
    updates: Mapping,
    schema: dict | None,
    depth: int = 0,
    budget: list[int] | None = None,
) -> dict:
    """Return ``base`` with ``updates`` merged in; touched leaves validated, base untouched.

    ``schema`` is the schema level of ``updates`` (``None`` inside the free-form area);
    ``budget`` counts down the keys and items left for this update (:data:`MAX_ITEMS`).
    """
    if schema is None:
        # Free-form data: bounded here. Schema levels are bounded by the schema itself
        # (3 deep), but for the number of keys under a "*" level (materials).
        if budget is None:
            budget = [MAX_ITEMS]
        if depth >= MAX_DEPTH:
            raise _Invalid("...", "{...}", f"nested more than {MAX_DEPTH} levels deep")
        budget[0] -= len(updates)
        if budget[0] < 0:
            raise _Invalid("...", "{...}", f"more than {MAX_ITEMS} keys and items in one update")
    new = base.copy()
    for key, value in updates.items():
        node = None if schema is None else schema.get(key)
        t = type(value)
        # Fast path: a float/int for a numeric leaf inside its physical range.
        if (
            (t is float or t is int)
            and type(node) is tuple
            and node[0] == _NUM
            and node[1] <= value <= node[2]
        ):
            new[key] = value
            continue
        if type(key) is not str:
            raise _Invalid(str(key), value, "state keys must be strings")
        if node is None and "." in key:
            # A dotted key is a path: {"a.b": 1} updates what {"a": {"b": 1}} does.
            head, _, rest = key.partition(".")
            if not head or not rest:
                raise _Invalid(key, value, "a dotted path needs a name on each side of every dot")
            key, value, t = head, {rest: value}, dict
            node = None if schema is None else schema.get(head)
        if node is None and schema is not None:
            node = schema.get("*")
            if node is None:
                raise _unknown(key, value, schema)
            if len(updates) > MAX_ITEMS:  # names of a "*" level (materials) are free
                raise _Invalid(key, value, f"one of more than {MAX_ITEMS} keys in one mapping")
        if len(key) > MAX_TEXT:
            raise _Invalid(key[:40] + "...", value, f"a key of {len(key)} characters")
        if t is dict or (t not in _SCALARS and isinstance(value, Mapping)):
            if type(node) is tuple and node[0] != _FREE:
                raise _Invalid(key, value, "expected a value, got a mapping")
            old = new.get(key)
            try:
                new[key] = _merge(
                    old if type(old) is dict else {},
                    value,
                    node if type(node) is dict else None,
                    depth + 1,
                    budget,
                )
            except _Invalid as exc:
                exc.keys.insert(0, key)
                raise
        elif type(node) is dict:
            raise _Invalid(key, value, "expected a mapping")
        elif node is None or node[0] == _FREE:
            new[key] = _check_generic(key, value, depth, budget)
        else:
            new[key] = _check_leaf(key, value, node)
    return new


def merge_state(base: Mapping[str, Any], updates: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with the partial state ``updates`` merged in (validated; base untouched).

    The one path resolution of the package: twin updates, manual input and the state
    overrides of a simulation's ``parameters`` all go through it. Keys may be dotted
    paths (``{"production_line.temperature": 23.0}`` is
    ``{"production_line": {"temperature": 23.0}}``); nested mappings merge deeply.

    Raises
    ------
    StateValidationError
        Naming the dotted path of the first problem: an unknown field (with a did-you-mean
        hint; free-form data goes under :data:`EXTRA`), a value of the wrong type or out
        of its physical range, a number that is not a finite double, or an update nested
        deeper than :data:`MAX_DEPTH`, larger than :data:`MAX_ITEMS` or with text longer
        than :data:`MAX_TEXT`.

    >>> from circman_kernel.core.state_schema import default_state
    >>> s = merge_state(default_state(), {"production_line.temperature": 25.5})
    >>> s["production_line"]["temperature"]
    25.5
    >>> merge_state(s, {"production_line": {"temprature": 23}})
    Traceback (most recent call last):
    ...
    circman_kernel.core.errors.StateValidationError: production_line.temprature: unknown field; did you mean 'temperature'? (free-form data goes under 'extra') (got 23)
    """
    if not isinstance(updates, Mapping):
        raise StateValidationError(
            f"updates must be a mapping, got {type(updates).__name__}", path="", value=updates
        )
    try:
        return _merge(base if type(base) is dict else dict(base), updates, SCHEMA)
    except _Invalid as exc:
        raise exc.to_error() from None


def validated_copy(state: Mapping[str, Any]) -> dict[str, Any]:
    """Return a validated deep copy of a complete state.

    Raises
    ------
    StateValidationError
        Naming the dotted path and value of the first problem.
    """
    if not isinstance(state, Mapping):
        raise StateValidationError(
            f"state must be a mapping, got {type(state).__name__}", path="", value=state
        )
    if "timestamp" not in state:
        raise StateValidationError(
            "timestamp: missing; a state needs an ISO 8601 'timestamp'", path="timestamp"
        )
    try:
        return _merge({}, state, SCHEMA)
    except _Invalid as exc:
        raise exc.to_error() from None
