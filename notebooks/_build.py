"""Write the guided notebooks ``notebooks/0*.ipynb`` from the cell lists in this file.

The notebooks are generated, not edited by hand, so that they are always committed without
outputs, execution counts or widget state, and so that every exercise follows the same
pattern: a markdown question, a code cell tagged ``exercise`` that starts with
``# YOUR ANSWER`` and holds ``answer = None``, and a self-check cell calling
``teaching.check_<name>(answer)``.

Run ``python notebooks/_build.py`` after changing a notebook here (``--check`` only
verifies that the committed files are up to date).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text.strip("\n"))


def code(text: str) -> nbformat.NotebookNode:
    return new_code_cell(text.strip("\n"))


def narrative_code(text: str, topic: str) -> nbformat.NotebookNode:
    """A cell that prints text computed from the results (tagged so tests can read it)."""
    cell = code(text)
    cell.metadata["tags"] = ["narrative"]
    cell.metadata["narrative"] = topic
    return cell


def exercise(ex_id: str, name: str, question: str, hint_cell: str = "") -> list:
    """The three cells of an exercise: question, the learner's cell, the self-check."""
    answer = code(
        f"# YOUR ANSWER (exercise {ex_id}): replace None with your answer, then run the next cell\n"
        + (hint_cell.strip("\n") + "\n" if hint_cell else "")
        + "answer = None"
    )
    answer.metadata["tags"] = ["exercise"]
    answer.metadata["exercise"] = ex_id
    check = code(f"teaching.check_{name}(answer)")
    check.metadata["tags"] = ["self-check"]
    check.metadata["exercise"] = ex_id
    return [md(f"### Exercise {ex_id}\n\n{question.strip()}"), answer, check]


def notebook(cells: list) -> nbformat.NotebookNode:
    flat: list = []
    for c in cells:
        flat.extend(c if isinstance(c, list) else [c])
    nb = new_notebook(cells=flat)
    nb.metadata["kernelspec"] = KERNEL
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    return nb


SETUP_TEMP_STORE = """
import tempfile
from pathlib import Path

from circman_kernel import RunStore, teaching

workdir = tempfile.TemporaryDirectory()  # this notebook's own store, gone when the kernel stops
store = RunStore(Path(workdir.name) / "runs.duckdb")
store
"""


def nb01() -> list:
    return [
        md("""
# 01 · The digital twin: state, updates, history, events and thresholds

**Learning goals.** After this notebook you can

- read the twin's **state**: the nested record of one PV module line (line temperature,
  power draw, modules per hour, efficiency, defect rate, and the silicon wafer and solar
  glass stocks);
- feed it **updates** (partial states, as a sensor row would) and see what is validated;
- look back through its bounded **history**, including "what was the state at 10:00?";
- follow the **events** it publishes, in particular the **threshold** breaches and
  recoveries defined in `configs/digital_twin.json`.

Runs in a few seconds. Every exercise has a self-check: write your answer in the cell
marked `# YOUR ANSWER`, then run the check below it. An answer to 3 significant figures
(or the precision the question asks) counts as right; terms are explained in the
[glossary](../README.md#glossary).
"""),
        code(SETUP_TEMP_STORE),
        md("""
## 1. A twin and its state

A `DigitalTwin` owns its own state, history and event bus. Several twins can live side by
side in one kernel (a baseline and a what-if), so nothing is global. Giving it a `store`
makes its events persist in the DuckDB file.
"""),
        code("""
import pandas as pd
import plotly.graph_objects as go

from circman_kernel import DigitalTwin

twin = DigitalTwin(store=store, seed=1, name="line-1")
twin.initialize()
state = twin.get_current_state()
state["production_line"]
"""),
        md("""
The state is a plain nested dict. Units: temperature in °C, `energy_consumption` is the
line's power draw in kW, `production_rate` in modules per hour, `efficiency` and
`defect_rate` are fractions, `cycle_time` is seconds per module. Materials are in kg.
`get_current_state()` hands you a **copy**: changing it does not change the twin.
"""),
        code("""
state["production_line"]["temperature"] = 99.0  # only our copy
twin.get_current_state()["production_line"]["temperature"]
"""),
        md("""
## 2. Updates are partial states, and they are validated

An update names only what changed. The twin merges it, stamps it with a time (unless it
carries a `timestamp`), keeps the previous state in the history and checks the thresholds.
A value that cannot be physical (a negative inventory, an efficiency above 1, a NaN) is
refused with an error naming the dotted path, and the state stays as it was.
"""),
        code("""
twin.update({"production_line": {"temperature": 23.5}})
print("temperature now", twin.get_current_state()["production_line"]["temperature"], "degC")

from circman_kernel.core.errors import StateValidationError

try:
    twin.update({"materials": {"silicon_wafer": {"inventory": -5.0}}})
except StateValidationError as exc:
    print("refused:", exc)
print("wafer stock still", twin.get_current_state()["materials"]["silicon_wafer"]["inventory"], "kg")
"""),
        md("""
## 3. Replaying a shift of sensor data

`data/sample_shift.csv` is one 8-hour shift of the line, one row every 15 s. Its columns
are dotted state paths (`production_line.temperature`, ...), so each row is a partial
state. It contains a 30-minute idle break and a cooling fault. We turn each row into a
nested update and feed the twin. (Notebook 07 does the same with the package's
`CSVReplaySource` and a synchroniser.)
"""),
        code("""
from circman_kernel.core.paths import data_dir

shift = pd.read_csv(data_dir() / "sample_shift.csv")


def row_to_update(row: dict) -> dict:
    # {'production_line.temperature': 22.5, ...} -> {'production_line': {'temperature': 22.5}}
    update = {}
    for column, value in row.items():
        *branch, leaf = column.split(".")
        node = update
        for key in branch:
            node = node.setdefault(key, {})
        node[leaf] = value
    return update


for row in shift.to_dict("records"):
    twin.update(row_to_update(row))
print(len(shift), "rows replayed; history holds", len(twin.state_manager), "earlier states")
shift.head(3)
"""),
        md("""
The history is **bounded** (`DIGITAL_TWIN_CONFIG.history_length` in the config), so a long
shift keeps only the most recent states. Let us look at the line temperature and the
power draw over the shift, with the temperature band the config defines.
"""),
        code("""
lo, hi = twin.config.digital_twin.PARAMETER_THRESHOLDS["production_line.temperature"]
t = pd.to_datetime(shift["timestamp"])
fig = go.Figure()
fig.add_scatter(x=t, y=shift["production_line.temperature"], name="line temperature [°C]")
fig.add_hrect(y0=lo, y1=hi, fillcolor="green", opacity=0.08, line_width=0,
              annotation_text="allowed band")
fig.add_scatter(x=t, y=shift["production_line.energy_consumption"], name="power draw [kW]",
                yaxis="y2", opacity=0.5)
fig.update_layout(title="One shift of the PV module line", height=380,
                  yaxis=dict(title="°C"), yaxis2=dict(title="kW", overlaying="y", side="right"),
                  legend=dict(orientation="h", y=-0.2))
fig
"""),
        md("""
## 4. Events and thresholds

Every twin has an event bus (`twin.event_manager`). You can subscribe a handler to a
category and a severity (`severity=`: that one only; `min_severity=`: that one or
worse). Threshold events come in pairs: one when a value leaves
its band (a warning), one when it comes back (info): not one per update while it stays
outside. Each carries the sensor time of the state that triggered it in `details`.
"""),
        code("""
events = twin.event_manager.to_frame()
events["sensor_time"] = [d.get("timestamp") for d in events["details"]]
events[["category", "severity", "message", "sensor_time"]]
"""),
        code("""
alarms = []
twin.event_manager.subscribe(alarms.append, category="threshold", severity="warning")
twin.update({"production_line": {"temperature": 31.0}})  # too hot: one warning
twin.update({"production_line": {"temperature": 31.5}})  # still outside: no new event
twin.update({"production_line": {"temperature": 22.0}})  # back inside: a recovery (info)
print([e.message for e in alarms])
print("currently out of band:", twin.breached_thresholds)
"""),
        md("""
With a store, events also land in its `events` table (written in batches; `close()`
writes the rest):
"""),
        code("""
twin.close()
store.query("SELECT category, severity, count(*) AS n FROM events GROUP BY ALL ORDER BY n DESC")
"""),
        exercise(
            "01-1",
            "minutes_above_threshold",
            """
During the replayed shift the cooling fault pushed the line temperature above its upper
threshold. **For how many minutes** was it above, measured from the breach event to the
recovery event by the *sensor* time? Put a number (minutes) in `answer`.

(The replay is in `twin`; `pd.Timestamp` parses ISO times. The events you added yourself
in section 4 came later, so look at the first breach and the first recovery.)
""",
        ),
        md("""
## 5. Looking back in time

`state_manager.get_state_at_time(t)` returns the state **in effect** at time `t`: the most
recent one at or before `t`. It is a binary search over the history, so it stays fast for
long histories.
"""),
        exercise(
            "01-2",
            "temperature_at_ten",
            """
What was the line temperature (°C) in effect at **10:00:07** on 24 February 2025, the
day of the shift? Give it **to 3 decimals**, as the sensor reported it; put the number in
`answer`.
""",
        ),
        md("""
## What you learned

- The twin's state is a validated nested record; updates are partial and merged.
- History is bounded and can be searched by time.
- Thresholds publish one event on leaving a band and one on coming back; events can be
  subscribed to and are stored with the twin's store.

Next: **02**, simulating the line forward from a state, with Monte Carlo uncertainty.
"""),
    ]


