"""The typical wrong answers of each exercise, worked out with the package, with their hints.

The hints of :mod:`circman_kernel.teaching.checks` name the usual mistakes ("the mean, not
the 95th percentile", "seconds, not minutes"). Each is computed here the way a learner
making it would compute it, so that a self-check can recognise it (by the same tolerance
as the right answer) and answer with the hint that fits. A hint says what went wrong,
never the value. The SQL exercises' mistakes are wrong queries' results on the check
database (:mod:`circman_kernel.teaching.check_db`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from circman_kernel.teaching import check_db
from circman_kernel.teaching import solutions as sol
from circman_kernel.teaching.solutions_discovery import DISCOVERY_SPACE

__all__ = ["MISTAKES", "Mistake", "typical_wrong_answers"]


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: what the learner did, how to compute it, and the hint."""

    what: str
    value: Callable[[], Any]
    hint: str


# ----------------------------------------------------------------------------- 01
def _threshold_events() -> tuple[Any, Any]:
    events = sol._replayed_twin().event_manager.get_events(category="threshold", limit=None)
    breach = next(e for e in events if not e.details["recovered"])
    return breach, next(e for e in events if e.details["recovered"])


def _minutes_by_creation_time() -> float:
    breach, recovery = _threshold_events()
    t0, t1 = (datetime.fromisoformat(str(e.timestamp)) for e in (breach, recovery))
    return (t1 - t0).total_seconds() / 60.0


def _seconds_above_threshold() -> float:
    return sol.expected("01-1") * 60.0


def _temperature_of_next_reading() -> float:
    history = sol._replayed_twin().state_manager.get_history()
    later = [s for s in history if str(s["timestamp"]) > "2025-02-24T10:00:07"]
    return float(later[0]["production_line"]["temperature"])


# ----------------------------------------------------------------------------- 02
@functools.cache
def _mc_energy() -> Any:
    from circman_kernel.simulation.engine import SimulationEngine

    return SimulationEngine().run_monte_carlo_simulation(
        48, iterations=500, uncertainty=0.1, seed=42
    )


def _p95_every_step() -> float:
    traj = _mc_energy().trajectories  # (steps + 1, n_vars, iterations)
    from circman_kernel.simulation import process as pm

    energy, output = traj[1:, pm.ENERGY, :], traj[1:, pm.OUTPUT, :]
    ratio = np.divide(energy, output, out=np.full_like(energy, np.nan), where=output > 0)
    return float(np.nanpercentile(ratio, 95))


# ----------------------------------------------------------------------------- 03
@functools.cache
def _scenario_table() -> Any:
    from circman_kernel.simulation.scenarios import ScenarioManager

    manager = ScenarioManager()
    for name, params in sol.SCENARIOS.items():
        manager.create_scenario(name, dict(params))
    return manager.compare_scenarios(list(sol.SCENARIOS), steps=48, seed=0)


@functools.cache
def _sweep_ranking(kpi: str) -> str:
    from circman_kernel.simulation.sensitivity import analyse
    from circman_kernel.simulation.sweeps import evaluate, sample

    experiments = sample(dict(sol.SWEEP_SPACE), 256, method="lhs", seed=1)
    outcomes = evaluate(experiments, steps=48, seed=2)
    return str(analyse(experiments, outcomes, kpi).index[0])


@functools.cache
def _box_limits() -> Any:
    from circman_kernel.ai.discovery import discover
    from circman_kernel.simulation.sweeps import evaluate, sample

    sweep = sample(dict(DISCOVERY_SPACE), 1024, method="lhs", seed=3)
    results = evaluate(sweep, steps=200, seed=4)
    return discover(sweep, results, "defect_rate > p90").limits()


# ----------------------------------------------------------------------------- 04, 05, 07
def _front_min_carbon() -> float:
    return float(sol.lab_front()["carbon_kg"].min())


def _front_max_carbon() -> float:
    return float(sol.lab_front()["carbon_kg"].max())


