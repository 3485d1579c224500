"""Reference solutions of the guided notebooks' exercises (for instructors).

Learner notebooks do not contain these. Each solution is the code an instructor would put
in the exercise's ``# YOUR ANSWER`` cell (it uses the notebook's variables) and a function
that works the expected answer out from scratch with the package, which the self-checks
in :mod:`circman_kernel.teaching.checks` compare against. Show one with
``teaching.solution("01-1")``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from circman_kernel.core.errors import ParameterError
from circman_kernel.core.paths import data_dir
from circman_kernel.teaching.solutions_discovery import box_lower_temperature

__all__ = ["SOLUTIONS", "Solution", "code", "expected", "lab_front", "reference_answer"]


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
    from circman_kernel.twin.digital_twin import DigitalTwin

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
    from circman_kernel.simulation.engine import SimulationEngine

    wide = SimulationEngine().run_simulation(200, seed=7).to_frame(wide=True)
    empty = wide["materials.silicon_wafer.inventory"] <= 1e-9
    return int(wide.index[empty.to_numpy()][0])


def _p95_energy_per_module() -> float:
    from circman_kernel.simulation.engine import SimulationEngine

    mc = SimulationEngine().run_monte_carlo_simulation(48, iterations=500, uncertainty=0.1, seed=42)
    return float(mc.kpis()["energy_per_module_kwh"].quantile(0.95))


# ----------------------------------------------------------------------------- 03
#: Notebook 03's scenarios: name -> parameters.
SCENARIOS: MappingProxyType[str, MappingProxyType[str, float]] = MappingProxyType(
    {
        "baseline": MappingProxyType({}),
        "faster cycle": MappingProxyType({"cycle_time": 26.0}),
        "cooler line": MappingProxyType({"target_temperature": 20.0}),
        "hot line": MappingProxyType({"target_temperature": 28.5}),
    }
)
#: Notebook 03's sweep space: parameter -> (low, high).
SWEEP_SPACE: MappingProxyType[str, tuple[float, float]] = MappingProxyType(
    {
        "cycle_time": (24.0, 36.0),
        "target_temperature": (20.0, 29.0),
        "energy_consumption_increment": (1.0, 3.0),
        "base_defect_rate": (0.005, 0.03),
    }
)


def _faster_cycle_output_pct() -> float:
    from circman_kernel.simulation.scenarios import ScenarioManager

    manager = ScenarioManager()
    for name, params in SCENARIOS.items():
        manager.create_scenario(name, dict(params))
    table = manager.compare_scenarios(list(SCENARIOS), steps=48, seed=0)
    return float(table.loc["faster cycle", "output_modules_pct"])


def _most_influential() -> str:
    from circman_kernel.simulation.sensitivity import analyse
    from circman_kernel.simulation.sweeps import evaluate, sample

    experiments = sample(dict(SWEEP_SPACE), 256, method="lhs", seed=1)
    outcomes = evaluate(experiments, steps=48, seed=2)
    ranking = analyse(experiments, outcomes, "energy_per_module_kwh")
    return str(ranking.index[0])


# ----------------------------------------------------------------------------- 04
DECISION = MappingProxyType(
    {"target_temperature": 22.5, "temperature_regulation": 0.1, "cycle_time": 30.0}
)
#: Notebook 04's line state at the start of a batch: the default twin's production line.
LINE = MappingProxyType({"temperature": 22.5, "energy_consumption": 120.5, "production_rate": 8.3})


@functools.cache
def _lab_model() -> Any:
    # Trained once per process: both of notebook 04's checks use it (only to predict).
    from circman_kernel.ai.model import ManufacturingModel, synthetic_history

    production, quality = synthetic_history(2000, seed=3)
    model = ManufacturingModel()
    model.train_optimization_model(production, quality)
    return model


def lab_optimizer() -> Any:
    """Return notebook 04's optimiser: a surrogate trained on 2,000 synthetic batches.

    The surrogate is trained once per process and shared; each call gets its own
    optimiser on it.
    """
    from circman_kernel.ai.optimize import ProcessOptimizer

    return ProcessOptimizer(_lab_model(), seed=0)


def _optimum_reproduced() -> bool:
    result = lab_optimizer().optimize_detailed("weighted", dict(DECISION), fixed=dict(LINE))
    return bool(result.honesty.reproduced)


#: Notebook 04's trade-off: the levers' ranges, the objectives and the good-module floor.
TRADE_OFF_LEVERS = MappingProxyType(
    {"cycle_time": (20.0, 60.0), "target_temperature": (18.0, 27.0)}
)
TRADE_OFF_OBJECTIVES = ("mean(good_modules)", "mean(carbon_kg)")
MIN_GOOD_MODULES = 400


@functools.cache
def lab_front() -> Any:
    """Return notebook 04's Pareto front: good modules against the batch's total carbon.

    NSGA-II on the process model (48 h batches, 8 scenarios of the base defect rate);
    columns: the levers, ``good_modules`` and ``carbon_kg`` (means over the scenarios).
    Computed once per process.
    """
    from circman_kernel.ai.robust import robust_optimize
    from circman_kernel.simulation.levers import Lever, Uncertainty

    result = robust_optimize(
        [Lever(name, lo, hi) for name, (lo, hi) in TRADE_OFF_LEVERS.items()],
        [Uncertainty("base_defect_rate", 0.005, 0.03)],
        objectives=list(TRADE_OFF_OBJECTIVES), population=32, generations=15,
        n_scenarios=8, steps=48, seed=4, honesty=False,
    )  # fmt: skip
    return result.front.rename(
        columns={"mean(good_modules)": "good_modules", "mean(carbon_kg)": "carbon_kg"}
    )


def _lowest_pareto_carbon() -> float:
    front = lab_front()
    return float(front.loc[front["good_modules"] >= MIN_GOOD_MODULES, "carbon_kg"].min())


# ----------------------------------------------------------------------------- 05
LCA_INPUTS = MappingProxyType(
    {
        "material_inputs": MappingProxyType(
            {"silicon_wafer": 5.0, "solar_glass": 12.0, "aluminum_frame": 2.5}
        ),
        "energy_consumption": 80.0,
    }
)


def _manufacturing_by_hand() -> float:
    from circman_kernel.lca.analyzer import LCAAnalyzer

    return float(
        LCAAnalyzer().calculate_manufacturing_impact(
            dict(LCA_INPUTS["material_inputs"]), LCA_INPUTS["energy_consumption"]
        )
    )


def _lab_lca() -> Any:
    from circman_kernel.lca.analyzer import LCAAnalyzer

    return LCAAnalyzer().perform_full_lca(
        material_inputs={"silicon_wafer": 50.0, "solar_glass": 20.0, "aluminum_frame": 12.0},
        energy_consumption=1200.0,
        lifetime_years=25,
        annual_energy_generation=40_000.0,
        grid_carbon_intensity=0.275,
        recycling_rates={"silicon_wafer": 0.9, "solar_glass": 0.9, "aluminum_frame": 0.9},
        transport_distance=100.0,
        n_modules=100,
    )


def _carbon_payback_years() -> float:
    return float(_lab_lca().carbon_payback_time_years)


# ----------------------------------------------------------------------------- 07
DASK_SPACE = MappingProxyType({"cycle_time": (24.0, 36.0), "target_temperature": (20.0, 28.0)})


def _dask_sweep_mean_output() -> float:
    from circman_kernel.simulation.sweeps import evaluate, sample

    experiments = sample(dict(DASK_SPACE), 64, method="lhs", seed=5)
    outcomes = evaluate(experiments, steps=48, seed=6, chunk_size=16)
    return float(outcomes["output_modules"].mean())


# ----------------------------------------------------------------------------- 06
#: The runs notebook 06 stores: name -> simulation parameters (48 steps, seed 7 each); the
#: SQL self-checks run on :mod:`circman_kernel.teaching.check_db`, built like them.
LAB_RUNS: MappingProxyType[str, MappingProxyType[str, float]] = MappingProxyType(
    {
        "cycle 24 s": MappingProxyType({"cycle_time": 24.0}),
        "cycle 27 s": MappingProxyType({"cycle_time": 27.0}),
        "cycle 30 s": MappingProxyType({"cycle_time": 30.0}),
        "cycle 33 s": MappingProxyType({"cycle_time": 33.0}),
        "cycle 24 s, hot line": MappingProxyType({"cycle_time": 24.0, "target_temperature": 28.0}),
    }
)


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
    from circman_kernel.teaching.check_db import best_run

    return best_run()


def _sql_p95_output() -> float:
    from circman_kernel.teaching.check_db import p95_final_output

    return p95_final_output()


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
    "03-1": Solution(
        """\
