"""The dashboards' figures: palette, axis labels and plotly ``FigureWidget`` helpers.

Holds the colour palette every app draws with (``COLORS``, ``SERIES``), the display names
and units of state variables and KPIs (``variable_label``, ``axis_title``),
``make_figure`` (a ``FigureWidget`` in the house style), ``figure_widget`` (the widget
class for the page: under ``circman dashboard`` one whose browser module loads plotly's
code once per page, ``_SHARED_ESM``) and ``set_traces`` (replacing a figure's traces in as
few updates as possible). The app shell and its widgets are in :mod:`circman_kernel.apps._ui`.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

import plotly.graph_objects as go

# plotly's FigureWidget imported from its module, not through the lazy
# ``plotly.graph_objects.FigureWidget``: in a Jupyter kernel the lazy path (whose import
# chain compiles jsonschema's IRI grammars with lark) measured 5.4 s for the simulation
# app's first build against 2.3 s this way.
from plotly.graph_objs._figurewidget import FigureWidget

from circman_kernel.apps import FIGURE_ESM_ENV
from circman_kernel.core.errors import ParameterError

# One palette for every app (colour-blind safe, Okabe-Ito).
COLORS: dict[str, str] = {
    "primary": "#0072B2",
    "secondary": "#E69F00",
    "good": "#009E73",
    "bad": "#D55E00",
    "neutral": "#7f7f7f",
    "accent": "#CC79A7",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
    "band": "rgba(0,114,178,0.18)",
    "band2": "rgba(230,159,0,0.18)",
    "title_bg": "#12355b",
}
SERIES = (
    COLORS["primary"],
    COLORS["secondary"],
    COLORS["good"],
    COLORS["bad"],
    COLORS["accent"],
    COLORS["sky"],
    COLORS["neutral"],
)

# Display name and unit of the twin's state variables and the simulation KPIs.
VARIABLE_UNITS: dict[str, tuple[str, str]] = {
    "production_line.temperature": ("Line temperature", "degC"),
    "production_line.energy_consumption": ("Line power", "kW"),
    "production_line.production_rate": ("Production rate", "modules/h"),
    "production_line.efficiency": ("Efficiency", "-"),
    "production_line.defect_rate": ("Defect rate", "-"),
    "production_line.cycle_time": ("Cycle time", "s/module"),
    "materials.silicon_wafer.inventory": ("Silicon wafer inventory", "kg"),
    "materials.silicon_wafer.quality": ("Silicon wafer quality", "-"),
    "materials.silicon_wafer.consumption": ("Silicon wafer use", "kg"),
    "materials.solar_glass.inventory": ("Solar glass inventory", "kg"),
    "materials.solar_glass.quality": ("Solar glass quality", "-"),
    "materials.solar_glass.consumption": ("Solar glass use", "kg"),
    "environment.temperature": ("Ambient temperature", "degC"),
    "environment.humidity": ("Ambient humidity", "% RH"),
    "output_modules": ("Output", "modules"),
    "energy_kwh": ("Energy", "kWh"),
    "energy_per_module_kwh": ("Energy per module", "kWh/module"),
    "defect_rate": ("Defect rate", "-"),
    "mean_efficiency": ("Mean efficiency", "-"),
    "silicon_wafer_kg": ("Silicon wafer used", "kg"),
    "solar_glass_kg": ("Solar glass used", "kg"),
}


def variable_label(name: str) -> tuple[str, str]:
    """Return ``(label, unit)`` for a state variable or KPI (unknown: name, ``"as stored"``)."""
    return VARIABLE_UNITS.get(name, (name, "as stored"))


def axis_title(label: str, unit: str) -> str:
    """Return an axis title with its unit in brackets, e.g. ``"Temperature [degC]"``."""
    return f"{label} [{unit}]"


def make_figure(
    traces: Iterable[go.BaseTraceType] = (),
    *,
    x_title: str,
    y_title: str,
    title: str = "",
    height: int = 320,
    layout: Mapping[str, Any] | None = None,
) -> FigureWidget:
    """Return a plotly ``FigureWidget`` in the house style with titled axes.

    The complete ``go.Figure`` is built first and wrapped once (cheaper than adding
    traces to a live widget); callbacks then update it inside ``fig.batch_update()``.
    """
    if "[" not in x_title or "[" not in y_title:
        raise ParameterError("axis titles carry their unit in brackets, e.g. 'Time [h]'")
    return figure_widget(_house_figure(traces, x_title, y_title, title, height, layout))


def _house_figure(
    traces: Iterable[go.BaseTraceType],
    x_title: str,
    y_title: str,
    title: str,
    height: int,
    layout: Mapping[str, Any] | None,
) -> go.Figure:
    fig = go.Figure(data=list(traces))
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 14}},
        xaxis_title=x_title,
        yaxis_title=y_title,
        height=height,
        margin={"l": 60, "r": 20, "t": 40 if title else 20, "b": 50},
        template="plotly_white",
        colorway=list(SERIES),
        legend={"orientation": "h", "y": -0.25},
        font={"family": "sans-serif", "size": 12},
        **dict(layout or {}),
    )
    return fig


def warm_figures() -> None:
    """Build one figure of each trace type the apps draw, off any widget.

    The first figure of a process pays for plotly's lazily imported property classes
    and validators and for loading the template; the dashboards' fork server
    (:mod:`circman_kernel.apps.forkserver`) pays it once for every kernel it forks.
    """
    traces = [go.Scatter(x=[0, 1], y=[0, 1], fill="tonexty"), go.Bar(x=["a"], y=[1])]
    _house_figure(traces, "x [-]", "y [-]", "warm", 320, None).to_dict()


# The ES module a dashboard figure runs in the browser. It imports plotly's widget code
# (5 MB) from the dashboard's static files: evaluated once per page, where inline copies
# were evaluated once per figure. The import starts when the first figure is shown, after
# the page has painted, so the first widgets are not held back (evaluating it with the
# page delayed them by about a second). The figure is ready for anywidget at once (a
# figure not ready within anywidget's 2 s limit never received an update again); updates
# the kernel sends before plotly's code runs are kept and replayed to it, in order.
_SHARED_ESM = """\
const voila = new URL(document.body.dataset.baseUrl || "/voila/", location.href);
const url = new URL(%s, voila).href;
const PY2JS = ["_py2js_addTraces", "_py2js_deleteTraces", "_py2js_moveTraces",
  "_py2js_restyle", "_py2js_relayout", "_py2js_update", "_py2js_animate",
  "_py2js_removeLayoutProps", "_py2js_removeTraceProps"];
