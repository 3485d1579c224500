"""Scenario discovery app: which inputs lead to a KPI past a threshold (PRIM over a sweep).

The app sweeps the line once (a Latin hypercube over three inputs, every point a column of
one vectorised 200-step run). A viewer picks a KPI and a threshold; PRIM
(:func:`~circman_kernel.ai.discovery.discover`) then draws its peeling trajectory as the
trade-off of coverage against density, the chosen box on a pairs plot of the inputs and
the box's limits as a table. Any box on the trajectory can be inspected with the slider.
Each discovery is stored as a run (kind ``sweep``, tag ``discovery``) for the run explorer.
"""

from __future__ import annotations

import html
import itertools
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from circman_kernel.apps._figures import (
    SERIES,
    axis_title,
    figure_widget,
    make_figure,
    set_traces,
    variable_label,
)
from circman_kernel.apps._ui import AppView, KPICard, kpi_row, labelled, open_store

__all__ = ["SPACE", "discovery_app"]

#: The swept inputs: name -> (low, high, label, unit).
SPACE = {
    "target_temperature": (16.0, 36.0, "Target temperature", "degC"),
    "base_defect_rate": (0.005, 0.03, "Base defect rate", "-"),
    "temperature_regulation": (0.05, 0.5, "Temperature regulation", "1/step"),
}
#: KPI -> the side of its threshold that is of interest (too many defects, too little output).
SHOWN_KPIS = {"defect_rate": ">", "energy_per_module_kwh": ">", "output_modules": "<",
              "mean_efficiency": "<"}  # fmt: skip
OPERATORS = (">", "<")


def _label(kpi: str) -> str:
    label, unit = variable_label(kpi)
    return f"{label} [{unit}]"