answer = table.loc["faster cycle", "output_modules_pct"]""",
        _faster_cycle_output_pct,
    ),
    "03-2": Solution(
        """\
answer = ranking.index[0]""",
        _most_influential,
    ),
    "03-3": Solution(
        """\
answer = found.limits().loc["target_temperature", "min"]""",
        box_lower_temperature,
    ),
    "04-1": Solution(
        """\
answer = result.honesty.reproduced""",
        _optimum_reproduced,
    ),
    "04-2": Solution(
        """\
answer = front.loc[front["good_modules"] >= 400, "carbon_kg"].min()""",
        _lowest_pareto_carbon,
    ),
    "05-1": Solution(
        """\
factors = analyzer.impact_factors
answer = (
    5.0 * factors.MATERIAL_IMPACT_FACTORS["silicon_wafer"]
    + 12.0 * factors.MATERIAL_IMPACT_FACTORS["solar_glass"]
    + 2.5 * factors.MATERIAL_IMPACT_FACTORS["aluminum_frame"]
    + 80.0 * factors.ENERGY_IMPACT_FACTOR
)""",
        _manufacturing_by_hand,
    ),
    "05-2": Solution(
        """\
answer = impact.carbon_payback_time_years""",
        _carbon_payback_years,
    ),
    "07-1": Solution(
        """\
answer = outcomes_dask["output_modules"].mean()""",
        _dask_sweep_mean_output,
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