def nb02() -> list:
    return [
        md("""
# 02 · Simulation and Monte Carlo uncertainty

**Learning goals.** After this notebook you can

- simulate the line forward from a state with `SimulationEngine.run_simulation` and read
  the result as states, as a tidy table and as headline KPIs (modules made, energy per
  module in kWh, defect rate, kg of silicon wafer and solar glass used);
- explain why the same **seed** gives the same run, and why that matters for comparing runs;
- run a **Monte Carlo** simulation: the same line many times with uncertain parameters,
  and read its P5/P50/P95 bands and end-of-run distributions;
- find every run again in the DuckDB store.

One model step is one hour (`step_duration`). Runs in about ten seconds. Terms (Monte
Carlo, P5/P95, ...) are explained in the [glossary](../README.md#glossary).
"""),
        code(SETUP_TEMP_STORE),
        md("""
## 1. One simulated day

The engine starts from a twin state (here the default state: 850 kg of wafers, 420 kg of
glass, line at 22.5 °C) and applies the process model step by step: the temperature is
regulated towards its target, the power draw follows production, efficiency and defects
react when the temperature leaves its band, and every module consumes wafer and glass.
"""),
        code("""
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from circman_kernel import SimulationEngine

engine = SimulationEngine(store=store)
day = engine.run_simulation(steps=24, seed=7, name="one day")
print(day, "->", len(day), "states (the initial one first)")
pd.Series(day.kpis()).round(3)
"""),
        md("""
`day.to_frame()` is a tidy table (step, variable, value), convenient for plotting and
for SQL; `to_frame(wide=True)` has one column per variable.
"""),
        code("""
wide = day.to_frame(wide=True)
wide[["production_line.temperature", "production_line.production_rate",
      "production_line.energy_consumption", "output_modules"]].head()
"""),
        md("""
**Seeds.** Process noise is random, but every draw comes from the seed. The same seed
gives exactly the same run; without a seed, each run differs. A stored run keeps its seed,
so anyone can reproduce it.
"""),
        code("""
again = engine.run_simulation(steps=24, seed=7)
other = engine.run_simulation(steps=24, seed=8)
print("same seed, same run:", np.array_equal(day.trajectory, again.trajectory))
print("other seed, same run:", np.array_equal(day.trajectory, other.trajectory))
"""),
        md("""
## 2. A longer run: what limits output?

Over 200 hours the line keeps consuming 0.5 kg of silicon wafer and 0.2 kg of solar
glass per module (`*_consumption_rate` in the config) and, with no replenishment, the
stocks run down.
"""),
        code("""
long_run = engine.run_simulation(steps=200, seed=7, name="200 hours")
w = long_run.to_frame(wide=True)
fig = go.Figure()
fig.add_scatter(x=w.index, y=w["materials.silicon_wafer.inventory"], name="silicon wafer [kg]")
fig.add_scatter(x=w.index, y=w["materials.solar_glass.inventory"], name="solar glass [kg]")
fig.add_scatter(x=w.index, y=w["output_modules"], name="modules made", yaxis="y2")
fig.update_layout(title="Material stocks and cumulative output", xaxis_title="hour",
                  yaxis_title="kg", yaxis2=dict(title="modules", overlaying="y", side="right"),
                  height=380)
fig
"""),
        exercise(
            "02-1",
            "hour_wafers_run_out",
            """
In `long_run`, at which **step (hour)** does the silicon wafer inventory first reach
zero? Put a whole number in `answer`.
""",
        ),
        md("""
## 3. Monte Carlo: the same shift, many times

Real parameters are not known exactly: the power increment per step, the nominal rate,
the wafer use per module, the base efficiency... `run_monte_carlo_simulation` multiplies
each uncertain parameter by a draw of N(1, `uncertainty`) per iteration, adds the process
noise, and runs all iterations at once (vectorised). Here: 500 iterations of two days.
"""),
        code("""
mc = engine.run_monte_carlo_simulation(
    steps=48, iterations=500, uncertainty=0.1, seed=42, name="two days, 10 % uncertainty"
)
bands = mc.percentiles()  # step, variable, p5, p50, p95
out = bands[bands["variable"] == "output_modules"]
fig = go.Figure()
fig.add_scatter(x=out["step"], y=out["p95"], line=dict(width=0), showlegend=False)
fig.add_scatter(x=out["step"], y=out["p5"], fill="tonexty", line=dict(width=0),
                name="P5-P95")
fig.add_scatter(x=out["step"], y=out["p50"], name="median")
fig.update_layout(title="Cumulative modules made: median and 90 % band",
                  xaxis_title="hour", yaxis_title="modules", height=360)
fig
"""),
        md("""
The end-of-run KPIs of every iteration are one table (iteration x KPI). Its spread is
what you quote when someone asks "how sure are you?".
"""),
        code("""
kpis = mc.kpis()
fig = go.Figure(go.Histogram(x=kpis["energy_per_module_kwh"], nbinsx=40))
fig.update_layout(title="Energy per module over 500 iterations", xaxis_title="kWh/module",
                  yaxis_title="iterations", height=320)
fig
"""),
        code("""
kpis[["output_modules", "energy_per_module_kwh", "defect_rate"]].describe(
    percentiles=[0.05, 0.5, 0.95]
).round(3)
"""),
        exercise(
            "02-2",
            "p95_energy_per_module",
            """
What is the **95th percentile of energy per module** (kWh/module) across the 500
iterations of `mc`? Put the number in `answer`.
""",
        ),
        md("""
## 4. Every run is in the store

The engine was given the store, so each run above is a row of `runs` with its seed,
parameters and KPIs, and its trajectories are in a long table (notebook 06 queries them).
"""),
        code("""
store.runs()[["kind", "name", "seed", "created_at"]]
"""),
        md("""
## What you learned

- A run is `steps + 1` states; KPIs sum it up; a seed makes it reproducible.
- Output can be limited by materials, not only by the line's speed.
- Monte Carlo turns parameter uncertainty into bands and distributions of the KPIs.

Next: **03**, what-if scenarios, parameter sweeps and which parameter matters most.
"""),
    ]


