"""What-if app: define scenarios, run them, compare each against the baseline side by side."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from circman_kernel.apps._figures import SERIES, axis_title, make_figure, set_traces, variable_label
from circman_kernel.apps._ui import AppView, KPICard, kpi_row, labelled
from circman_kernel.core.errors import ParameterError

__all__ = ["SAMPLE_SCENARIOS", "scenarios_app"]

BASELINE = "baseline"
SAMPLE_SCENARIOS = (
    ("warmer line", {"target_temperature": 30.0}, "Line held at 30 degC"),
    ("faster cycle", {"cycle_time": 25.0}, "Cycle time cut to 25 s/module"),
)
SHOWN_KPIS = ("output_modules", "energy_per_module_kwh", "defect_rate", "mean_efficiency")


def scenarios_app(
    config: Any = None, *, steps: int = 24, seed: int = 0, background: bool = True
) -> AppView:
    """Return the what-if app: a baseline plus scenarios kept for this page view.

    Scenarios live in the session (published viewers may run what-ifs, never overwrite
    stored scenarios). Comparisons use common random numbers, so differences come from
    the parameters, not the noise.
    """
    from circman_kernel.core.config import load_config
    from circman_kernel.simulation.scenarios import ScenarioManager

    config = config if config is not None else load_config()
    manager = ScenarioManager(config)
    manager.create_scenario(BASELINE, {}, "Configured parameters")
    for name, params, text in SAMPLE_SCENARIOS:
        manager.create_scenario(name, params, text)
    defaults = manager.engine.default_parameters()
    app = AppView(
        "What-if scenarios",
        "Define what-if scenarios and compare each against the baseline, side by side.",
        background=background,
    )
    app.manager = manager
    style = {"description_width": "150px"}
    name = widgets.Text(placeholder="e.g. cooler line", description="Scenario name", style=style)
    target = widgets.FloatSlider(
        value=defaults["target_temperature"], min=15, max=35, step=0.5,
        description="Target temp. [degC]", style=style, continuous_update=False,
    )  # fmt: skip
    cycle = widgets.FloatSlider(
        value=defaults["cycle_time"], min=15, max=60, step=1,
        description="Cycle time [s/module]", style=style, continuous_update=False,
    )  # fmt: skip
    add = widgets.Button(description="Add scenario", button_style="primary")
    chosen = widgets.SelectMultiple(rows=6, description="Compare", style=style)
    horizon = widgets.IntSlider(
        value=steps, min=1, max=168, description="Horizon [steps]", style=style,
        continuous_update=False,
    )  # fmt: skip
    kpi = widgets.Dropdown(
        options=[(f"{variable_label(k)[0]} [{variable_label(k)[1]}]", k) for k in SHOWN_KPIS],
        description="KPI",
        style=style,
    )
    run = widgets.Button(description="Run comparison", button_style="success")
    table = widgets.HTML("")
    app.controls.update(
        name=name, target_temperature=target, cycle_time=cycle, add=add, chosen=chosen,
        steps=horizon, kpi=kpi, run=run,
    )  # fmt: skip
    app.kpis.update(
        scenarios=KPICard("Scenarios defined", "", fmt="{:,.0f}"),
        best=KPICard("Most output vs baseline", ""),
        change=KPICard("Its output change", "%", fmt="{:+,.1f}"),
    )

    def names() -> list[str]:
        return list(manager.list_scenarios()["name"])

    def sync_list(select: list[str] | None = None) -> None:
        all_names = names()
        chosen.options = all_names
        chosen.value = tuple(n for n in (select or all_names) if n in all_names)
        app.kpis["scenarios"].set(len(all_names))

    def compare() -> Any:
        picked = list(chosen.value)
        if not picked:
            raise ParameterError("select at least one scenario to compare with the baseline")
        ordered = [BASELINE] + [n for n in picked if n != BASELINE]
        return manager.compare_scenarios(ordered, BASELINE, steps=int(horizon.value), seed=seed)

    def traces(frame: Any) -> tuple[list[go.Bar], list[go.Bar]]:
        labels = [f"{variable_label(k)[0]} [{variable_label(k)[1]}]" for k in SHOWN_KPIS]
        diff = [
            go.Bar(
                name=sc,
                x=labels,
                y=np.nan_to_num([frame.loc[sc, f"{k}_pct"] for k in SHOWN_KPIS]),
                marker_color=SERIES[i % len(SERIES)],
            )
            for i, sc in enumerate(frame.index)
        ]
        k = kpi.value
        absolute = [
            go.Bar(
                x=list(frame.index),
                y=frame[k].to_numpy(),
                marker_color=[SERIES[i % len(SERIES)] for i in range(len(frame))],
                name=variable_label(k)[0],
            )
        ]
        return diff, absolute

    def draw(frame: Any) -> None:
        app.comparison = frame
        diff, absolute = traces(frame)
        fd, fa = app.figures["diff"], app.figures["absolute"]
        set_traces(fd, diff)
        label, unit = variable_label(kpi.value)
        with fa.batch_update():
            fa.data[0].x, fa.data[0].y = absolute[0].x, absolute[0].y
            fa.layout.yaxis.title.text = axis_title(label, unit)
        others = frame.drop(index=BASELINE)
        if len(others):
            best = others["output_modules"].idxmax()
            app.kpis["best"].set(best)
            app.kpis["change"].set(float(others.loc[best, "output_modules_pct"]))
        cols = [k for k in SHOWN_KPIS] + [f"{k}_pct" for k in SHOWN_KPIS]
        shown = frame[cols].rename(
            columns={
                **{k: f"{variable_label(k)[0]} [{variable_label(k)[1]}]" for k in SHOWN_KPIS},
                **{f"{k}_pct": f"{variable_label(k)[0]} vs baseline [%]" for k in SHOWN_KPIS},
            }
        )
        table.value = shown.T.to_html(float_format=lambda v: f"{v:,.4g}", border=0)
        app.notice.show(f"Compared {len(frame) - 1} scenario(s) with the baseline.")

    def on_run(*_: Any) -> None:
        app.run(compare, draw, text="Running scenarios…")

    def on_add(*_: Any) -> None:
        text = name.value.strip()
        if not text:
            raise ParameterError("give the scenario a name before adding it")
        manager.create_scenario(
            text,
            {"target_temperature": float(target.value), "cycle_time": float(cycle.value)},
            f"target {target.value:g} degC, cycle {cycle.value:g} s/module",
        )
        sync_list([*chosen.value, text])
        name.value = ""
        app.notice.ok(f"Added scenario {html.escape(text)!s}.")
        on_run()

    def on_kpi(*_: Any) -> None:
        if getattr(app, "comparison", None) is not None:
            draw(app.comparison)

    sync_list()
    first = compare()
    diff, absolute = traces(first)
    app.figures["diff"] = make_figure(
        diff,
        x_title=axis_title("KPI", "unit as labelled"),
        y_title=axis_title("Change vs baseline", "%"),
        title="Each scenario against the baseline",
        layout={"barmode": "group"},
    )
    label, unit = variable_label(kpi.value)
    app.figures["absolute"] = make_figure(
        absolute,
        x_title=axis_title("Scenario", "-"),
        y_title=axis_title(label, unit),
        title="Side by side",
    )
    draw(first)

    add.on_click(app.safe(on_add))
    run.on_click(app.safe(on_run))
    horizon.observe(app.safe(on_run), names="value")
    kpi.observe(app.safe(on_kpi), names="value")
    define = widgets.VBox([name, target, cycle, add])
    compare_box = widgets.VBox([chosen, horizon, run])
    app.layout_body(
        kpi_row(app.kpis.values()),
        widgets.HBox([labelled(define, "Define a scenario"), labelled(compare_box, "Compare")]),
        app.figures["diff"],
        kpi,
        widgets.HBox([app.figures["absolute"], table]),
    )
    return app
