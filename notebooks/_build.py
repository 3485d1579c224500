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


NOTEBOOKS: dict[str, list] = {
    "01_digital_twin.ipynb": nb01(),
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