def nb06() -> list:
    return [
        md("""
# 06 · Comparing runs with SQL over the DuckDB store

**Learning goals.** After this notebook you can

- say what the run store keeps: one row per run in `runs` (kind, name, seed, config hash,
  parameters, tags), headline numbers in `run_kpis`, trajectories in the long table
  `trajectories` (run, iteration, step, variable, value);
- use the ready-made views: `run_summary` (one row per run with its KPIs),
  `run_comparison` / `compare_runs([...])`, `scenario_kpis`, `lca_phase_totals`;
- query them from Python with `store.query(sql, params)` (always with bound parameters)
  and from cells with JupySQL's `%sql` / `%%sql`;
- query the same file from a terminal with `circman runs sql`.

Runs in about ten seconds. Terms are explained in the [glossary](../README.md#glossary).
"""),
        code(SETUP_TEMP_STORE),
        md("""
## 1. Some runs to compare

Five two-day simulations of the line at different **cycle times** (seconds per module),
one of them with a cooling problem (line held at 28 °C, above its 27 °C band), and a
Monte Carlo run of the baseline. All seeded, so you get the same numbers as your
neighbour.
"""),
        code("""
from circman_kernel import SimulationEngine

engine = SimulationEngine(store=store)
lab_runs = {
    "cycle 24 s": {"cycle_time": 24.0},
    "cycle 27 s": {"cycle_time": 27.0},
    "cycle 30 s": {"cycle_time": 30.0},
    "cycle 33 s": {"cycle_time": 33.0},
    "cycle 24 s, hot line": {"cycle_time": 24.0, "target_temperature": 28.0},
}
for name, params in lab_runs.items():
    engine.run_simulation(48, parameters=params, seed=7, name=name, tags=("lab",))
mc = engine.run_monte_carlo_simulation(
    48, iterations=300, uncertainty=0.1, seed=42, name="baseline uncertainty", tags=("lab",)
)
store.runs()[["kind", "name", "seed", "tags"]]
"""),
        md("""
## 2. SQL from Python

`store.query` returns a pandas DataFrame. Values always go in as **bound parameters**
(`?` or `$name`), never pasted into the SQL text: a run name with a quote in it must not
break, or change, your query.
"""),
        code("""
store.query(
    \"\"\"
    SELECT name, output_modules, energy_per_module_kwh, defect_rate
    FROM run_summary
    WHERE kind = ? AND list_contains(tags, ?)
    ORDER BY energy_per_module_kwh
    \"\"\",
    ["simulation", "lab"],
).round(4)
"""),
        md("""
Shorter cycles make more modules in the same hours, so each module carries less of the
line's energy. The plot shows the trade-off with defects:
"""),
        code("""
import plotly.graph_objects as go

summary = store.query("SELECT * FROM run_summary WHERE kind = 'simulation'")
fig = go.Figure(go.Scatter(
    x=summary["energy_per_module_kwh"], y=summary["defect_rate"] * 100,
    mode="markers+text", text=summary["name"], textposition="top center",
    marker=dict(size=12),
))
fig.update_layout(title="Energy per module versus defect rate, one point per run",
                  xaxis_title="kWh/module", yaxis_title="defect rate [%]", height=380)
fig
"""),
        md("""
`compare_runs([...])` puts the KPIs of two or more runs side by side (long form); a
pivot makes it a table:
"""),
        code("""
ids = store.query("SELECT id FROM runs WHERE name IN (?, ?)", ["cycle 24 s", "cycle 24 s, hot line"])["id"].tolist()
side = store.query("SELECT * FROM compare_runs(?)", [ids])
side.pivot_table(index="kpi", columns="name", values="value").round(4)
"""),
        md("""
## 3. The same file from `%sql` cells (JupySQL)

JupySQL runs SQL in cells. We give it a **read-only** DuckDB connection to the store file:
queries cannot change the stored runs by accident. DuckDB lets one process write a file
at a time, so the store never keeps the file open; a `%sql` connection does, for as long
as it is open. Close it when you are done, so that dashboards and sweep workers can write
again.
"""),
        code("""
import duckdb

%load_ext sql
%config SqlMagic.displaylimit = 20
con = duckdb.connect(store.path, read_only=True)
%sql con
"""),
        code("""
%%sql
SELECT kind, count(*) AS runs, round(avg(energy_per_module_kwh), 3) AS avg_kwh_per_module
FROM run_summary
GROUP BY kind
ORDER BY kind
"""),
        md("""
A query over the **trajectories** aggregates every step of every iteration without
loading them into Python: here the P5/P50/P95 of the cumulative output at each step of
the Monte Carlo run (every 12 hours).
"""),
        code("""
%%sql
SELECT t.step,
       quantile_cont(t.value, 0.05) AS p5,
       quantile_cont(t.value, 0.50) AS p50,
       quantile_cont(t.value, 0.95) AS p95
FROM trajectories AS t JOIN runs AS r ON r.id = t.run_id
WHERE r.kind = 'monte_carlo' AND t.variable = 'output_modules' AND t.step % 12 = 0
GROUP BY t.step
ORDER BY t.step
"""),
        exercise(
            "06-1",
            "sql_best_run",
            """
Write a SQL query (as a Python string in `answer`) whose **first value** is the name of
the simulation run with the **lowest energy per module** among the runs with a defect rate
of **at most 2.1 %**. Try it first with `%sql` or `store.query(...)`. The self-check runs
your query on a check database: the same kinds of runs plus a few others that a
slightly wrong query would pick, so it may answer with a run you do not have here. The
result is compared, not the text of your query.
""",
        ),
        exercise(
            "06-2",
            "sql_p95_output",
            """
Write a SQL query over `trajectories` whose first value is the **95th percentile of
`output_modules` at the final step** of the Monte Carlo run (DuckDB: `quantile_cont`).
Do not write the run id into the query: find the run by its kind.
""",
        ),
        code("""
con.close()  # let other processes write to the store again
"""),
        md("""
## 4. From a terminal

`circman runs sql` runs a query on the store (read-only, with a time limit) and prints
the result; it is installed with circman, nothing else is needed:

```sh
circman runs sql "SELECT kind, name, energy_per_module_kwh FROM run_summary"
circman runs sql "SELECT kind, count(*) FROM runs GROUP BY kind" --csv
```

(`CIRCMAN_DB` or `--db PATH` selects another file.) This notebook's store is temporary;
the cell below runs the command on it:
"""),
        code("""
import subprocess
import sys

query = "SELECT kind, count(*) AS runs FROM runs GROUP BY kind ORDER BY kind"
print(subprocess.run([sys.executable, "-m", "circman_kernel.cli", "--db", store.path,
                      "runs", "sql", query], capture_output=True, text=True).stdout)
"""),
        md("""
## What you learned

- Every run is a row of `runs`; KPIs and trajectories are plain tables and views.
- `store.query` with bound parameters for Python; `%sql` for cells; the CLI for scripts.
- Close long-lived connections: one process writes the file at a time.

Next: **07**, real-time synchronisation and scaling a sweep out with Dask.
"""),
    ]


