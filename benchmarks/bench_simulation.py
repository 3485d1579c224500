"""Simulation figures (issue 5): Monte Carlo, single run and LHS sweep vs the manual's shape.

The reference is the manual's engine shape (its sections 5.2-5.4), written here only:
a Python loop over steps that deep-copies the state dict every step and draws with
``random.normalvariate``, and a Python loop over Monte Carlo iterations around it. It
runs at a smaller size and is scaled linearly to the measured size.
"""

from __future__ import annotations

import copy
import random

from benchmarks.harness import Figure, bench, median_time
from circman_kernel.core.state_schema import default_state
from circman_kernel.simulation.engine import SimulationEngine
from circman_kernel.simulation.sweeps import evaluate, sample


def _manual_next_state(state: dict, cfg: dict) -> dict:
    line = state["production_line"]
    t = line["temperature"]
    noise = random.normalvariate(0, 0.1)
    line["temperature"] = round(
        t + (cfg["target_temperature"] - t) * cfg["temperature_regulation"] + noise, 1
    )
    e = line["energy_consumption"]
    if line.get("status", "idle") == "running":
        e = e + cfg["energy_consumption_increment"] * random.normalvariate(1.0, 0.1)
    else:
        e = e * 0.95
    line["energy_consumption"] = round(e, 1)
    return state


def _manual_run_simulation(steps: int, initial_state: dict, cfg: dict) -> list[dict]:
    current = copy.deepcopy(initial_state)
    results = [copy.deepcopy(current)]
    for _ in range(steps):
        nxt = _manual_next_state(copy.deepcopy(current), cfg)
        results.append(copy.deepcopy(nxt))
        current = nxt
    return results


def _manual_monte_carlo(steps: int, iterations: int, initial_state: dict, cfg: dict) -> list:
    out = []
    for i in range(iterations):
        varied = {k: v * random.normalvariate(1.0, 0.1) for k, v in cfg.items()}
        out.append({"iteration": i, "parameters": varied,
                    "states": _manual_run_simulation(steps, initial_state, varied)})  # fmt: skip
    return out


_CFG = {
    "target_temperature": 22.5,
    "temperature_regulation": 0.1,
    "energy_consumption_increment": 2.0,
}


@bench("simulation")
def monte_carlo_1000x1000() -> list[Figure]:
    engine = SimulationEngine()
    state = default_state()
    steps, iterations, small = 1000, 1000, 10
    ref, _ = median_time(lambda: _manual_monte_carlo(steps, small, state, _CFG), repeat=3, warmup=0)
    ref_scaled = ref * iterations / small
    median, samples = median_time(
        lambda: engine.run_monte_carlo_simulation(
            steps, state, iterations=iterations, uncertainty=0.1, seed=1
        ),
        repeat=5,
    )
    speedup = ref_scaled / median
    return [
        Figure("Monte Carlo 1,000 iterations x 1,000 steps", median, target=0.25, samples=samples,
               reference=ref_scaled,
               reference_name=f"manual shape ({small} iterations, scaled x{iterations // small})"),
        Figure("Monte Carlo speed-up vs manual shape", speedup, unit="x", target=100.0,
               higher_is_better=True),
    ]  # fmt: skip


@bench("simulation")
def single_run_1000_steps() -> Figure:
    engine = SimulationEngine()
    state = default_state()
    ref, _ = median_time(lambda: _manual_run_simulation(1000, state, _CFG), repeat=3)
    median, samples = median_time(
        lambda: engine.run_simulation(1000, state, seed=1), repeat=7, number=5
    )
    return Figure("single run, 1,000 steps", median, target=0.005, samples=samples,
                  reference=ref, reference_name="manual shape, 1,000 steps")  # fmt: skip


@bench("simulation")
def lhs_sweep_256x200() -> Figure:
    engine = SimulationEngine()
    space = {"cycle_time": (20.0, 40.0), "target_temperature": (18.0, 32.0),
             "base_efficiency": (0.8, 0.95), "energy_consumption_increment": (1.0, 3.0)}  # fmt: skip

    def sweep() -> None:
        evaluate(sample(space, 256, seed=1), config=engine, steps=200, seed=1)

    median, samples = median_time(sweep, repeat=5)
    return Figure(
        "LHS sweep, 256 points x 200 steps (in-process)", median, target=2.0, samples=samples
    )