def discovery_app(
    config: Any = None,
    *,
    store: Any = None,
    points: int = 1024,
    steps: int = 200,
    seed: int = 0,
    background: bool = True,
) -> AppView:
    """Return the discovery app over a ``points``-point sweep of ``steps``-step runs."""
    from circman_kernel.ai.discovery import discover
    from circman_kernel.simulation.engine import SimulationEngine
    from circman_kernel.simulation.sweeps import evaluate, sample

    engine = SimulationEngine(config)
    experiments = sample({k: v[:2] for k, v in SPACE.items()}, points, method="lhs", seed=seed)
    outcomes = evaluate(experiments, config=engine, steps=steps, seed=seed + 1)
    app = AppView(
        "Scenario discovery",
        "Which process settings and conditions push a KPI past a threshold? PRIM over a sweep.",
        background=background,
    )
    app.experiments, app.outcomes, app.found = experiments, outcomes, None
    style = {"description_width": "110px"}
    kpi = widgets.Dropdown(
        options=[(_label(k), k) for k in SHOWN_KPIS], description="KPI", style=style
    )
    op = widgets.Dropdown(options=OPERATORS, value=">", description="Condition", style=style)
    threshold = widgets.BoundedFloatText(value=0.0, min=-1e12, max=1e12, step=0.001,
                                         description="Threshold", style=style)  # fmt: skip
    box = widgets.IntSlider(value=0, min=0, max=1, description="Box on trajectory",
                            style={"description_width": "130px"}, continuous_update=False)  # fmt: skip
    table = widgets.HTML("")
    app.limits_table = table
    app.controls.update(kpi=kpi, op=op, threshold=threshold, box=box)
    app.kpis.update(
        interest=KPICard("Cases of interest", "", fmt="{:,.0f}"),
        coverage=KPICard("Coverage", "", fmt="{:.2f}"),
        density=KPICard("Density", "", fmt="{:.2f}"),
        mass=KPICard("Mass", "", fmt="{:.2f}"),
    )
    names = list(SPACE)
    pairs = list(itertools.combinations(names, 2))
    state = {"quiet": False}

    def default_threshold(k: str) -> float:
        """The 10 % tail on the side of interest: P90 for "more is bad", P10 otherwise."""
        y = np.asarray(outcomes[k], dtype=float)
        return float(np.round(np.nanpercentile(y, 90 if SHOWN_KPIS[k] == ">" else 10), 6))

    def find() -> Any:
        condition = f"{kpi.value} {op.value} {threshold.value!r}"
        target = open_store(store)
        # a viewer may explore (a what-if); only roles that may save runs store the result
        keep = target if app.access.allows("run.save") else None
        return discover(experiments, outcomes, condition, store=keep)

    def trade_off_traces(found: Any) -> list[go.Scatter]:
        t = found.trajectory
        return [
            go.Scatter(x=t["coverage"], y=t["density"], mode="lines+markers", name="peeling trajectory",
                       marker={"color": t["res_dim"], "colorscale": "Viridis", "size": 7,
                               "colorbar": {"title": "inputs<br>restricted", "len": 0.8}},
                       text=[f"box {i}" for i in t.index], line={"color": "#bbb"}),
            go.Scatter(x=[t.loc[box.value, "coverage"]], y=[t.loc[box.value, "density"]], mode="markers",
                       name=f"box {box.value}", marker={"size": 16, "color": SERIES[1], "symbol": "star"}),
        ]  # fmt: skip

    def pair_traces(found: Any) -> list[go.Scattergl]:
        cases = found.cases
        out = []
        for j, (a, b) in enumerate(pairs, start=1):
            for mask, name, colour in (
                (~cases, "other", "#c8c8c8"),
                (cases, "of interest", SERIES[3]),
            ):
                out.append(go.Scattergl(x=experiments[a][mask], y=experiments[b][mask], mode="markers",
                                        name=name, legendgroup=name, showlegend=j == 1,
                                        marker={"size": 4, "color": colour},
                                        xaxis=f"x{j}", yaxis=f"y{j}"))  # fmt: skip
        return out

    def box_shapes(found: Any) -> list[dict[str, Any]]:
        lim = found.limits(box.value)
        shapes = []
        for j, (a, b) in enumerate(pairs, start=1):
            x0, x1 = (lim.loc[a, "min"], lim.loc[a, "max"]) if a in lim.index else SPACE[a][:2]
            y0, y1 = (lim.loc[b, "min"], lim.loc[b, "max"]) if b in lim.index else SPACE[b][:2]
            shapes.append({"type": "rect", "xref": f"x{j}", "yref": f"y{j}", "x0": x0, "x1": x1,
                           "y0": y0, "y1": y1, "line": {"color": SERIES[1], "width": 2}})  # fmt: skip
        return shapes

    def limits_html(found: Any) -> str:
        lim = found.limits(box.value)
        if lim.empty:
            return "<p>No input restricted in this box.</p>"
        rows = "".join(
            f"<tr><td>{html.escape(SPACE[n][2])} [{SPACE[n][3]}]</td><td>{r['min']:.4g}</td>"
            f"<td>{r['max']:.4g}</td><td>{np.nanmin([r['qp_lower'], r['qp_upper']]):.2g}</td>"
            f"<td>{'yes' if r['significant'] else 'no'}</td></tr>"
            for n, r in lim.iterrows()
        )
        return ("<table class='cm-limits'><tr><th>Input</th><th>min</th><th>max</th>"
                f"<th>quasi-p</th><th>significant</th></tr>{rows}</table>")  # fmt: skip

    def show_box() -> None:
        found = app.found
        stats = found.trajectory.loc[box.value]
        set_traces(app.figures["trade_off"], trade_off_traces(found))
        app.figures["pairs"].layout.shapes = box_shapes(found)
        for key in ("coverage", "density", "mass"):
            app.kpis[key].set(float(stats[key]))
        table.value = limits_html(found)

    def draw(found: Any) -> None:
        app.found = found
        state["quiet"] = True
        try:
            box.max = len(found.trajectory) - 1
            box.value = found.chosen
        finally:
            state["quiet"] = False
        set_traces(app.figures["pairs"], pair_traces(found))
        show_box()
        app.kpis["interest"].set(int(found.cases.sum()))
        saved = f" Stored as run {found.run_id[:8]}." if found.run_id else ""
        app.notice.ok(f"{found.condition}: box {found.chosen} of "
                      f"{len(found.trajectory)} on the trajectory.{saved}")  # fmt: skip

    def on_condition(*_: Any) -> None:
        if not state["quiet"]:
            app.run(find, draw, text="Finding the box (PRIM)…")

    def on_kpi(*_: Any) -> None:
        state["quiet"] = True
        try:
            op.value = SHOWN_KPIS[kpi.value]
            threshold.value = default_threshold(kpi.value)
        finally:
            state["quiet"] = False
        on_condition()

    def on_box(*_: Any) -> None:
        if not state["quiet"] and app.found is not None:
            show_box()

    app.figures["trade_off"] = make_figure(
        [go.Scatter(x=[], y=[], mode="lines+markers"), go.Scatter(x=[], y=[], mode="markers")],
        x_title=axis_title("Coverage", "-"), y_title=axis_title("Density", "-"),
        title="Peeling trajectory: coverage against density", height=340,
    )  # fmt: skip
    app.figures["pairs"] = _pairs_figure(pairs)
    kpi.observe(app.safe(on_kpi), names="value")
    op.observe(app.safe(on_condition), names="value")
    threshold.observe(app.safe(on_condition), names="value")
    box.observe(app.safe(on_box), names="value")
    app.layout_body(
        kpi_row(app.kpis.values()),
        labelled(widgets.HBox([kpi, op, threshold]), "Cases of interest"),
        widgets.HBox([app.figures["trade_off"], widgets.VBox([box, table])]),
        app.figures["pairs"],
    )
    on_kpi()
    return app


def _pairs_figure(pairs: list[tuple[str, str]]) -> Any:
    """A one-row pairs plot of the swept inputs (one panel per pair), axes titled with units."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(pairs), horizontal_spacing=0.08)
    for j, (a, b) in enumerate(pairs, start=1):
        fig.add_trace(go.Scattergl(x=[], y=[], mode="markers", showlegend=False), row=1, col=j)
        fig.update_xaxes(
            title_text=axis_title(*SPACE[a][2:]), range=list(SPACE[a][:2]), row=1, col=j
        )
        fig.update_yaxes(
            title_text=axis_title(*SPACE[b][2:]), range=list(SPACE[b][:2]), row=1, col=j
        )
    fig.update_layout(title={"text": "The box on the inputs (pairs)", "x": 0.01, "font": {"size": 14}},
                      height=360, template="plotly_white", margin={"l": 60, "r": 20, "t": 40, "b": 50},
                      legend={"orientation": "h", "y": -0.3}, font={"family": "sans-serif", "size": 12})  # fmt: skip
    return figure_widget(fig)