def nb03() -> list:
    return [
        md("""
# 03 · What-if scenarios, parameter sweeps and sensitivity

**Learning goals.** After this notebook you can

- define named **scenarios** (parameter overrides with a description), keep them in the
  store, run them, and **compare** them against a baseline;
- explain **common random numbers**: all scenarios see the same process noise, so a
  difference comes from the parameters, not from luck;
- design a **sweep** as data (Latin hypercube over a parameter space), evaluate it in one
  vectorised run, and rank the parameters by **global sensitivity** (SALib);
- ask **which region of the inputs** leads to bad outcomes (scenario discovery with PRIM),
  score inputs with extra-trees on any sample, and choose settings that hold up across
  **uncertain futures** (robust optimisation) instead of at one nominal point.

Runs in about half a minute. Terms such as Latin hypercube, RBD-FAST, PAWN and NSGA-II
are explained in the [glossary](../README.md#glossary).
"""),
        code(SETUP_TEMP_STORE),
        md("""
## 1. Scenarios

A scenario is a name, a few parameter overrides and a description. Kept in the store's
`scenarios` table, a whole lab can share them.
"""),
        code("""
import pandas as pd
import plotly.graph_objects as go

from circman_kernel import ScenarioManager

manager = ScenarioManager(store=store)
manager.create_scenario("baseline", {}, "the line as configured")
manager.create_scenario("faster cycle", {"cycle_time": 26.0}, "26 s per module instead of 30 s")
manager.create_scenario("cooler line", {"target_temperature": 20.0}, "cooling set to 20 °C")
manager.create_scenario("hot line", {"target_temperature": 28.5}, "cooling fault: 28.5 °C")
manager.list_scenarios()
"""),
        md("""
`compare_scenarios` runs all of them over the same 48 hours with the same noise, and
reports each KPI, its difference to the baseline (`_diff`) and the difference in percent
(`_pct`).
"""),
        code("""
names = ["baseline", "faster cycle", "cooler line", "hot line"]
table = manager.compare_scenarios(names, steps=48, seed=0)
table[["output_modules", "energy_per_module_kwh", "defect_rate",
       "output_modules_pct", "energy_per_module_kwh_pct"]].round(3)
"""),
        md("""
A scenario can change nothing at all. Which one, and why, is worked out from the table
(the sentence below is computed, not written in advance):
"""),
        narrative_code(
            """
from circman_kernel.teaching.narrative import scenario_story

band = manager.config.digital_twin.PARAMETER_THRESHOLDS["production_line.temperature"]
overrides = {name: manager.get_scenario(name).parameters for name in names}
print(scenario_story(table, overrides, band))
""",
            "scenarios",
        ),
        code("""
fig = go.Figure()
for kpi in ["output_modules_pct", "energy_per_module_kwh_pct", "defect_rate_pct"]:
    fig.add_bar(x=table.index, y=table[kpi], name=kpi.replace("_pct", ""))
fig.update_layout(title="Scenarios against the baseline [%]", barmode="group",
                  yaxis_title="% change", height=360)
fig
"""),
        exercise(
            "03-1",
            "faster_cycle_output_pct",
            """
By how many **percent** does the "faster cycle" scenario change the number of modules
made, compared with the baseline? Put the number (in %) in `answer`.
""",
        ),
        md("""
Running a scenario on its own stores it as a run of kind `scenario` (notebook 06 shows
how to query such runs):
"""),
        code("""
run = manager.run_scenario("hot line", steps=48, seed=0)
store.runs(kind="scenario")[["name", "seed", "created_at"]]
"""),
        md("""
## 2. A sweep: experiments as data

Instead of a handful of hand-picked scenarios, a sweep samples a whole parameter
**space**. Here: cycle time, line temperature set-point, the power increment per step and
the base defect rate, 256 points of a Latin hypercube. The experiments are a DataFrame
and the outcomes a dict of arrays aligned on its rows; all 256 run as columns of one
vectorised model run.
"""),
        code("""
from circman_kernel.simulation import analyse, evaluate, sample

space = {
    "cycle_time": (24.0, 36.0),
    "target_temperature": (20.0, 29.0),
    "energy_consumption_increment": (1.0, 3.0),
    "base_defect_rate": (0.005, 0.03),
}
experiments = sample(space, 256, method="lhs", seed=1)
outcomes = evaluate(experiments, steps=48, seed=2)
experiments.head()
"""),
        code("""
fig = go.Figure(go.Scatter(
    x=experiments["cycle_time"], y=outcomes["energy_per_module_kwh"], mode="markers",
    marker=dict(color=experiments["target_temperature"], colorscale="Viridis",
                colorbar=dict(title="set-point °C")),
))
fig.update_layout(title="Energy per module over the sweep", xaxis_title="cycle time [s/module]",
                  yaxis_title="kWh/module", height=380)
fig
"""),
        md("""
## 3. Which parameter matters most?

A global sensitivity analysis (SALib; RBD-FAST for a Latin hypercube) attributes the
variance of a KPI to the parameters over the **whole** space, not just around one point.
`S1` is the share of the variance a parameter explains on its own, `S1_conf` its
uncertainty; `pawn_median` is the PAWN index, which needs no variance (terms: see the
[glossary](../README.md#glossary)).
"""),
        code("""
ranking = analyse(experiments, outcomes, "energy_per_module_kwh")
ranking
"""),
        narrative_code(
            """
from circman_kernel.teaching.narrative import sensitivity_story

print(sensitivity_story(ranking))
""",
            "sensitivity",
        ),
        exercise(
            "03-2",
            "most_influential",
            """
Which parameter has **rank 1** for energy per module? Put its name (a string) in `answer`.
""",
        ),
        md("""
## 4. Scenario discovery: where do the bad outcomes come from?

A sensitivity ranking says *which* input matters; scenario discovery says *where*. Mark the
experiments whose outcome is of interest (here: the worst 10 % of defect rates) and PRIM
peels the input space down to a box that holds them. Every box on its **peeling
trajectory** trades **coverage** (the share of all cases of interest inside the box)
against **density** (the share of the box's points that are cases of interest).
"""),
        code("""
from circman_kernel.ai import discover, feature_scores, robust_optimize
from circman_kernel.simulation import Lever, Uncertainty

space3 = {
    "target_temperature": (16.0, 36.0),
    "base_defect_rate": (0.005, 0.03),
    "temperature_regulation": (0.05, 0.5),
}
sweep = sample(space3, 1024, method="lhs", seed=3)
results = evaluate(sweep, steps=200, seed=4)
found = discover(sweep, results, "defect_rate > p90", store=store)
print(found.condition, "| chosen box", found.chosen,
      f"| coverage {found.coverage:.2f}, density {found.density:.2f}")
found.limits()[["min", "max", "qp_lower", "significant"]]
"""),
        code("""
t = found.trajectory
fig = go.Figure(go.Scatter(x=t["coverage"], y=t["density"], mode="lines+markers",
                           marker=dict(color=t["res_dim"], colorscale="Viridis"),
                           text=[f"box {i}" for i in t.index]))
fig.add_scatter(x=[found.coverage], y=[found.density], mode="markers", name="chosen",
                marker=dict(size=14, symbol="star"))
fig.update_layout(title="Peeling trajectory", xaxis_title="coverage [-]",
                  yaxis_title="density [-]", height=360, showlegend=False)
fig
"""),
        md("""
The quasi-p value of a limit tests whether that restriction matters (small is significant).
Any other box on the trajectory can be inspected, e.g. a looser one with more coverage:
"""),
        code("""
stats, limits = found.inspect(found.chosen // 2)
stats[["coverage", "density", "mass"]]
"""),
        exercise(
            "03-3",
            "box_lower_temperature",
            """
Above which **target temperature** [°C] does the chosen box start? Put the lower limit of
`target_temperature` in the chosen box (a number) in `answer`.
""",
        ),
        md("""
Extra-trees feature scores need no sampling design (any sample works, also plain Monte
Carlo runs or categorical inputs); a planted irrelevant input would come last.
"""),
        code("""
feature_scores(sweep, results, ["defect_rate", "energy_per_module_kwh"]).round(3)
"""),
        md("""
## 5. Choices that hold up under uncertainty

Levers are what the operators decide; uncertainties are what nobody controls. Robust
optimisation (NSGA-II) searches the levers for the best **P10** of good modules over an
ensemble of uncertain scenarios (here: how much wafer is delivered, the base defect rate,
where the line's temperature band ends), with a satisficing constraint on defects. The same
search at the nominal scenario gives the nominal optimum; the table shows how each fares
across the ensemble, and the honesty check re-runs both on fresh scenarios.
"""),
        code("""
levers = [Lever("cycle_time", 20.0, 60.0), Lever("target_temperature", 18.0, 28.0)]
uncertain = [
    Uncertainty("silicon_wafer_replenishment", 0.0, 6.0),
    Uncertainty("base_defect_rate", 0.005, 0.03),
    Uncertainty("temperature_high", 24.0, 28.0),
]
robust = robust_optimize(levers, uncertain, objectives=["p10(good_modules)"],
                         constraints=["satisficing(defect_rate <= 0.04) >= 0.9"],
                         population=24, generations=10, n_scenarios=32, steps=150, seed=0,
                         store=store)
print("robust:", robust.chosen)
print("nominal:", robust.nominal)
print("honesty:", robust.verdict)
robust.comparison
"""),
        md("""
Both the discovery and the robust optimisation are runs in the store (the run explorer
lists them):
"""),
        code("""
store.runs(kind=["sweep", "optimization"])[["kind", "name", "tags"]]
"""),
        md("""
## What you learned

- Scenarios are named parameter sets; comparing them with common random numbers isolates
  the effect of the parameters.
- A sweep is a table of experiments; its outcomes feed a global sensitivity ranking.
- PRIM turns "which runs were bad?" into a box of input limits with coverage and density;
  robust optimisation picks levers for the whole ensemble, not for one nominal future.

Next: **04**, a fast surrogate model of the line and optimisation that tells the truth.
"""),
    ]


