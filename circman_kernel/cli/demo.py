"""The headless end-to-end demo behind ``circman demo`` / ``make demo``.

On the run store (``--db``, ``$CIRCMAN_DB`` or ``data/circman.duckdb``) the demo

1. replays the sample shift (``data/sample_shift.csv``) into a digital twin (a run of
   kind ``replay``; the threshold events go to the ``events`` table),
2. runs a Monte Carlo simulation of the next two days from the end of the shift,
3. compares what-if scenarios (each scenario stored as a run),
4. optimises the line's settings with the surrogate model and shows the honesty check
   (the optimum re-run through the process model),
5. assesses the life-cycle impact of one simulated day of production,

stores every run, and ends with a summary table, the database path and two SQL queries
to try next. Every step is seeded, so two demos give the same numbers as new runs; the
runs of an earlier demo are never touched. A step whose feature is not installed is
skipped with a note.
"""

from __future__ import annotations

import importlib.util
import math
import shlex
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import pandas as pd

from circman_kernel.core.config import CircmanConfig, load_config
from circman_kernel.core.errors import CircmanError
from circman_kernel.core.paths import data_dir
from circman_kernel.core.version import __version__
from circman_kernel.store.queries import in_list

__all__ = ["DEMO_SCENARIOS", "SCENARIO_COLUMNS", "DemoContext", "run_demo", "scenario_summary"]

SEED = 20250224
DEMO_TAG = "demo"

#: Scenarios the demo compares: name -> (parameters, description).
DEMO_SCENARIOS: dict[str, tuple[dict[str, float], str]] = {
    "demo baseline": ({}, "the line as configured"),
    "demo faster cycle": ({"cycle_time": 26.0}, "26 s per module instead of 30 s"),
    "demo cooling fault": ({"target_temperature": 28.5}, "line held above its 27 degC band"),
}

#: Columns of the scenario comparison the demo prints (``ScenarioManager.compare_scenarios``).
SCENARIO_COLUMNS = (
    "output_modules",
    "energy_per_module_kwh",
    "defect_rate",
    "carbon_kg",
    "output_modules_pct",
    "energy_per_module_kwh_pct",
    "carbon_kg_pct",
)

NEXT_QUERIES = (
    "SELECT kind, count(*) AS runs FROM runs GROUP BY kind ORDER BY kind",
    "SELECT name, output_modules, energy_per_module_kwh, defect_rate "
    "FROM run_summary WHERE kind = 'scenario' ORDER BY created_at DESC LIMIT 3",
)


@dataclass
class DemoContext:
    """What the demo's steps share: configuration, store, twin and the runs added."""

    config: CircmanConfig
    store: Any
    out: TextIO
    twin: Any = None
    run_ids: list[str] = field(default_factory=list)
    day_kpis: dict[str, float] = field(default_factory=dict)
    bar: Any = None  # the progress bar (tqdm) the report is written around, if any

    def say(self, text: str) -> None:
        if self.bar is not None and not self.bar.disable:
            # above the bar: cleared, the line written, the bar drawn again below it (a
            # plain print would leave a stale bar line in a terminal between the steps)
            self.bar.write(text, file=self.out)
            self.out.flush()
        else:
            print(text, file=self.out, flush=True)


def _has(*modules: str) -> bool:
    return all(importlib.util.find_spec(f"circman_kernel.{m}") is not None for m in modules)


