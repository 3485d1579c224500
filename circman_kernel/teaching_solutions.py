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

__all__ = ["SOLUTIONS", "Solution", "check_store", "code", "expected", "reference_answer"]


@dataclass(frozen=True)
class Solution:
    """The reference code of one exercise and the function giving its expected answer.

    ``answer`` is the learner-side answer the code produces when it is not the expected
    value itself (a SQL query, whose result is the expected value).
    """

    code: str
    expected: Callable[[], Any]
    answer: str | None = None


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


# ----------------------------------------------------------------------------- 02
def _hour_wafers_run_out() -> int:
    from circman_kernel.simulation import SimulationEngine

    wide = SimulationEngine().run_simulation(200, seed=7).to_frame(wide=True)
    empty = wide["materials.silicon_wafer.inventory"] <= 1e-9
    return int(wide.index[empty.to_numpy()][0])


def _p95_energy_per_module() -> float:
    from circman_kernel.simulation import SimulationEngine

    mc = SimulationEngine().run_monte_carlo_simulation(48, iterations=500, uncertainty=0.1, seed=42)
    return float(mc.kpis()["energy_per_module_kwh"].quantile(0.95))


# ----------------------------------------------------------------------------- 06
#: The runs notebook 06 stores: name -> simulation parameters (48 steps, seed 7 each).
LAB_RUNS: MappingProxyType[str, MappingProxyType[str, float]] = MappingProxyType(
    {
        "cycle 24 s": MappingProxyType({"cycle_time": 24.0}),
        "cycle 27 s": MappingProxyType({"cycle_time": 27.0}),
        "cycle 30 s": MappingProxyType({"cycle_time": 30.0}),
        "cycle 33 s": MappingProxyType({"cycle_time": 33.0}),
        "cycle 24 s, hot line": MappingProxyType({"cycle_time": 24.0, "target_temperature": 28.0}),
    }
)


def fill_lab_store(store: Any) -> None:
    """Store notebook 06's runs: five simulations and one Monte Carlo run, all seeded."""
    from circman_kernel.simulation import SimulationEngine

    engine = SimulationEngine(store=store)
    for name, params in LAB_RUNS.items():
        engine.run_simulation(48, parameters=dict(params), seed=7, name=name, tags=("lab",))
    engine.run_monte_carlo_simulation(
        48, iterations=300, uncertainty=0.1, seed=42, name="baseline uncertainty", tags=("lab",)
    )


@functools.cache
def check_store() -> Any:
    """Return the in-memory store the SQL self-checks run learners' queries on."""
    from circman_kernel.store import RunStore

    store = RunStore(":memory:")
    fill_lab_store(store)
    return store


_SQL_BEST_RUN = """\
SELECT name
FROM run_summary
WHERE kind = 'simulation' AND defect_rate <= 0.021
ORDER BY energy_per_module_kwh
LIMIT 1"""

_SQL_P95_OUTPUT = """\
SELECT quantile_cont(t.value, 0.95) AS p95_output
FROM trajectories AS t JOIN runs AS r ON r.id = t.run_id
WHERE r.kind = 'monte_carlo' AND t.variable = 'output_modules'
  AND t.step = (SELECT max(step) FROM trajectories WHERE run_id = r.id)"""


def _sql_best_run() -> str:
    from circman_kernel.simulation import SimulationEngine

    engine = SimulationEngine()
    best = None
    for name, params in LAB_RUNS.items():
        k = engine.run_simulation(48, parameters=dict(params), seed=7).kpis()
        if k["defect_rate"] <= 0.021 and (best is None or k["energy_per_module_kwh"] < best[0]):
            best = (k["energy_per_module_kwh"], name)
    assert best is not None
    return best[1]


def _sql_p95_output() -> float:
    import numpy as np

    from circman_kernel.simulation import SimulationEngine

    mc = SimulationEngine().run_monte_carlo_simulation(48, iterations=300, uncertainty=0.1, seed=42)
    return float(np.percentile(mc.kpis()["output_modules"], 95))


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
    "02-1": Solution(
        """\
wide = long_run.to_frame(wide=True)
empty = wide["materials.silicon_wafer.inventory"] <= 1e-9
answer = int(wide.index[empty][0])""",
        _hour_wafers_run_out,
    ),
    "02-2": Solution(
        """\
answer = mc.kpis()["energy_per_module_kwh"].quantile(0.95)""",
        _p95_energy_per_module,
    ),
    "06-1": Solution(f'answer = """\n{_SQL_BEST_RUN}\n"""', _sql_best_run, _SQL_BEST_RUN),
    "06-2": Solution(f'answer = """\n{_SQL_P95_OUTPUT}\n"""', _sql_p95_output, _SQL_P95_OUTPUT),
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


def reference_answer(exercise: str) -> Any:
    """Return what the reference code assigns to ``answer`` (the value, or the SQL text)."""
    solution = _get(exercise)
    return solution.answer if solution.answer is not None else expected(exercise)


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