def nb04() -> list:
    return [
        md("""
# 04 · The surrogate model and optimisation: the honesty check and the Pareto front

**Learning goals.** After this notebook you can

- train the **surrogate** (`ManufacturingModel`, scikit-learn conventions) on a synthetic
  production history from the process model, and read its cross-validated scores;
- optimise the line's settings (temperature set-point, regulation, cycle time) within
  the configured bounds, with `ProcessOptimizer`;
- read the **honesty check**: the optimum is re-run through the physics process model,
  and a predicted improvement the physics does not reproduce is reported as such;
- compute a **Pareto front** (NSGA-II) of two objectives that really conflict: good
  modules against the batch's carbon, and read the price of output off it.

Runs in about fifteen seconds. Terms (NSGA-II, kWp, CO2-eq, ...) are explained in the
[glossary](../README.md#glossary).
"""),
        code(SETUP_TEMP_STORE),
        md("""
## 1. A surrogate trained on a production history

The history is generated from the process model (2,000 batches, seeded), so every lab
gets the same data. The model predicts output [modules/h], energy used [kW], efficiency
and defect rate from the settings and the line's state.
"""),
        code("""
import pandas as pd
import plotly.graph_objects as go

from circman_kernel import ManufacturingModel, ProcessOptimizer
from circman_kernel.ai.model import synthetic_history

production, quality = synthetic_history(2000, seed=3)
model = ManufacturingModel()
scores = model.train_optimization_model(production, quality)
pd.Series(scores).round(4)
"""),
        md("""
R² close to 1 means the surrogate reproduces the history well **inside the range it was
trained on**. Outside that range it only extrapolates: the optimiser flags such optima.
"""),
        code("""
model.predict_batch_outcomes({"target_temperature": 22.5, "temperature_regulation": 0.1,
                              "cycle_time": 30.0})
"""),
        md("""
## 2. Optimisation and its honesty check

The weighted objective of `configs/optimization.json` (`OBJECTIVE_WEIGHTS`, lower is
better) is minimised within the bounds of `OPTIMIZATION_CONSTRAINTS`. It keeps the
manual's terms, `-100 × efficiency + 0.1 × power [kW] + 1000 × defect rate`, and adds
`-10 × output [modules/h]`: while the line stays in its temperature band, efficiency,
defects and power do not depend on the settings at all, so without the output term a
slower line would look just as good. The result holds the settings before and after, the
surrogate's predictions, and the process model's re-run of both (`simulated_*`).
"""),
        code("""
settings = {"target_temperature": 22.5, "temperature_regulation": 0.1, "cycle_time": 30.0}
# the default twin's production line at the start of the batch (state.default_state)
line = {"temperature": 22.5, "energy_consumption": 120.5, "production_rate": 8.3}
optimizer = ProcessOptimizer(model, seed=0)
result = optimizer.optimize_detailed("weighted", settings, fixed=line)
result.to_frame().round(4)
"""),
        narrative_code(
            """
from circman_kernel.teaching.narrative import honesty_story

print(f"predicted improvement: {result.predicted_improvement:+.4g}")
print(f"simulated improvement: {result.simulated_improvement:+.4g}")
print("verdict:", result.verdict, f"({result.honesty.reproduced_share:.0%} of the prediction)")
print("outside the training data:", result.out_of_training_range or "nothing")
before, after = result.honesty.simulated_before, result.honesty.simulated_after
for name, k in (("before", before), ("after", after)):
    good = k["output_amount"] * (1 - k["defect_rate"])  # defect-free modules per hour
    print(f"process model {name}: {k['output_amount']:.2f} modules/h, "
          f"{k['energy_used'] / good:.2f} kWh per good module")
print()
print(honesty_story(result))
""",
            "verdict",
        ),
        md("""
The verdict has three grades. *Reproduced*: the process model shows a gain beyond its
Monte Carlo noise and at least half of the prediction. *Partly reproduced*: a real gain,
but under half of what the surrogate promised (`result.honesty.reproduced_share` is the
share). *Not reproduced*: no gain beyond the noise. Why the sizes differ here: the line's
rate ramps up by at most 0.2 modules/h per step, so over a batch of eight steps a shorter
cycle raises the output far less than the surrogate, a smooth fit, expects.
"""),
        code("""
fig = go.Figure()
fig.add_bar(x=["before", "after"], y=[result.objective_before, result.objective_after],
            name="surrogate")
fig.add_bar(x=["before", "after"],
            y=[result.honesty.simulated_before["objective"], result.honesty.simulated_after["objective"]],
            name="process model")
fig.update_layout(title="Objective (lower is better): surrogate versus physics",
                  barmode="group", yaxis_title="weighted objective [-] (lower is better)",
                  height=340)
fig
"""),
        exercise(
            "04-1",
            "optimum_reproduced",
            """
Is the improvement **real** by the honesty check's standard: does the process model
show a gain at the optimum beyond its Monte Carlo noise? Answer `True` or `False`.
""",
        ),
        md("""
Now the same optimisation for a line still ramping up from 6 modules/h. Within the batch
it cannot reach even its present target rate (9.2 modules/h), so a shorter cycle cannot
make it faster; the surrogate, which does not know the ramp limit, still promises a gain.
What does the process model say?
"""),
        narrative_code(
            """
ramping = optimizer.optimize_detailed("weighted", settings, fixed={**line, "production_rate": 6.0})
print(f"predicted {ramping.predicted_improvement:+.4g}, "
      f"simulated {ramping.simulated_improvement:+.4g}: {ramping.verdict}")
print(honesty_story(ramping, before=result))
""",
            "ramping",
        ),
        md("""
## 3. A real trade-off: good modules against the batch's carbon

There is rarely one best setting. But not every pair of objectives conflicts: in this
line model the power draw hardly depends on the line's speed, so a shorter cycle spreads
the same energy over more modules and lowers the carbon **per module** as well; output
and carbon per module improve together (a front of output against carbon per module
shrinks to one point). What does conflict is output against the batch's **total**
carbon: every module carries the carbon of its silicon, glass and frame. A plant with a
carbon budget has to choose.

NSGA-II (pymoo) searches cycle time and temperature set-point on the process model itself
(48-hour batches, averaged over 8 scenarios of the base defect rate) for the settings no
other setting beats on both objectives.
"""),
        code("""
from circman_kernel.ai import robust_optimize
from circman_kernel.simulation import Lever, Uncertainty

trade = robust_optimize(
    [Lever("cycle_time", 20.0, 60.0), Lever("target_temperature", 18.0, 27.0)],
    [Uncertainty("base_defect_rate", 0.005, 0.03)],
    objectives=["mean(good_modules)", "mean(carbon_kg)"],
    population=32, generations=15, n_scenarios=8, steps=48, seed=4, honesty=False,
)
front = trade.front.rename(columns={"mean(good_modules)": "good_modules",
                                    "mean(carbon_kg)": "carbon_kg"})
fig = go.Figure(go.Scatter(
    x=front["carbon_kg"] / 1000, y=front["good_modules"], mode="markers",
    marker=dict(color=front["cycle_time"], colorscale="Viridis",
                colorbar=dict(title="cycle s")),
))
fig.update_layout(title="Pareto front: good modules against the batch's carbon",
                  xaxis_title="carbon of the batch [t CO2-eq]",
                  yaxis_title="good modules per 48 h batch", height=380)
fig
"""),
        narrative_code(
            """
from circman_kernel.teaching.narrative import pareto_story

print(pareto_story(front, good="good_modules", carbon="carbon_kg", lever="cycle_time"))
""",
            "pareto",
        ),
        exercise(
            "04-2",
            "lowest_pareto_carbon",
            """
The plant's carbon budget allows you to choose any point of the front, but the order
book needs **at least 400 good modules** per batch. What is the **lowest carbon of a
batch** (kg CO2-eq, not tonnes) on the front that makes at least 400 good modules?
""",
        ),
        md("""
## What you learned

- A surrogate is fast, but only as good as its training range.
- An objective must value what the line is for (output); otherwise the optimiser trades
  it away for the surrogate's fitting error.
- Every optimum is re-run through the physics; believe the simulated improvement.
- A Pareto front shows the trade-off instead of hiding it in weights, but only between
  objectives that really conflict: check the model before you trust a front.

Next: **05**, life-cycle assessment.
"""),
    ]


