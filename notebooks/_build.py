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

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text.strip("\n"))


def code(text: str) -> nbformat.NotebookNode:
    return new_code_cell(text.strip("\n"))


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
marked `# YOUR ANSWER`, then run the check below it.
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

from circman_kernel.errors import StateValidationError

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
from circman_kernel.paths import data_dir

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
category and a minimum severity. Threshold events come in pairs: one when a value leaves
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
day of the shift? Put the number in `answer`.
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

One model step is one hour (`step_duration`). Runs in about ten seconds.
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
- open the same file from the `duckdb` command line or `circman runs sql`.

Runs in about ten seconds.
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

JupySQL runs SQL in cells. We give it a DuckDB connection to the store file. DuckDB lets
one process write a file at a time, so the store never keeps the file open; a `%sql`
connection does, for as long as it is open. Close it when you are done, so that
dashboards and sweep workers can write again.
"""),
        code("""
import duckdb

%load_ext sql
%config SqlMagic.displaylimit = 20
con = duckdb.connect(store.path)
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
your query on a check database with the same runs.
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

The same file opens in the DuckDB command line, or through circman:

```sh
duckdb data/circman.duckdb "SELECT kind, name, energy_per_module_kwh FROM run_summary"
circman runs sql "SELECT kind, count(*) FROM runs GROUP BY kind"
```

(`CIRCMAN_DB` or `--db` selects another file.) This notebook's store is temporary:
"""),
        code("""
print(store.path)
"""),
        md("""
## What you learned

- Every run is a row of `runs`; KPIs and trajectories are plain tables and views.
- `store.query` with bound parameters for Python; `%sql` for cells; the CLI for scripts.
- Close long-lived connections: one process writes the file at a time.

Next: **07**, real-time synchronisation and scaling a sweep out with Dask.
"""),
    ]


NOTEBOOKS: dict[str, list] = {
    "01_digital_twin.ipynb": nb01(),
    "02_simulation_monte_carlo.ipynb": nb02(),
    "06_sql_over_runs.ipynb": nb06(),
}


def main(argv: list[str]) -> int:
    stale = []
    for name, cells in NOTEBOOKS.items():
        nb = notebook(cells)
        nbformat.validate(nb)
        text = nbformat.writes(nb) + "\n"
        path = HERE / name
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    for name in stale:
        print(f"{name} is out of date: run python notebooks/_build.py")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
