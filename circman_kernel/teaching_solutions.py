"""Reference solutions of the guided notebooks' exercises (for instructors).

Learner notebooks do not contain these. Each solution is the code an instructor would put
in the exercise's ``# YOUR ANSWER`` cell (it uses the notebook's variables) and a function
that works the expected answer out from scratch with the package, which the self-checks
in :mod:`circman_kernel.teaching` compare against. Show one with
``teaching.solution("01-1")``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from circman_kernel.errors import ParameterError
from circman_kernel.paths import data_dir

__all__ = ["SOLUTIONS", "Solution", "code", "expected"]


@dataclass(frozen=True)
class Solution:
    """The reference code of one exercise and the function giving its expected answer."""

    code: str
    expected: Callable[[], Any]


# ----------------------------------------------------------------------------- helpers
def sample_shift_updates() -> list[dict[str, Any]]:
    """Return the rows of ``data/sample_shift.csv`` as nested partial twin states."""
    import pandas as pd

    frame = pd.read_csv(data_dir() / "sample_shift.csv")
    updates = []
    for row in frame.to_dict("records"):
        update: dict[str, Any] = {}
        for column, value in row.items():
            if isinstance(value, float) and value != value:  # NaN: column not in this row
                continue
            *branch, leaf = column.split(".")
            node = update
            for key in branch:
                node = node.setdefault(key, {})
            node[leaf] = value
        updates.append(update)
    return updates


def _replayed_twin() -> Any:
    from circman_kernel.twin import DigitalTwin

    twin = DigitalTwin(seed=1)
    twin.initialize()
    for update in sample_shift_updates():
        twin.update(update)
    return twin


# ----------------------------------------------------------------------------- 01
def _minutes_above_threshold() -> float:
    events = _replayed_twin().event_manager.get_events(category="threshold", limit=None)
    start = next(e for e in events if not e.details["recovered"])
    end = next(e for e in events if e.details["recovered"])
    t0 = datetime.fromisoformat(start.details["timestamp"])
    t1 = datetime.fromisoformat(end.details["timestamp"])
    return (t1 - t0).total_seconds() / 60.0


def _temperature_at_ten() -> float:
    state = _replayed_twin().state_manager.get_state_at_time("2025-02-24T10:00:07")
    return float(state["production_line"]["temperature"])


# ----------------------------------------------------------------------------- registry
_SOLUTIONS: dict[str, Solution] = {
    "01-1": Solution(
        """\
events = twin.event_manager.get_events(category="threshold", limit=None)
breach = next(e for e in events if not e.details["recovered"])
recovery = next(e for e in events if e.details["recovered"])
t0 = pd.Timestamp(breach.details["timestamp"])
t1 = pd.Timestamp(recovery.details["timestamp"])
answer = (t1 - t0).total_seconds() / 60""",
        _minutes_above_threshold,
    ),
    "01-2": Solution(
        """\
state = twin.state_manager.get_state_at_time("2025-02-24T10:00:07")
answer = state["production_line"]["temperature"]""",
        _temperature_at_ten,
    ),
}

#: Every reference solution by exercise id (read-only).
SOLUTIONS: MappingProxyType[str, Solution] = MappingProxyType(_SOLUTIONS)


def _get(exercise: str) -> Solution:
    try:
        return SOLUTIONS[exercise]
    except KeyError:
        raise ParameterError(
            f"no reference solution for exercise {exercise!r}; known: {', '.join(SOLUTIONS)}",
            name="exercise",
            value=exercise,
        ) from None


def code(exercise: str) -> str:
    """Return the reference code of ``exercise`` (what goes in its ``# YOUR ANSWER`` cell)."""
    return _get(exercise).code


@functools.cache
def expected(exercise: str) -> Any:
    """Work out the expected answer of ``exercise`` with the package.

    Every exercise fixes its seeds, so the answer is a constant of the installed package
    and configuration: it is worked out once per process and remembered.
    """
    return _get(exercise).expected()