def nb05() -> list:
    return [
        md("""
# 05 · Life-cycle assessment: phases, functional units, uncertainty

**Learning goals.** After this notebook you can

- compute the four **phases** of a PV module batch's carbon footprint (manufacturing, use,
  end of life, recycling benefit) in kg CO2-eq, the manual's total of the first three and
  the net total with the recycling benefit;
- check the manufacturing phase **by hand** from the impact factors;
- express results per **functional unit**: per module, per kWp, per kWh generated, and
  as energy and carbon **payback times**;
- propagate **uncertainty** of the impact factors by Monte Carlo.

Runs in a few seconds. CO2-eq, kWp and the other terms are explained in the
[glossary](../README.md#glossary).
"""),
        code(SETUP_TEMP_STORE),
        md("""
## 1. The impact factors

Factors live in `configs/impact_factors.json`: kg CO2-eq per kg of each material, per kWh
of electricity, per tonne-km of transport.
"""),
        code("""
import pandas as pd
import plotly.graph_objects as go

from circman_kernel import LCAAnalyzer

analyzer = LCAAnalyzer()
factors = analyzer.impact_factors
pd.Series(factors.MATERIAL_IMPACT_FACTORS, name="kg CO2-eq per kg")
"""),
        code("""
print("electricity:", factors.ENERGY_IMPACT_FACTOR, "kg CO2-eq/kWh")
analyzer.calculate_manufacturing_impact({"silicon_wafer": 1.0}, 0.0)
"""),
        exercise(
            "05-1",
            "manufacturing_by_hand",
            """
Compute **by hand** (with the factors above, not with `calculate_manufacturing_impact`)
the manufacturing impact in kg CO2-eq of 5 kg silicon wafer, 12 kg solar glass, 2.5 kg
aluminium frame and 80 kWh of electricity.
""",
        ),
        md("""
## 2. A full assessment of one batch of 100 modules

Use phase: the modules generate electricity for 25 years, which displaces grid
electricity (0.275 kg CO2-eq/kWh here): a large **negative** contribution. End of life:
disposal of what is not recycled plus transport. The recycling benefit is its own phase,
so no credit is counted twice.
"""),
        code("""
impact = analyzer.perform_full_lca(
    material_inputs={"silicon_wafer": 50.0, "solar_glass": 20.0, "aluminum_frame": 12.0},
    energy_consumption=1200.0,            # kWh for the batch
    lifetime_years=25,
    annual_energy_generation=40_000.0,    # kWh per year for the batch
    grid_carbon_intensity=0.275,          # kg CO2-eq/kWh displaced
    recycling_rates={"silicon_wafer": 0.9, "solar_glass": 0.9, "aluminum_frame": 0.9},
    transport_distance=100.0,             # km to the recycler
    n_modules=100,
)
phases = pd.Series({
    "manufacturing": impact.manufacturing_impact,
    "use phase": impact.use_phase_impact,
    "end of life": impact.end_of_life_impact,
    "recycling benefit": impact.recycling_benefit,
    "net total": impact.net_impact,
}, name="kg CO2-eq")
print("total_impact (the manual's total, without the recycling credit):",
      round(impact.total_impact, 1))
phases.round(1)
"""),
        code("""
fig = go.Figure(go.Waterfall(
    x=list(phases.index[:-1]) + ["net total"],
    measure=["relative"] * 4 + ["total"],
    y=list(phases.values[:-1]) + [0],
))
fig.update_layout(title="Life-cycle phases of 100 modules", yaxis_title="kg CO2-eq",
                  height=380)
fig
"""),
        md("""
## 3. Functional units

A total for "this batch" is hard to compare. Per module, per kWp installed and per kWh
generated are the units PV studies use; payback times say how long until the modules
have repaid their energy and their carbon.
"""),
        code("""
pd.Series(impact.functional_units()).round(4)
"""),
        narrative_code(
            """
from circman_kernel.teaching.narrative import lca_units_story

print(lca_units_story(impact))
""",
            "functional units",
        ),
        exercise(
            "05-2",
            "carbon_payback_years",
            """
What is the batch's **carbon payback time** in years?
""",
        ),
        md("""
## 4. Uncertainty of the factors

Impact factors are estimates. `monte_carlo` redraws them (lognormal spread from the
profile) as one matrix and re-solves all phases at once.
"""),
        code("""
mc = analyzer.monte_carlo(
    {"silicon_wafer": 50.0, "solar_glass": 20.0, "aluminum_frame": 12.0}, 1200.0, 25, 40_000.0,
    0.275, {"silicon_wafer": 0.9, "solar_glass": 0.9, "aluminum_frame": 0.9}, 100.0,
    samples=5000, seed=1,
)
mc.percentiles().round(1)
"""),
        code("""
fig = go.Figure(go.Histogram(x=mc["manufacturing_impact"], nbinsx=50))
fig.update_layout(title="Manufacturing impact over 5,000 factor draws",
                  xaxis_title="kg CO2-eq", height=320)
fig
"""),
        md("""
## What you learned

- Manufacturing impact is quantity x factor summed, plus energy x factor.
- The use phase dominates when the modules displace a carbon-intensive grid.
- Functional units and payback times make batches comparable; factor uncertainty gives
  the total a range.

Next: **06**, comparing stored runs with SQL.
"""),
    ]


