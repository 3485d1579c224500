"""Simulation app: process parameters -> Monte Carlo fan chart (P5-P50-P95) per variable."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from circman_kernel.apps._figures import COLORS, axis_title, make_figure, variable_label
from circman_kernel.apps._ui import AppView, KPICard, kpi_row, open_store
from circman_kernel.core.errors import ParameterError

__all__ = ["fan_traces", "simulation_app"]

PLOTTED = (
    "production_line.temperature",
    "production_line.energy_consumption",
    "production_line.production_rate",
    "production_line.efficiency",
    "production_line.defect_rate",
    "materials.silicon_wafer.inventory",
    "materials.solar_glass.inventory",
    "output_modules",
    "energy_kwh",
)


def fan_traces(pct: Any, variable: str, step_h: float) -> list[go.Scatter]:
    """Return the P5-P95 band and the P50 line of ``variable`` from ``percentiles()`` rows."""
    rows = pct[pct["variable"] == variable].sort_values("step")
    if rows.empty:
        raise ParameterError(f"no variable {variable!r} in the simulation result", name="variable")
    t = rows["step"].to_numpy() * step_h
    return [
        go.Scatter(x=t, y=rows["p95"].to_numpy(), name="P95", line={"width": 0}, showlegend=False),
        go.Scatter(
            x=t,
            y=rows["p5"].to_numpy(),
            name="P5-P95",
            fill="tonexty",
            fillcolor=COLORS["band"],
            line={"width": 0},
        ),
        go.Scatter(x=t, y=rows["p50"].to_numpy(), name="P50", line={"color": COLORS["primary"]}),
    ]


def simulation_app(
    config: Any = None, *, store: Any = None, seed: int = 42, background: bool = True
) -> AppView:
    """Return the Monte Carlo simulation app.

    Changing a parameter re-runs the Monte Carlo simulation (on a worker thread, with a
    progress bar) and redraws the fan chart of the selected variable; "Save run" stores it.
    """
    from circman_kernel.core.config import load_config
    from circman_kernel.simulation.engine import SimulationEngine

    config = config if config is not None else load_config()
    engine = SimulationEngine(config)
    defaults = engine.default_parameters()
    app = AppView(
        "Simulation",
        "Monte Carlo simulation of the line: the P5-P95 band and median of each variable.",
        background=background,
    )
    style = {"description_width": "170px"}
    lay = widgets.Layout(width="420px")
    c = {
        "target_temperature": widgets.FloatSlider(
            value=defaults["target_temperature"],
            min=15,
            max=35,
            step=0.5,
            description="Target temp. [degC]",
            style=style,
            layout=lay,
        ),
        "cycle_time": widgets.FloatSlider(
            value=defaults["cycle_time"],
            min=15,
            max=60,
            step=1,
            description="Cycle time [s/module]",
            style=style,
            layout=lay,
        ),
        "temperature_regulation": widgets.FloatSlider(
            value=defaults["temperature_regulation"],
            min=0.0,
            max=1.0,
            step=0.05,
            description="Regulation [1/step]",
            style=style,
            layout=lay,
        ),
        "steps": widgets.IntSlider(
            value=24, min=2, max=168, description="Horizon [steps]", style=style, layout=lay
        ),
        "iterations": widgets.IntSlider(
            value=200,
            min=20,
            max=2000,
            step=20,
            description="Iterations [-]",
            style=style,
            layout=lay,
        ),
        "uncertainty": widgets.FloatSlider(
            value=0.1,
            min=0.0,
            max=0.5,
            step=0.01,
            description="Uncertainty [-]",
            style=style,
            layout=lay,
        ),
        "seed": widgets.IntText(value=seed, description="Seed", style=style, layout=lay),
        "variable": widgets.Dropdown(
            options=[(variable_label(v)[0] + f" [{variable_label(v)[1]}]", v) for v in PLOTTED],
            value="production_line.temperature",
            description="Variable",
            style=style,
            layout=lay,
        ),
    }
    for w in c.values():
        if hasattr(w, "continuous_update"):
            w.continuous_update = False
    save = widgets.Button(description="Save run", button_style="primary")
    c["save"] = save
    app.controls.update(c)
    app.kpis.update(
        output=KPICard("Output (P50)", "modules", fmt="{:,.0f}"),
        energy=KPICard("Energy per module (P50)", "kWh/module", fmt="{:,.2f}"),
        defects=KPICard("Defect rate (P50)", "%"),
        efficiency=KPICard("Mean efficiency (P50)", "%", fmt="{:,.1f}"),
    )
    step_h = float(defaults["step_duration"])

    def compute() -> Any:
        if c["seed"].value is None or c["seed"].value < 0:
            raise ParameterError("seed must be a whole number >= 0", name="seed")
        params = {
            k: float(c[k].value)
            for k in ("target_temperature", "cycle_time", "temperature_regulation")
        }
        return engine.run_monte_carlo_simulation(
            steps=int(c["steps"].value),
            parameters=params,
            iterations=int(c["iterations"].value),
            uncertainty=float(c["uncertainty"].value),
            seed=int(c["seed"].value),
        )

    def show_kpis(mc: Any) -> None:
        k = mc.kpis()
        lo, mid, hi = (k.quantile(q) for q in (0.05, 0.5, 0.95))
        app.kpis["output"].set(
            mid["output_modules"], f"P5-P95 {lo['output_modules']:,.0f}-{hi['output_modules']:,.0f}"
        )
        app.kpis["energy"].set(mid["energy_per_module_kwh"])
        app.kpis["defects"].set(100 * mid["defect_rate"])
        app.kpis["efficiency"].set(100 * mid["mean_efficiency"])

    def draw(mc: Any) -> None:
        app.result = mc
        pct = mc.percentiles()
        var = c["variable"].value
        traces = fan_traces(pct, var, step_h)
        label, unit = variable_label(var)
        with fig.batch_update():
            for i, tr in enumerate(traces):
                fig.data[i].x, fig.data[i].y = tr.x, tr.y
            fig.layout.yaxis.title.text = axis_title(label, unit)
        show_kpis(mc)
        app.notice.show(
            f"{mc.iterations} iterations x {mc.steps} steps, uncertainty {mc.uncertainty:g}, "
            f"seed {c['seed'].value}."
        )

    def rerun(*_: Any) -> None:
        app.run(compute, draw, text="Running Monte Carlo…")

    def redraw(*_: Any) -> None:
        if getattr(app, "result", None) is not None:
            draw(app.result)

    def save_run(*_: Any) -> None:
        mc = getattr(app, "result", None)
        if mc is None:
            raise ParameterError("run a simulation first")
        s = open_store(store)
        params = {
            k: float(c[k].value)
            for k in ("target_temperature", "cycle_time", "temperature_regulation")
        }
        k = mc.kpis().median()
        run_id = s.save_run(
            "monte_carlo",
            name=f"dashboard MC {c['target_temperature'].value:g} degC",
            parameters={**params, "iterations": mc.iterations, "uncertainty": mc.uncertainty},
            seed=int(c["seed"].value),
            config_hash=config.config_hash,
            kpis={key: float(v) for key, v in k.items() if np.isfinite(v)},
            trajectories=mc.to_frame(),
            tags=("dashboard",),
        )
        app.notice.ok(f"Saved as run {run_id[:8]}.")

    # The first result is drawn into the figure before it becomes a widget (preheat).
    first = compute()
    label, unit = variable_label("production_line.temperature")
    fig = make_figure(
        fan_traces(first.percentiles(), "production_line.temperature", step_h),
        x_title=axis_title("Time", "h"),
        y_title=axis_title(label, unit),
        title="Monte Carlo fan chart (P5-P50-P95)",
        height=420,
    )
    app.figures["fan"] = fig
    app.result = first
    show_kpis(first)

    for name in (
        "target_temperature",
        "cycle_time",
        "temperature_regulation",
        "steps",
        "iterations",
        "uncertainty",
        "seed",
    ):
        c[name].observe(app.safe(rerun), names="value")
    c["variable"].observe(app.safe(redraw), names="value")
    save.on_click(app.safe(save_run))
    controls = widgets.VBox(
        [
            c[k]
            for k in (
                "target_temperature",
                "cycle_time",
                "temperature_regulation",
                "steps",
                "iterations",
                "uncertainty",
                "seed",
                "variable",
            )
        ]
        + [app.access.gate(save, "run.save")]
    )
    app.layout_body(kpi_row(app.kpis.values()), widgets.HBox([controls, fig]))
    return app