def _materials_only() -> float:
    from circman_kernel.lca.analyzer import LCAAnalyzer

    factors = LCAAnalyzer().impact_factors.MATERIAL_IMPACT_FACTORS
    return float(sum(q * factors[m] for m, q in sol.LCA_INPUTS["material_inputs"].items()))


def _dask_outcomes() -> Any:
    from circman_kernel.simulation.sweeps import evaluate, sample

    experiments = sample(dict(sol.DASK_SPACE), 64, method="lhs", seed=5)
    return evaluate(experiments, steps=48, seed=6, chunk_size=16)


# ----------------------------------------------------------------------------- 06 (SQL)
def _sql(query: str) -> Any:
    return check_db.check_store().query(query).iat[0, 0]


NO_DEFECT_FILTER = """SELECT name FROM run_summary WHERE kind = 'simulation'
ORDER BY energy_per_module_kwh LIMIT 1"""
PERCENT_FOR_FRACTION = """SELECT name FROM run_summary
WHERE kind = 'simulation' AND defect_rate <= 2.1 ORDER BY energy_per_module_kwh LIMIT 1"""
ANY_KIND = """SELECT name FROM run_summary WHERE defect_rate <= 0.021
ORDER BY energy_per_module_kwh LIMIT 1"""
TOTAL_ENERGY = """SELECT name FROM run_summary WHERE kind = 'simulation'
AND defect_rate <= 0.021 ORDER BY energy_kwh LIMIT 1"""
EVERY_STEP = """SELECT quantile_cont(t.value, 0.95) FROM trajectories AS t
JOIN runs AS r ON r.id = t.run_id
WHERE r.kind = 'monte_carlo' AND t.variable = 'output_modules'"""
EVERY_KIND_LAST_STEP = """SELECT quantile_cont(t.value, 0.95) FROM trajectories AS t
WHERE t.variable = 'output_modules'
  AND t.step = (SELECT max(step) FROM trajectories AS u WHERE u.run_id = t.run_id)"""
MEDIAN_LAST_STEP = """SELECT quantile_cont(t.value, 0.5) FROM trajectories AS t
JOIN runs AS r ON r.id = t.run_id WHERE r.kind = 'monte_carlo'
  AND t.variable = 'output_modules'
  AND t.step = (SELECT max(step) FROM trajectories WHERE run_id = r.id)"""

_DEFECT_HINT = (
    "your query does not keep only the runs with a defect rate of at most 2.1 %: "
    "run_summary.defect_rate is a fraction (0.021 is 2.1 %)."
)