def nb07() -> list:
    return [
        md("""
# 07 · Real-time synchronisation and scaling a sweep out with Dask

**Learning goals.** After this notebook you can

- connect a twin to a **data source** (a replayed CSV, simulated sensors) with a
  `Synchronizer`, in **batch** mode (as fast as possible) and in **real-time** mode (paced
  at `update_frequency` Hz, on the notebook's own event loop, without blocking it);
- start, watch and stop a real-time synchronisation;
- run a sweep on a **Dask** cluster through a standard `concurrent.futures` executor and
  check that it gives exactly the serial result.

Runs in about twenty seconds (most of it starting the Dask workers). Terms (Latin
hypercube, ...) are explained in the [glossary](../README.md#glossary).
"""),
        code(SETUP_TEMP_STORE),
        md("""
## 1. Batch mode: replay the sample shift

`CSVReplaySource` reads the shift row by row (numbers parsed, a malformed row reported
with its file and line). `run_batch(record=True)` also stores the replay as a run.
"""),
        code("""
import asyncio

import pandas as pd
import plotly.graph_objects as go

from circman_kernel import CSVReplaySource, DigitalTwin, SimulatedSensorSource, Synchronizer
from circman_kernel.core.paths import data_dir

twin = DigitalTwin(store=store, seed=1, name="replayed line")
twin.initialize()
sync = Synchronizer(twin, CSVReplaySource(data_dir() / "sample_shift.csv"))
n = sync.run_batch(record=True, name="sample shift")
print(n, "readings; last sensor time", twin.get_current_state()["timestamp"])
sync.status()
"""),
        md("""
## 2. Real-time mode: simulated sensors at 20 Hz

In a Jupyter kernel `start()` schedules a task on the running event loop and returns at
once: the notebook stays usable while the twin is fed. (The config's `update_frequency`
is 1 Hz; we pass 20 Hz to keep the notebook short.)
"""),
        code("""
live = DigitalTwin(seed=2, name="live line")
live.initialize()
sensors = SimulatedSensorSource(seed=3, interval_s=0.05)
rt = Synchronizer(live, sensors, frequency=20.0)
task = rt.start(max_updates=30)
print("started; running:", rt.running)
"""),
        code("""
await asyncio.sleep(2.0)  # meanwhile, the kernel is free for other cells
rt.stop()
status = rt.status()
print("updates:", status["updates"], "| running:", status["running"], "| error:", status["error"])
assert status["error"] is None and status["updates"] > 0
"""),
        code("""
history = live.get_state_history()
temps = [s["production_line"]["temperature"] for s in history]
fig = go.Figure(go.Scatter(y=temps, mode="lines+markers"))
fig.update_layout(title="Line temperature received in real time", xaxis_title="update",
                  yaxis_title="°C", height=300)
fig
"""),
        md("""
## 3. Scaling a sweep out with Dask

`evaluate` accepts any `concurrent.futures.Executor`. A Dask `Client.get_executor()` is
one: here a local cluster of two worker processes; for a real cluster, connect with
`Client("tcp://scheduler:8786")` and nothing else changes. The experiments are cut into
chunks (`chunk_size` experiments each), each chunk with its own seed drawn from the
sweep's seed: the result depends on the seed and the chunk size, never on where the chunks
ran.
"""),
        code("""
from dask.distributed import Client, LocalCluster

from circman_kernel.simulation import evaluate, sample

experiments = sample({"cycle_time": (24.0, 36.0), "target_temperature": (20.0, 28.0)}, 64,
                     method="lhs", seed=5)
outcomes_serial = evaluate(experiments, steps=48, seed=6, chunk_size=16)  # in this process

cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
client = Client(cluster)
outcomes_dask = evaluate(experiments, steps=48, seed=6, executor=client.get_executor(),
                         chunk_size=16)
client.close()
cluster.close()
identical = all((outcomes_serial[k] == outcomes_dask[k]).all() for k in outcomes_serial)
print("identical to the serial run:", identical)
assert identical
"""),
        code("""
fig = go.Figure(go.Scatter(x=experiments["cycle_time"], y=outcomes_dask["output_modules"],
                           mode="markers"))
fig.update_layout(title="Sweep run on Dask: modules made in 48 h",
                  xaxis_title="cycle time [s/module]", yaxis_title="modules", height=320)
fig
"""),
        exercise(
            "07-1",
            "dask_sweep_mean_output",
            """
What is the **mean number of modules made** over the 64 experiments of the sweep that
ran on the Dask cluster?
""",
        ),
        md("""
## What you learned

- One synchroniser API for batch replays and paced real-time feeds.
- Real-time mode runs on the kernel's event loop and can be stopped at any time.
- Any executor scales a sweep out; seeded chunks make the result independent of it.
"""),
    ]


