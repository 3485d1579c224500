"""Scenario discovery and robust optimisation figures (issue 18).

* PRIM on a 2,048-point Latin-hypercube sweep of the 200-step line model (target 1 s), and
  the sweep plus PRIM against the same work with the sweep run experiment by experiment
  (``SimulationEngine.run_simulation`` in a Python loop, timed on 128 experiments and
  scaled to 2,048).
* Robust NSGA-II: population 64, 30 generations, 64 scenarios, 200-step runs (target
  30 s), with the share of the time spent in model evaluation, against the same
  optimisation whose ensemble model loops over the scenarios (one vectorised run of the
  population per scenario).

The first discovery and optimisation of a process import the EMA Workbench and pymoo
(seconds); a warm-up call takes that out of the medians.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from benchmarks.harness import Figure, bench, median_time
from circman_kernel.ai.discovery import discover
from circman_kernel.ai.robust import robust_optimize
from circman_kernel.simulation.engine import SimulationEngine
from circman_kernel.simulation.experiments import run_ensemble
from circman_kernel.simulation.levers import Lever, Uncertainty
from circman_kernel.simulation.sweeps import evaluate, sample

SPACE = {
    "target_temperature": (16.0, 36.0),
    "base_defect_rate": (0.005, 0.03),
    "temperature_regulation": (0.05, 0.5),
}
LEVERS = [
    Lever("target_temperature", 16.0, 30.0),
    Lever("cycle_time", 20.0, 60.0),
    Lever("temperature_regulation", 0.05, 0.5),
]
UNCERTAIN = [
    Uncertainty("temperature_high", 24.0, 28.0),
    Uncertainty("base_defect_rate", 0.005, 0.03),
    Uncertainty("silicon_wafer_replenishment", 0.0, 6.0),
    Uncertainty("temperature_noise", 0.05, 0.5),
]
ROBUST = dict(
    objectives=["p10(good_modules)", "mean(energy_per_module_kwh)"],
    constraints=["satisficing(defect_rate <= 0.04) >= 0.9"],
    population=64, generations=30, n_scenarios=64, steps=200, seed=3,
)  # fmt: skip


@bench("discovery")
def prim_on_a_2048_point_sweep() -> list[Figure]:
    engine = SimulationEngine()
    experiments = sample(SPACE, 2048, method="lhs", seed=1)
    outcomes = evaluate(experiments, config=engine, steps=200, seed=2)
    condition = "defect_rate > p90"
    prim_s, samples = median_time(lambda: discover(experiments, outcomes, condition), repeat=5)
    sweep_s, _ = median_time(
        lambda: evaluate(experiments, config=engine, steps=200, seed=2), repeat=5
    )
    subset = experiments.iloc[:128]
    t = time.perf_counter()
    for i, row in enumerate(subset.to_dict("records")):
        engine.run_simulation(200, None, row, seed=i)
    loop_s = (time.perf_counter() - t) * len(experiments) / len(subset)
    found = discover(experiments, outcomes, condition)
    return [
        Figure("PRIM on a 2,048-point sweep (defect rate > P90)", prim_s, target=1.0, samples=samples),
        Figure(f"  its box: coverage {found.coverage:.2f}, density {found.density:.2f}, "
               f"{int(found.trajectory.loc[found.chosen, 'res_dim'])} inputs restricted",
               found.coverage, unit="-"),
        Figure("2,048-point sweep + PRIM", sweep_s + prim_s, reference=loop_s + prim_s,
               reference_name="sweep run experiment by experiment (128 timed, scaled) + PRIM"),
    ]  # fmt: skip


def _per_scenario_loop(steps: int, seed: int):
    """The ensemble model written as a loop over scenarios (same work, same shapes)."""
    engine = SimulationEngine()
    children = np.random.SeedSequence(seed).spawn(4096)

    def model(policies: pd.DataFrame, scenarios: pd.DataFrame) -> dict[str, np.ndarray]:
        parts = [run_ensemble(policies, scenarios.iloc[[j]], config=engine, steps=steps,
                              seed=children[j]) for j in range(len(scenarios))]  # fmt: skip
        return {k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0]}

    return model


@bench("discovery")
def robust_nsga2_64x30x64() -> list[Figure]:
    robust_optimize(LEVERS, UNCERTAIN, population=8, generations=1, n_scenarios=4, steps=10)
    runs: list = []

    def once() -> None:
        runs.append(robust_optimize(LEVERS, UNCERTAIN, **ROBUST))

    median, samples = median_time(once, repeat=3, warmup=0)
    share = float(np.median([r.timing["model_share"] for r in runs]))
    t = time.perf_counter()
    looped = robust_optimize(LEVERS, UNCERTAIN, model=_per_scenario_loop(200, 3), **ROBUST)
    loop_s = time.perf_counter() - t
    r = runs[-1]
    comp = r.comparison
    return [
        Figure("robust NSGA-II: pop 64 x 30 gens x 64 scenarios x 200 steps", median, target=30.0,
               samples=samples, reference=loop_s,
               reference_name="same optimisation, ensemble model looping over scenarios"),
        Figure("  share of it in model evaluation", 100.0 * share, unit="%"),
        Figure("  loop version's share in model evaluation", 100.0 * looped.timing["model_share"], unit="%"),
        Figure(f"  P10 good modules, robust vs nominal optimum ({r.verdict})",
               float(comp.loc["p10(good_modules)", "robust"]), unit="modules",
               reference=float(comp.loc["p10(good_modules)", "nominal"]),
               reference_name="nominal optimum across the ensemble", higher_is_better=True),
    ]  # fmt: skip
