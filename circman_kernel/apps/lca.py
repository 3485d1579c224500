"""LCA app: life-cycle phases as a waterfall, profile and grid region, uncertainty band."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from circman_kernel.apps._figures import COLORS, axis_title, make_figure
from circman_kernel.apps._ui import AppView, KPICard, kpi_row
from circman_kernel.core.errors import ParameterError

__all__ = ["PHASE_LABELS", "UNITS", "lca_app"]

PHASE_LABELS = {
    "manufacturing_impact": "Manufacturing",
    "use_phase_impact": "Use phase",
    "end_of_life_impact": "End of life",
    "recycling_benefit": "Recycling benefit",
}
# The waterfall: the manual's total (16.3.3) of the first three phases, then the recycling
# credit beside it (EN 15804 module D) and the net with it.
_BARS = {
    "manufacturing_impact": "Manufacturing",
    "use_phase_impact": "Use phase",
    "end_of_life_impact": "End of life",
    "total_impact": "Total",
    "recycling_benefit": "Recycling benefit (module D)",
    "net_impact": "Net with recycling",
}
_MEASURES = {"total_impact": "total", "net_impact": "total"}
# functional unit -> (label, attribute of LifeCycleImpact giving the divisor)
UNITS = {
    "per module": ("kg CO2-eq/module", "n_modules"),
    "per kWp": ("kg CO2-eq/kWp", "capacity_kwp"),
    "per kWh": ("kg CO2-eq/kWh", "total_generation_kwh"),
}


def _profiles(config_dir: Any) -> list[str]:
    from circman_kernel.core.paths import default_config_dir

    base = config_dir or default_config_dir()
    folder = base / "impact_profiles" if base else None
    names = sorted(p.stem for p in folder.glob("*.json")) if folder and folder.is_dir() else []
    return ["default", *names]


def lca_app(
    config: Any = None, *, samples: int = 2000, seed: int = 1, background: bool = True
) -> AppView:
    """Return the LCA app for one module (functional units: module, kWp, kWh)."""
    from circman_kernel.core.config import load_config
    from circman_kernel.lca.analyzer import LCAAnalyzer

    config = config if config is not None else load_config()
    regions = list(config.impact_factors.GRID_CARBON_INTENSITIES)
    app = AppView(
        "Life-cycle assessment",
        "Carbon footprint of a PV module by life-cycle phase, with factor uncertainty.",
        background=background,
    )
    style = {"description_width": "170px"}
    lay = widgets.Layout(width="400px")
    c: dict[str, widgets.Widget] = {
        "profile": widgets.Dropdown(options=_profiles(None), description="Impact profile"),
        "region": widgets.Dropdown(
            options=regions,
            value="EU_average" if "EU_average" in regions else regions[0],
            description="Grid region",
        ),  # fmt: skip
        "unit": widgets.ToggleButtons(options=list(UNITS), value="per kWp"),
        "silicon_wafer": widgets.FloatText(value=2.0, description="Silicon wafer [kg]"),
        "solar_glass": widgets.FloatText(value=10.0, description="Solar glass [kg]"),
        "energy": widgets.FloatText(value=10.0, description="Mfg. energy [kWh]"),
        "lifetime": widgets.IntSlider(value=25, min=5, max=40, description="Lifetime [years]"),
        "generation": widgets.FloatText(value=400.0, description="Yield [kWh/year]"),
        "recycling": widgets.FloatSlider(
            value=0.7, min=0.0, max=1.0, step=0.05, description="Recycling rate [-]"
        ),
        "transport": widgets.FloatText(value=100.0, description="Transport [km]"),
    }
    for w in c.values():
        if not isinstance(w, widgets.ToggleButtons):
            w.style = style
            w.layout = lay
        if hasattr(w, "continuous_update"):
            w.continuous_update = False
    app.controls.update(c)
    app.kpis.update(
        total=KPICard("Life-cycle total (with grid credit)", "kg CO2-eq/module", fmt="{:,.1f}"),
        net=KPICard("Net with recycling (module D)", "kg CO2-eq/module", fmt="{:,.1f}"),
        per_kwp=KPICard("Embodied per kWp", "kg CO2-eq/kWp", fmt="{:,.1f}"),
        per_kwh=KPICard("Footprint per kWh (no grid credit)", "g CO2-eq/kWh", fmt="{:,.1f}"),
        payback=KPICard("Carbon payback", "years", fmt="{:,.1f}"),
    )

    def assess() -> tuple[Any, Any]:
        for key in ("silicon_wafer", "solar_glass", "energy", "generation", "transport"):
            v = c[key].value
            if v is None or not np.isfinite(v) or v < 0:
                raise ParameterError(f"{c[key].description} must be a number >= 0", name=key)
        if c["generation"].value == 0:
            raise ParameterError("Yield must be > 0 kWh/year to express impact per kWh")
        an = LCAAnalyzer(None if c["profile"].value == "default" else c["profile"].value,
                         config=config)  # fmt: skip
        rate = float(c["recycling"].value)
        args = (
            {"silicon_wafer": float(c["silicon_wafer"].value),
             "solar_glass": float(c["solar_glass"].value)},
            float(c["energy"].value), int(c["lifetime"].value), float(c["generation"].value),
            c["region"].value, {"silicon_wafer": rate, "solar_glass": rate},
            float(c["transport"].value),
        )  # fmt: skip
        impact = an.perform_full_lca(*args, n_modules=1)
        unc = an.monte_carlo(*args, samples=int(samples), seed=seed, n_modules=1)
        return impact, unc

    def traces(impact: Any, unc: Any) -> tuple[list[Any], list[Any], str]:
        label, attr = UNITS[c["unit"].value]
        div = float(getattr(impact, attr))
        values = [getattr(impact, p) / div for p in _BARS]
        waterfall = go.Waterfall(
            x=list(_BARS.values()),
            y=values,
            measure=[_MEASURES.get(p, "relative") for p in _BARS],
            increasing={"marker": {"color": COLORS["bad"]}},
            decreasing={"marker": {"color": COLORS["good"]}},
            totals={"marker": {"color": COLORS["primary"]}},
            name="deterministic",
        )
        pct = unc.percentiles().loc[list(_BARS)] / div
        band = go.Bar(
            x=list(_BARS.values()),
            y=pct["p50"].to_numpy(),
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (pct["p95"] - pct["p50"]).to_numpy(),
                "arrayminus": (pct["p50"] - pct["p5"]).to_numpy(),
            },
            marker_color=COLORS["sky"],
            name="P50 with P5-P95",
        )
        return [waterfall], [band], label

    def kpis(impact: Any) -> None:
        app.kpis["total"].set(impact.total_impact)
        app.kpis["net"].set(impact.net_impact)
        app.kpis["per_kwp"].set(impact.impact_per_kwp)
        app.kpis["per_kwh"].set(1000.0 * impact.impact_per_kwh)
        payback = impact.carbon_payback_time_years
        app.kpis["payback"].set(payback if payback is not None and np.isfinite(payback) else "n/a")

    def draw(result: tuple[Any, Any]) -> None:
        impact, unc = result
        app.result = result
        (wf,), (band,), label = traces(impact, unc)
        fw, fb = app.figures["waterfall"], app.figures["uncertainty"]
        with fw.batch_update():
            fw.data[0].x, fw.data[0].y = wf.x, wf.y
            fw.layout.yaxis.title.text = axis_title("Impact", label)
        with fb.batch_update():
            fb.data[0].y, fb.data[0].error_y = band.y, band.error_y
            fb.layout.yaxis.title.text = axis_title("Impact", label)
        kpis(impact)
        app.notice.show(
            f"Profile {c['profile'].value}, grid {c['region'].value} "
            f"({impact.grid_carbon_intensity:g} kg CO2-eq/kWh), {samples} Monte Carlo samples."
        )

    def rerun(*_: Any) -> None:
        app.run(assess, draw, text="Assessing…")

    def redraw(*_: Any) -> None:
        if getattr(app, "result", None) is not None:
            draw(app.result)

    first = assess()
    app.result = first
    wf, band, label = traces(*first)
    app.figures["waterfall"] = make_figure(
        wf, x_title=axis_title("Life-cycle phase", "-"), y_title=axis_title("Impact", label),
        title="Impact by phase (waterfall)", height=380,
    )  # fmt: skip
    app.figures["uncertainty"] = make_figure(
        band, x_title=axis_title("Life-cycle phase", "-"), y_title=axis_title("Impact", label),
        title="Uncertainty from impact factors (P5-P50-P95)", height=380,
    )  # fmt: skip
    kpis(first[0])
    for key, w in c.items():
        w.observe(app.safe(redraw if key == "unit" else rerun), names="value")
    inputs = widgets.VBox([c[k] for k in c if k != "unit"])
    app.layout_body(
        kpi_row(app.kpis.values()),
        widgets.HBox([inputs, widgets.VBox([c["unit"], app.figures["waterfall"]])]),
        app.figures["uncertainty"],
    )
    return app