# ----------------------------------------------------------------------------- steps
def _replay(ctx: DemoContext) -> None:
    from circman_kernel.twin.digital_twin import DigitalTwin
    from circman_kernel.twin.sources import CSVReplaySource
    from circman_kernel.twin.sync import Synchronizer

    ctx.twin = DigitalTwin(ctx.config, store=ctx.store, seed=SEED, name="demo line")
    ctx.twin.initialize()
    source = CSVReplaySource(data_dir() / "sample_shift.csv")
    sync = Synchronizer(ctx.twin, source)
    n = sync.run_batch(record=True, name="demo: sample shift replay", tags=(DEMO_TAG,))
    ctx.twin.close()  # writes the pending events
    breaches = [
        e
        for e in ctx.twin.event_manager.get_events(category="threshold", limit=None)
        if not e.details.get("recovered")
    ]
    state = ctx.twin.get_current_state()
    ctx.say(
        f"  replayed {n} sensor readings ({state['timestamp']}); "
        f"{len(breaches)} threshold breach(es): "
        + ("; ".join(e.message for e in breaches) or "none")
    )
    if getattr(sync, "run_id", None):
        ctx.run_ids.append(sync.run_id)


def _start_state(ctx: DemoContext) -> dict[str, Any] | None:
    return ctx.twin.get_current_state() if ctx.twin is not None else None


def _monte_carlo(ctx: DemoContext) -> None:
    from circman_kernel.simulation.engine import SimulationEngine

    engine = SimulationEngine(ctx.config, store=ctx.store)
    mc = engine.run_monte_carlo_simulation(
        steps=48,
        initial_state=_start_state(ctx),
        iterations=200,
        uncertainty=0.1,
        seed=SEED,
        name="demo: next 48 h, 10 % parameter uncertainty",
        tags=(DEMO_TAG,),
    )
    ctx.run_ids.append(mc.run_id)
    q = mc.kpis()[["output_modules", "energy_per_module_kwh"]].quantile([0.05, 0.5, 0.95])
    ctx.say(
        f"  Monte Carlo, {mc.iterations} iterations x {mc.steps} h: modules P5/P50/P95 = "
        + " / ".join(f"{v:.0f}" for v in q["output_modules"])
        + "; kWh per module = "
        + " / ".join(f"{v:.2f}" for v in q["energy_per_module_kwh"])
    )
    day = engine.run_simulation(
        24,
        initial_state=_start_state(ctx),
        seed=SEED,
        name="demo: one day (assessed in the LCA step)",
        tags=(DEMO_TAG,),
    )
    ctx.run_ids.append(day.run_id)
    ctx.day_kpis = day.kpis()


def _scenarios(ctx: DemoContext) -> None:
    from circman_kernel.simulation.scenarios import ScenarioManager

    manager = ScenarioManager(ctx.config, store=ctx.store)
    for name, (params, description) in DEMO_SCENARIOS.items():
        if name not in set(manager.list_scenarios().get("name", [])):
            manager.create_scenario(name, params, description)
    start = _start_state(ctx)
    for name in DEMO_SCENARIOS:
        result = manager.run_scenario(name, steps=48, initial_state=start, seed=SEED)
        ctx.run_ids.append(result.run_id)
    table = manager.compare_scenarios(
        list(DEMO_SCENARIOS), steps=48, initial_state=start, seed=SEED
    )
    shown = scenario_summary(table)
    ctx.say("  scenario comparison (48 h, common random numbers; _pct against the baseline):")
    ctx.say("    " + shown.to_string().replace("\n", "\n    "))