MISTAKES: dict[str, tuple[Mistake, ...]] = {
    "01-1": (
        Mistake("creation times", _minutes_by_creation_time,
                "that is the time between the moments the event objects were created "
                "(the replay runs in a blink): use the sensor time in each event's details."),
        Mistake("seconds", _seconds_above_threshold,
                "that looks like seconds: the question asks for minutes."),
    ),
    "01-2": (
        Mistake("next reading", _temperature_of_next_reading,
                "that is the reading after 10:00:07: the state in effect at a time is the "
                "most recent one at or before it."),
    ),
    "02-1": (
        Mistake("last step with stock", lambda: sol.expected("02-1") - 1,
                "that is the last step with wafers left: the question asks for the first "
                "step where the stock is zero."),
    ),
    "02-2": (
        Mistake("mean", lambda: float(_mc_energy().kpis()["energy_per_module_kwh"].mean()),
                "that is the mean across iterations: the question asks for the 95th percentile."),
        Mistake("median", lambda: float(_mc_energy().kpis()["energy_per_module_kwh"].median()),
                "that is the median (50th percentile): the question asks for the 95th."),
        Mistake("5th percentile",
                lambda: float(_mc_energy().kpis()["energy_per_module_kwh"].quantile(0.05)),
                "that is the 5th percentile: quantile(0.95) is the 95th."),
        Mistake("per-step percentile", _p95_every_step,
                "that is a percentile over every step of every iteration: take one value "
                "per iteration (the KPI table), then its 95th percentile."),
    ),
    "03-1": (
        Mistake("difference in modules",
                lambda: float(_scenario_table().loc["faster cycle", "output_modules_diff"]),
                "that is the difference in modules (the _diff column): the question asks "
                "for percent (the _pct column)."),
        Mistake("another KPI",
                lambda: float(_scenario_table().loc["faster cycle", "energy_per_module_kwh_pct"]),
                "that is the change in energy per module: the question asks about the "
                "modules made."),
    ),
    "03-2": (
        Mistake("defect ranking", lambda: _sweep_ranking("defect_rate"),
                "that parameter leads the ranking of the defect rate: rank the energy per "
                "module."),
        Mistake("total energy ranking", lambda: _sweep_ranking("energy_kwh"),
                "that parameter leads the ranking of the total energy: energy per module "
                "is another KPI."),
    ),
    "03-3": (
        Mistake("upper limit", lambda: float(_box_limits().loc["target_temperature", "max"]),
                "that is the box's upper limit (column max): the question asks where it starts."),
        Mistake("whole range", lambda: float(_box_limits().loc["target_temperature", "full_min"]),
                "that is the lower end of the whole sampled range (full_min): read the "
                "chosen box's own limit (min)."),
    ),
    "04-2": (
        Mistake("no floor", _front_min_carbon,
                "that batch makes fewer than 400 good modules: keep only the rows with at "
                "least 400 first."),
        Mistake("highest carbon", _front_max_carbon,
                "that is the highest carbon on the front: the question asks for the lowest."),
    ),
    "05-1": (
        Mistake("materials only", _materials_only,
                "that leaves the electricity out: add energy x the energy factor."),
        Mistake("electricity only", lambda: sol.expected("05-1") - _materials_only(),
                "that is the electricity alone: add the materials, quantity x factor each."),
    ),
    "05-2": (
        Mistake("energy payback", lambda: float(sol._lab_lca().energy_payback_time_years),
                "that is the energy payback time: the question asks for the carbon payback."),
        Mistake("months", lambda: sol.expected("05-2") * 12.0,
                "that looks like months: the question asks for years."),
    ),
    "07-1": (
        Mistake("median", lambda: float(np.median(_dask_outcomes()["output_modules"])),
                "that is the median: the question asks for the mean."),
        Mistake("good modules", lambda: float(_dask_outcomes()["good_modules"].mean()),
                "that is the mean of good (defect-free) modules: the question counts every "
                "module made (output_modules)."),
    ),
    "06-1": (
        Mistake("no defect filter", lambda: _sql(NO_DEFECT_FILTER), _DEFECT_HINT),
        Mistake("percent for fraction", lambda: _sql(PERCENT_FOR_FRACTION), _DEFECT_HINT),
        Mistake("any kind", lambda: _sql(ANY_KIND),
                "that run is not a simulation: filter on kind = 'simulation'."),
        Mistake("total energy", lambda: _sql(TOTAL_ENERGY),
                "that run uses the least energy in total: sort by energy per module."),
    ),
    "06-2": (
        Mistake("every step", lambda: _sql(EVERY_STEP),
                "your query takes every step: keep only the run's last step."),
        Mistake("every run", lambda: _sql(EVERY_KIND_LAST_STEP),
                "your query includes runs other than the Monte Carlo run: filter on its kind."),
        Mistake("median", lambda: _sql(MEDIAN_LAST_STEP),
                "that is the median: the 95th percentile is quantile_cont(value, 0.95)."),
    ),
}  # fmt: skip


@functools.cache
def typical_wrong_answers(exercise: str) -> tuple[tuple[Any, str], ...]:
    """Return ``(value, hint)`` of each typical mistake of ``exercise`` (worked out once)."""
    return tuple((m.value(), m.hint) for m in MISTAKES.get(exercise, ()))
