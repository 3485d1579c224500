"""Optimisation app: objective + constraints -> before/after, honesty check, Pareto front,
and the optimum applied to a what-if twin next to the baseline."""

from __future__ import annotations

import html
import math
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from circman_kernel.apps._figures import COLORS, axis_title, make_figure, set_traces
from circman_kernel.apps._ui import AppView, KPICard, kpi_row, labelled
from circman_kernel.core.errors import ParameterError

__all__ = ["OUTCOME_UNITS", "optimization_app"]

OUTCOME_UNITS = {
    "output_amount": ("Output", "modules/h"),
    "energy_used": ("Power", "kW"),
    "efficiency": ("Efficiency", "-"),
    "defect_rate": ("Defect rate", "-"),
}
OBJECTIVES = {
    "Maximise efficiency (quality floor)": "efficiency",
    "Maximise quality (power cap)": "quality",
    "Weighted (configured weights)": "weighted",
}


def _cumulative_output(result: Any, step_h: float) -> tuple[np.ndarray, np.ndarray]:
    frame = result.to_frame()
    rows = frame[frame["variable"] == "output_modules"].sort_values("step")
    return rows["step"].to_numpy() * step_h, rows["value"].to_numpy()


def optimization_app(
    config: Any = None, *, seed: int = 1, steps: int = 24, background: bool = True
) -> AppView:
    """Return the optimisation app (surrogate model, honesty check by the process model)."""
    from circman_kernel.ai.integration import AIIntegration
    from circman_kernel.ai.model import ManufacturingModel
    from circman_kernel.ai.optimize import ProcessOptimizer
    from circman_kernel.core.config import load_config
    from circman_kernel.twin.digital_twin import DigitalTwin

    config = config if config is not None else load_config()
    model = ManufacturingModel.default(config)
    optimizer = ProcessOptimizer(model, config, seed=seed)
    whatif = DigitalTwin(config, seed=seed, name="what-if")
    whatif.initialize()
    ai = AIIntegration(whatif, model=model, optimizer=optimizer)
    step_h = float(config.digital_twin.SIMULATION_PARAMETERS.step_duration)
    app = AppView(
        "Optimisation",
        "Optimise process settings on the surrogate, then check the gain on the physics model.",
        background=background,
    )
    app.ai = ai
    style = {"description_width": "170px"}
    lay = widgets.Layout(width="440px")
    c: dict[str, widgets.Widget] = {
        "objective": widgets.Dropdown(options=list(OBJECTIVES), description="Objective"),
        "min_quality": widgets.FloatSlider(
            value=0.9,
            min=0.5,
            max=0.999,
            step=0.001,
            readout_format=".3f",
            description="Min. quality [-]",
        ),  # fmt: skip
        "max_energy": widgets.FloatText(value=150.0, description="Max. power [kW]"),
        "temperature_range": widgets.FloatRangeSlider(
            value=(18.0, 27.0), min=10.0, max=40.0, step=0.5, description="Target temp. [degC]"
        ),
        "cycle_range": widgets.FloatRangeSlider(
            value=(20.0, 60.0), min=10.0, max=90.0, step=1.0, description="Cycle time [s/module]"
        ),
        "line_temperature": widgets.FloatText(value=22.5, description="Line now [degC]"),
    }
    for w in c.values():
        w.style = style
        w.layout = lay
        if hasattr(w, "continuous_update"):
            w.continuous_update = False
    go_btn = widgets.Button(description="Optimise", button_style="primary")
    apply_btn = widgets.Button(description="Apply to what-if twin", button_style="success")
    c.update(optimise=go_btn, apply=apply_btn)
    app.controls.update(c)
    honesty = widgets.HTML("")
    app.kpis.update(
        verdict=KPICard("Honesty check", ""),
        predicted=KPICard("Predicted gain", "objective units", fmt="{:+,.4f}"),
        simulated=KPICard("Simulated gain", "objective units", fmt="{:+,.4f}"),
        whatif=KPICard("What-if output vs baseline", "%", fmt="{:+,.1f}"),
    )

    def problem() -> dict[str, Any]:
        lt = c["line_temperature"].value
        if lt is None or not math.isfinite(lt):
            raise ParameterError("line temperature must be a number [degC]")
        start = {
            "target_temperature": float(np.mean(c["temperature_range"].value)),
            "temperature_regulation": 0.1,
            "cycle_time": float(np.mean(c["cycle_range"].value)),
        }
        constraints = {
            "target_temperature": tuple(c["temperature_range"].value),
            "cycle_time": tuple(c["cycle_range"].value),
        }
        objective = OBJECTIVES[c["objective"].value]
        extra: dict[str, tuple[float, float]] = {}
        if objective == "efficiency":
            extra["defect_rate"] = (-math.inf, 1.0 - float(c["min_quality"].value))
        elif objective == "quality":
            cap = c["max_energy"].value
            if cap is None or not cap > 0:
                raise ParameterError("max. power must be > 0 kW")
            extra["energy_used"] = (-math.inf, float(cap))
        fixed = {"temperature": float(lt), "energy_consumption": 120.5, "production_rate": 8.3}
        return {"objective": objective, "start": start, "constraints": constraints,
                "extra": extra, "fixed": fixed}  # fmt: skip

    def solve() -> tuple[Any, Any]:
        p = problem()
        result = optimizer.optimize_detailed(
            p["objective"], p["start"], p["constraints"], fixed=p["fixed"], extra=p["extra"]
        )
        front = optimizer.optimize_pareto(
            p["start"], p["constraints"], fixed=p["fixed"], population_size=40, generations=15
        )
        return result, front

    def before_after(result: Any) -> list[go.Bar]:
        names = list(OUTCOME_UNITS)
        labels = [f"{OUTCOME_UNITS[n][0]} [{OUTCOME_UNITS[n][1]}]" for n in names]
        h = result.honesty

        def rel(after: dict, before: dict) -> list[float]:
            return [
                100.0 * (after.get(n, np.nan) - before.get(n, np.nan)) / before.get(n, np.nan)
                if before.get(n) else 0.0
                for n in names
            ]  # fmt: skip

        bars = [
            go.Bar(
                name="predicted (surrogate)",
                x=labels,
                y=rel(result.predicted_after, result.predicted_before),
                marker_color=COLORS["primary"],
            )
        ]
        if h is not None:
            bars.append(
                go.Bar(
                    name="simulated (process model)",
                    x=labels,
                    y=rel(dict(h.simulated_after), dict(h.simulated_before)),
                    marker_color=COLORS["secondary"],
                )
            )
        return bars

    def pareto_trace(front: Any) -> go.Scatter:
        return go.Scatter(
            x=front["energy_kwh_per_module"].to_numpy(),
            y=front["output_amount"].to_numpy(),
            mode="markers",
            marker={
                "color": front["carbon_kg_per_module"].to_numpy(),
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": {"text": "kg CO2-eq/module"}},
            },
            name="Pareto front",
        )

    def show(res: tuple[Any, Any]) -> None:
        result, front = res
        app.result, app.front = result, front
        fb, fp = app.figures["before_after"], app.figures["pareto"]
        bars = before_after(result)
        set_traces(fb, bars)
        pt = pareto_trace(front)
        with fp.batch_update():
            fp.data[0].x, fp.data[0].y = pt.x, pt.y
            fp.data[0].marker.color = pt.marker.color
        app.kpis["verdict"].set(result.verdict)
        app.kpis["predicted"].set(result.predicted_improvement)
        app.kpis["simulated"].set(result.simulated_improvement)
        table = result.to_frame().set_index(["kind", "name"])
        flags = ", ".join(result.out_of_training_range) or "none"
        honesty.value = (
            f"<b>Verdict: {html.escape(result.verdict)}</b> (objective {html.escape(result.objective)})."
            f" Predicted gain {result.predicted_improvement:+.4g}, simulated "
            f"{result.simulated_improvement:+.4g}. Outside the training data: {html.escape(flags)}."
            + table.to_html(float_format=lambda v: f"{v:,.4g}", border=0)
        )
        app.notice.show(f"Optimum found; the process model says: {result.verdict}.")

    def on_optimise(*_: Any) -> None:
        app.run(solve, show, text="Optimising and checking on the process model…")

    def on_apply(*_: Any) -> None:
        result = getattr(app, "result", None)
        if result is None:
            raise ParameterError("optimise first")
        base = whatif.simulate(steps=steps)
        ai.apply_optimized_parameters(dict(result.params), simulation_steps=steps)
        t0, y0 = _cumulative_output(base, step_h)
        t1, y1 = _cumulative_output(ai.last_simulation_, step_h)
        fw = app.figures["whatif"]
        with fw.batch_update():
            fw.data[0].x, fw.data[0].y = t0, y0
            fw.data[1].x, fw.data[1].y = t1, y1
        if y0[-1]:
            app.kpis["whatif"].set(100.0 * (y1[-1] - y0[-1]) / y0[-1])
        app.notice.ok("Optimum applied to the what-if twin (the baseline twin is unchanged).")

    first = solve()
    app.figures["before_after"] = make_figure(
        before_after(first[0]),
        x_title=axis_title("Outcome", "unit as labelled"),
        y_title=axis_title("Change from the starting point", "%"),
        title="Before -> after: surrogate prediction vs process-model check",
        layout={"barmode": "group"},
    )
    app.figures["pareto"] = make_figure(
        [pareto_trace(first[1])],
        x_title=axis_title("Energy per module", "kWh/module"),
        y_title=axis_title("Output", "modules/h"),
        title="Pareto front (colour: carbon per module)",
    )
    app.figures["whatif"] = make_figure(
        [
            go.Scatter(x=[], y=[], name="baseline twin", line={"color": COLORS["neutral"]}),
            go.Scatter(x=[], y=[], name="what-if twin", line={"color": COLORS["good"]}),
        ],
        x_title=axis_title("Time", "h"),
        y_title=axis_title("Cumulative output", "modules"),
        title="What-if twin with the optimum vs baseline",
    )
    show(first)
    go_btn.on_click(app.safe(on_optimise))
    apply_btn.on_click(app.safe(on_apply))
    for key in ("objective", "min_quality", "max_energy", "temperature_range", "cycle_range",
                "line_temperature"):  # fmt: skip
        c[key].observe(app.safe(on_optimise), names="value")
    controls = widgets.VBox(
        [c[k] for k in ("objective", "min_quality", "max_energy", "temperature_range",
                        "cycle_range", "line_temperature")] + [widgets.HBox([go_btn, apply_btn])]
    )  # fmt: skip
    app.layout_body(
        kpi_row(app.kpis.values()),
        widgets.HBox([controls, labelled(honesty, "Honesty check")]),
        widgets.HBox([app.figures["before_after"], app.figures["pareto"]]),
        app.figures["whatif"],
    )
    return app
