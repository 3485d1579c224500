"""The guided notebooks' words follow their numbers.

Notebooks 03, 04 and 05 are executed in a real kernel; the cells tagged ``narrative``
print text computed from the results. The tests work the same results out here, in this
process, and check that the printed verdicts, the unchanged scenario, the negative index
and the per-module score say what the numbers say, that no fixed prose contradicts them,
and that notebook 04's plotted Pareto front holds at least 10 mutually non-dominated
points on the plotted axes.
"""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient

from circman_kernel.teaching import narrative
from circman_kernel.teaching import solutions as teaching_solutions

NB_DIR = Path(__file__).resolve().parents[2] / "notebooks"

pytestmark = [pytest.mark.notebook, pytest.mark.slow, pytest.mark.xdist_group("jupyter-kernels")]


def _run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    nb = nbformat.read(NB_DIR / name, as_version=4)
    monkeypatch.setenv("CIRCMAN_DB", str(tmp_path / "nb.duckdb"))
    monkeypatch.setenv("PLOTLY_RENDERER", "plotly_mimetype")
    work = tmp_path / "work"
    work.mkdir()
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": work}}
    ).execute()
    return nb


def _printed(nb: nbformat.NotebookNode, topic: str) -> str:
    (cell,) = [c for c in nb.cells if c.metadata.get("narrative") == topic]
    return "".join(o.text for o in cell.outputs if o.output_type == "stream")


def _array(value) -> np.ndarray:
    if isinstance(value, dict) and "bdata" in value:  # plotly's typed-array encoding
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value, dtype=float)


def _figure(cell: nbformat.NotebookNode) -> dict:
    for out in cell.outputs:
        if out.output_type in ("display_data", "execute_result"):
            fig = out.data.get("application/vnd.plotly.v1+json")
            if fig:
                return fig
    raise AssertionError("no plotly figure in the cell")


def _markdown(nb: nbformat.NotebookNode) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_notebook_04_verdicts_and_pareto_front(tmp_path: Path, monkeypatch) -> None:
    nb = _run("04_surrogate_optimisation.ipynb", tmp_path, monkeypatch)
    optimizer = teaching_solutions.lab_optimizer()
    settings, line = dict(teaching_solutions.DECISION), dict(teaching_solutions.LINE)
    result = optimizer.optimize_detailed("weighted", settings, fixed=line)
    ramping = optimizer.optimize_detailed(
        "weighted", settings, fixed={**line, "production_rate": 6.0}
    )
    verdict = _printed(nb, "verdict")
    assert f"verdict: {result.verdict} (" in verdict
    assert f"Verdict: {result.verdict}." in verdict
    assert narrative.honesty_story(result) in verdict
    second = _printed(nb, "ramping")
    assert f"Verdict: {ramping.verdict}." in second
    assert narrative.honesty_story(ramping, before=result) in second
    if result.honesty.reproduced != ramping.honesty.reproduced:
        assert "Unlike the first optimum" in second
    # no fixed prose claims a verdict of its own
    text = _markdown(nb).lower()
    for claim in ("also says no", "also says yes", "says no.", "the honesty check agrees"):
        assert claim not in text
    # the objective bars have a y-axis title
    bars = next(c for c in nb.cells if "surrogate versus physics" in c.source)
    assert _figure(bars)["layout"]["yaxis"]["title"]["text"]
    # the plotted front: >= 10 mutually non-dominated points on the plotted axes
    plot = next(c for c in nb.cells if "Pareto front: good modules" in c.source)
    fig = _figure(plot)
    (trace,) = fig["data"]
    plotted = pd.DataFrame({"carbon": _array(trace["x"]), "good": _array(trace["y"])})
    assert fig["layout"]["xaxis"]["title"]["text"] and fig["layout"]["yaxis"]["title"]["text"]
    mask = narrative.non_dominated(plotted, maximise="good", minimise="carbon")
    points = plotted[mask].drop_duplicates()
    assert len(points) >= 10, len(points)
    # and it is a trade-off: more good modules cost more carbon along the front
    assert np.corrcoef(points["good"], points["carbon"])[0, 1] > 0.9
    assert points["good"].max() / points["good"].min() > 2
    story = _printed(nb, "pareto")
    front = teaching_solutions.lab_front()
    assert (
        narrative.pareto_story(front, good="good_modules", carbon="carbon_kg", lever="cycle_time")
        in story
    )
    assert story.startswith(f"{len(points)} settings are mutually non-dominated")


def test_notebook_03_explains_the_unchanged_scenario_and_the_negative_index(
    tmp_path: Path, monkeypatch
) -> None:
    nb = _run("03_scenarios_sweeps.ipynb", tmp_path, monkeypatch)
    from circman_kernel.simulation.scenarios import ScenarioManager

    manager = ScenarioManager()
    for name, params in teaching_solutions.SCENARIOS.items():
        manager.create_scenario(name, dict(params))
    table = manager.compare_scenarios(list(teaching_solutions.SCENARIOS), steps=48, seed=0)
    unchanged = [
        n for n in table.index if n != "baseline" and (table.filter(like="_pct").loc[n] == 0).all()
    ]
    assert unchanged == ["cooler line"]  # the surprise the text must explain
    story = _printed(nb, "scenarios")
    assert "'cooler line' changes nothing" in story and "band" in story
    sensitivity = _printed(nb, "sensitivity")
    from circman_kernel.simulation.sensitivity import analyse
    from circman_kernel.simulation.sweeps import evaluate, sample

    experiments = sample(dict(teaching_solutions.SWEEP_SPACE), 256, method="lhs", seed=1)
    ranking = analyse(experiments, evaluate(experiments, steps=48, seed=2), "energy_per_module_kwh")
    negative = ranking.index[ranking["S1"] < 0].tolist()
    assert negative, "the example has a negative S1 to explain"
    for name in negative:
        assert name in sensitivity
    assert "cannot be negative" in sensitivity


def test_notebook_05_says_what_impact_per_module_leaves_out(tmp_path: Path, monkeypatch) -> None:
    nb = _run("05_life_cycle_assessment.ipynb", tmp_path, monkeypatch)
    impact = teaching_solutions._lab_lca()
    story = _printed(nb, "functional units")
    assert f"{impact.impact_per_module:,.2f}" in story and "leaves the use phase" in story
    assert f"{impact.net_impact:,.0f}" in story
    waterfall = next(c for c in nb.cells if "go.Waterfall" in c.source)
    fig = _figure(waterfall)
    assert fig["layout"]["yaxis"]["title"]["text"] == "kg CO2-eq"
    # the waterfall's last bar is the net total the story names
    assert fig["data"][0]["x"][-1] == "net total"