def scenario_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Return the columns of :data:`SCENARIO_COLUMNS` of a scenario KPI table, rounded.

    Raises
    ------
    CircmanError
        When the table lacks one of them (the KPI was renamed or its module is missing):
        the demo would otherwise print a summary without it.
    """
    missing = [c for c in SCENARIO_COLUMNS if c not in table.columns]
    if missing:
        raise CircmanError(
            f"the scenario comparison has no column(s) {', '.join(missing)} (it has "
            f"{', '.join(map(str, table.columns))}); update demo.SCENARIO_COLUMNS to the "
            "KPI names of ScenarioManager.compare_scenarios"
        )
    return table[list(SCENARIO_COLUMNS)].round(3)


def _optimise(ctx: DemoContext) -> None:
    from circman_kernel.ai.integration import AIIntegration
    from circman_kernel.twin.digital_twin import DigitalTwin

    twin = ctx.twin
    if twin is None:
        twin = DigitalTwin(ctx.config, store=ctx.store, seed=SEED)
        twin.initialize()
    ai = AIIntegration(twin, store=ctx.store)
    params = ai.optimize_parameters()
    result = ai.optimization_history[-1]
    ctx.run_ids.extend(ai.run_ids)
    before = result.initial_params
    changes = ", ".join(f"{k} {before[k]:.3g} -> {v:.3g}" for k, v in params.items())
    ctx.say(f"  optimised ({result.objective}): {changes}")
    pred, sim = result.predicted_improvement, result.simulated_improvement
    sim_text = "not checked" if math.isnan(sim) else f"{sim:+.4g}"
    if result.honesty is not None and math.isfinite(result.honesty.reproduced_share):
        sim_text += f" ({100 * result.honesty.reproduced_share:.0f} % of the prediction)"
    ctx.say(
        f"  honesty check: surrogate predicts {pred:+.4g}, process model gives {sim_text} "
        f"-> {result.verdict}"
        + (
            f" (outside the training data: {', '.join(result.out_of_training_range)})"
            if result.out_of_training_range
            else ""
        )
    )
    if result.honesty is not None:
        b, a = result.honesty.simulated_before, result.honesty.simulated_after
        ctx.say(
            f"  process model: output {b['output_amount']:.2f} -> {a['output_amount']:.2f} "
            f"modules/h, energy per good module {_kwh_per_good_module(b):.2f} -> "
            f"{_kwh_per_good_module(a):.2f} kWh"
        )


def _kwh_per_good_module(kpis: Mapping[str, float]) -> float:
    """Energy per defect-free module [kWh] = power [kW] / good output [modules/h]."""
    good = kpis["output_amount"] * (1.0 - kpis["defect_rate"])
    return kpis["energy_used"] / good if good > 0 else math.inf


def _lca(ctx: DemoContext) -> None:
    from circman_kernel.core.state_schema import default_state
    from circman_kernel.lca.integration import LCAIntegration

    k = ctx.day_kpis
    if not k:  # no simulation available: assess the configured consumption of 200 modules
        sp = ctx.config.digital_twin.SIMULATION_PARAMETERS
        k = {
            "silicon_wafer_kg": 200 * sp.silicon_wafer_consumption_rate,
            "solar_glass_kg": 200 * sp.solar_glass_consumption_rate,
            "energy_kwh": 2400.0,
        }
    state = _start_state(ctx) or default_state(ctx.config)
    # One day of production as a state: material use [kg] and energy [kWh] of the day.
    for material in ("silicon_wafer", "solar_glass"):
        state["materials"][material]["consumption"] = float(k[f"{material}_kg"])
        state["materials"][material]["waste"] = 0.0
        state["materials"][material]["recycled"] = 0.0
    state["production_line"]["energy_consumption"] = float(k["energy_kwh"])
    lca = LCAIntegration(ctx.twin, store=ctx.store, config=ctx.config, recycling_rate=0.9)
    impact = lca.perform_lca_analysis(state=state, batch_id="demo: one simulated day")
    run_id = lca.lca_results_history[-1]["run_id"]
    if run_id:
        ctx.run_ids.append(run_id)
    ctx.say(
        "  life-cycle impact of one day's modules [kg CO2-eq]: "
        f"manufacturing {impact.manufacturing_impact:,.0f}, use {impact.use_phase_impact:,.0f}, "
        f"end of life {impact.end_of_life_impact:,.0f}: total {impact.total_impact:,.0f}; "
        f"recycling benefit (module D, beside the total) {impact.recycling_benefit:,.0f}, "
        f"net {impact.net_impact:,.0f}"
    )


@dataclass(frozen=True)
class _Step:
    title: str
    modules: tuple[str, ...]
    run: Callable[[DemoContext], None]


STEPS: tuple[_Step, ...] = (
    _Step(
        "replay the sample shift into a twin",
        ("twin.digital_twin", "twin.sources", "twin.sync"),
        _replay,
    ),
    _Step("Monte Carlo simulation", ("simulation.engine",), _monte_carlo),
    _Step(
        "scenario comparison", ("simulation.scenarios", "lca.analyzer"), _scenarios
    ),  # carbon_kg needs lca
    _Step("optimisation with honesty check", ("ai.integration", "ai.model"), _optimise),
    _Step("life-cycle assessment", ("lca.integration",), _lca),
)


# ----------------------------------------------------------------------------- summary
def _summary(ctx: DemoContext) -> pd.DataFrame:
    ids = [r for r in ctx.run_ids if r]
    if not ids:
        return pd.DataFrame()
    frame = ctx.store.query(
        "SELECT kind, name, run_id, output_modules, energy_per_module_kwh, defect_rate, "
        f"total_impact FROM run_summary WHERE {in_list('run_id')} ORDER BY created_at",
        [ids],  # portable SQL: the same on the team store
    )
    frame["run_id"] = frame["run_id"].str.slice(0, 8)
    return frame.dropna(axis=1, how="all")


def run_demo(
    config_dir: str | None = None,
    db: str | None = None,
    out: TextIO = sys.stdout,
    *,
    progress: bool = True,
) -> int:
    """Run the demo on the run store ``db``; return its exit status (0 when every step ran).

    Parameters
    ----------
    config_dir : str, optional
        Configuration folder (default: ``$CIRCMAN_CONFIG_DIR`` or ``configs/``).
    db : str, optional
        DuckDB file of the run store (default: ``$CIRCMAN_DB`` or ``data/circman.duckdb``).
    out : text stream
        Where the report goes; the progress bar goes to stderr.
    progress : bool
        Show a progress bar over the steps.
    """
    from tqdm import tqdm  # the terminal bar on stderr, even when IPython is loaded

    from circman_kernel.store.run_store import RunStore

    start = time.perf_counter()
    config = load_config(config_dir)
    store = RunStore(db)
    ctx = DemoContext(config=config, store=store, out=out)
    before = len(store.runs())
    ctx.say(f"circman {__version__}: end-to-end demo on {store.path}")
    ctx.say(f"  the store holds {before} run(s) before this demo")
    skipped = []
    # disable=None: drawn on a terminal only, never into a log or a pipe
    bar = tqdm(STEPS, desc="circman demo", unit="step", disable=None if progress else True,
               file=sys.stderr)  # fmt: skip
    ctx.bar = bar
    for i, step in enumerate(bar, start=1):
        bar.set_postfix_str(step.title)
        ctx.say(f"\n[{i}/{len(STEPS)}] {step.title}")
        if not _has(*step.modules):
            skipped.append(step.title)
            ctx.say("  skipped: this feature is not installed yet")
            continue
        t0 = time.perf_counter()
        step.run(ctx)
        ctx.say(f"  ({time.perf_counter() - t0:.1f} s)")
    bar.close()
    ctx.bar = None

    summary = _summary(ctx)
    after = len(store.runs())
    ctx.say(f"\nRuns added by this demo ({after - before}; the store now holds {after}):")
    if not summary.empty:
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            ctx.say(summary.round(3).to_string(index=False))
    if skipped:
        ctx.say(f"Skipped (not installed yet): {', '.join(skipped)}")
    ctx.say(f"\nDatabase: {store.path}")
    ctx.say("Try next (read-only SQL over the store):")
    for sql in NEXT_QUERIES:
        # in double quotes: readable, and the queries hold no character the shell expands
        ctx.say(f'  circman --db {shlex.quote(str(store.path))} runs sql "{sql}"')
    ctx.say(f"\nDone in {time.perf_counter() - start:.1f} s.")
    return 0