// Resolves once `el` is shown (Voila reveals the cells when all outputs are in) and a
// frame with it has been painted; after 3 s regardless.
const painted = (el) => new Promise((ok) => {
  const check = () => (el.isConnected && el.checkVisibility() ? setTimeout(ok, 0)
    : requestAnimationFrame(check));
  requestAnimationFrame(check);
  setTimeout(ok, 3000);
});
const plotlyWidget = (el) =>
  (globalThis.__circmanPlotly ??= painted(el).then(() => import(url)).then((m) => m.default));

export default () => {
  let shown;
  const firstShown = new Promise((ok) => (shown = ok));  // resolves with the view's element
  let ready;
  return {
    initialize(ctx) {
      const queued = [];
      const keep = PY2JS.map((name) => [`change:${name}`, () => {
        const value = ctx.model.get(name);
        if (value !== null) queued.push([name, value]);
      }]);
      for (const [event, fn] of keep) ctx.model.on(event, fn);
      ready = firstShown.then(plotlyWidget).then((factory) => {
        for (const [event, fn] of keep) ctx.model.off(event, fn);
        const widget = factory();
        widget.initialize(ctx);
        for (const [name, value] of queued) {
          ctx.model.set(name, null);
          ctx.model.set(name, value);
          ctx.model.set(name, null);
        }
        return widget;
      });
    },
    async render(ctx) {
      shown(ctx.el);
      return (await ready).render(ctx);
    },
  };
};
"""


@functools.cache
def _shared_figure_class(esm_path: str) -> type[FigureWidget]:
    return type(
        "DashboardFigureWidget",
        (FigureWidget,),
        {"_esm": _SHARED_ESM % json.dumps(esm_path), "__module__": __name__},
    )


def figure_widget(fig: go.Figure) -> FigureWidget:
    """Return ``fig`` wrapped as a ``FigureWidget`` for the page it will be shown on.

    Under ``circman dashboard`` (``$CIRCMAN_FIGURE_ESM`` set) the widget loads plotly's
    code from the server's static files, shared by all figures of the page; elsewhere
    (JupyterLab, tests) it is plotly's own ``FigureWidget``.
    """
    esm_path = os.environ.get(FIGURE_ESM_ENV, "").strip()
    cls = _shared_figure_class(esm_path) if esm_path else FigureWidget
    return cls(fig)


def set_traces(fig: FigureWidget, traces: Iterable[go.BaseTraceType]) -> None:
    """Replace the traces of ``fig`` so that the page sees as few intermediate figures as possible.

    With the same number and types of traces (the common case: a control changed the
    data), the new properties go out as one update, so the page never shows a half-drawn
    figure. Otherwise the old traces are removed and the new ones added in one message each.
    """
    new = list(traces)
    old = fig.data
    if len(old) != len(new) or any(a.type != b.type for a, b in zip(old, new, strict=True)):
        with fig.batch_update():
            fig.data = []
            fig.add_traces(new)
        return
    with fig.batch_update():
        for a, b in zip(old, new, strict=True):
            props = b.to_plotly_json()
            props.pop("type", None)
            a.update(props, overwrite=True)