NOTEBOOKS: dict[str, list] = {
    "01_digital_twin.ipynb": nb01(),
    "02_simulation_monte_carlo.ipynb": nb02(),
    "03_scenarios_sweeps.ipynb": nb03(),
    "04_surrogate_optimisation.ipynb": nb04(),
    "05_life_cycle_assessment.ipynb": nb05(),
    "06_sql_over_runs.ipynb": nb06(),
    "07_realtime_and_dask.ipynb": nb07(),
}


def _ruff_format(paths: list[Path]) -> None:
    """Format the code cells the way ``ruff format`` (``make lint``) expects them."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        raise SystemExit("ruff not found: install the test extra (pip install -e .[test])")
    subprocess.run([ruff, "format", "-q", *map(str, paths)], check=True, cwd=HERE.parent)


def main(argv: list[str]) -> int:
    stale = []
    with tempfile.TemporaryDirectory() as tmp:
        built = []
        for name, cells in NOTEBOOKS.items():
            nb = notebook(cells)
            nbformat.validate(nb)
            path = Path(tmp) / name
            path.write_text(nbformat.writes(nb) + "\n")
            built.append(path)
        _ruff_format(built)
        for path in built:
            target = HERE / path.name
            text = path.read_text()
            if "--check" in argv:
                if not target.exists() or target.read_text() != text:
                    stale.append(path.name)
            else:
                target.write_text(text)
    for name in stale:
        print(f"{name} is out of date: run python notebooks/_build.py")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
