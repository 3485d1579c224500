"""Shared look and plumbing of the dashboards: title bar, KPI cards, figures, messages, progress.

Every app is an :class:`AppView` (an ``ipywidgets.VBox``) that keeps handles on its
controls, figures and KPI cards so that tests can drive it without a browser. Callbacks
are wrapped by :meth:`AppView.safe`, which turns any error into a readable message in the
app (never a traceback) and leaves the app answering the next input.
"""

from __future__ import annotations

import asyncio
import functools
import html
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

# plotly's FigureWidget imported from its module, not through the lazy
# ``plotly.graph_objects.FigureWidget``: in a Jupyter kernel the lazy path (whose import
# chain compiles jsonschema's IRI grammars with lark) measured 5.4 s for the simulation
# app's first build against 2.3 s this way.
from plotly.graph_objs._figurewidget import FigureWidget

from circman_kernel.apps import FIGURE_ESM_ENV, MODE_ENV, MODES
from circman_kernel.core.errors import CircmanError, ParameterError

log = logging.getLogger("circman.apps")


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

_CSS = """
<style>
.cm-title {background:#12355b;color:#fff;padding:10px 16px;border-radius:6px;
  font-family:sans-serif;margin-bottom:6px}
.cm-title h2 {margin:0;font-size:20px;color:#fff} .cm-title p {margin:2px 0 0 0;font-size:13px;opacity:.85}
.cm-badge {float:right;font-size:12px;background:#fff;color:#12355b;border-radius:10px;padding:2px 8px}
.cm-kpi {border:1px solid #d0d7de;border-radius:6px;padding:6px 10px;min-width:130px;
  font-family:sans-serif;background:#f8fafc}
.cm-kpi .lbl {font-size:12px;color:#555} .cm-kpi .val {font-size:20px;font-weight:600;color:#12355b}
.cm-kpi .unit {font-size:12px;color:#555;margin-left:3px} .cm-kpi .sub {font-size:11px;color:#777}
.cm-msg {font-family:sans-serif;font-size:13px;padding:6px 10px;border-radius:4px}
.cm-msg.error {background:#fdecea;color:#8a1c10;border:1px solid #f5c2bc}
.cm-msg.info {background:#e8f1fb;color:#0b3d6e;border:1px solid #bcd6f2}
.cm-msg.ok {background:#e9f7ef;color:#0d5a32;border:1px solid #b7e4c7}
</style>
"""


def dashboard_mode() -> str:
    """Return ``"published"`` or ``"edit"`` from ``$CIRCMAN_DASHBOARD_MODE`` (default edit).

    ``circman dashboard`` starts its kernels with ``published`` unless ``--edit`` is given;
    a researcher calling a builder in JupyterLab gets the edit mode.
    """
    mode = os.environ.get(MODE_ENV, "edit").strip().lower() or "edit"
    if mode not in MODES:
        raise ParameterError(
            f"{MODE_ENV}={mode!r} is not a dashboard mode; use one of {', '.join(MODES)}",
            name=MODE_ENV,
            value=mode,
        )
    return mode


def open_store(store: Any = None, *, published: bool | None = None) -> Any:
    """Return ``store`` or a :class:`~circman_kernel.store.run_store.RunStore` on the default file.

    ``published`` defaults to the dashboard mode: a published dashboard may save new
    runs but cannot delete or overwrite stored ones.
    """
    if store is not None:
        return store
    from circman_kernel.store.run_store import RunStore

    if published is None:
        published = dashboard_mode() == "published"
    return RunStore(None, published=published)


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
    return figure_widget(fig)


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


def title_bar(title: str, subtitle: str = "", *, mode: str | None = None) -> widgets.HTML:
    """Return the title bar: app name, one-line purpose, and the dashboard mode badge."""
    mode = mode or dashboard_mode()
    badge = "published (read-only)" if mode == "published" else "edit mode"
    return widgets.HTML(
        _CSS + f'<div class="cm-title"><span class="cm-badge">{badge}</span>'
        f"<h2>{html.escape(title)}</h2><p>{html.escape(subtitle)}</p></div>"
    )


@dataclass(frozen=True)
class KPIValue:
    """What a KPI card shows: its value, unit and an optional note (e.g. vs baseline)."""

    value: float | str
    unit: str = ""
    note: str = ""


class KPICard(widgets.HTML):
    """A headline number with its label and unit."""

    def __init__(self, label: str, unit: str = "", *, fmt: str = "{:,.2f}") -> None:
        super().__init__()
        self.label = label
        self.unit = unit
        self.fmt = fmt
        self.current: float | str | None = None
        self.set(None)

    def set(self, value: float | str | None, note: str = "") -> None:
        """Show ``value`` (``None`` shows a dash) with an optional note below it."""
        self.current = value
        if value is None:
            text = "–"
        elif isinstance(value, str):
            text = html.escape(value)
        else:
            text = self.fmt.format(value)
        self.value = (
            f'<div class="cm-kpi"><div class="lbl">{html.escape(self.label)}</div>'
            f'<span class="val">{text}</span><span class="unit">{html.escape(self.unit)}</span>'
            f'<div class="sub">{html.escape(note) or "&nbsp;"}</div></div>'
        )


def kpi_row(cards: Iterable[KPICard]) -> widgets.HBox:
    """Return the KPI cards laid out in one wrapping row."""
    return widgets.HBox(list(cards), layout=widgets.Layout(flex_flow="row wrap", grid_gap="8px"))


class Notice(widgets.HTML):
    """The app's message line: errors and confirmations as plain sentences."""

    def __init__(self) -> None:
        super().__init__(value="")
        self.kind = ""
        self.text = ""

    def show(self, text: str, kind: str = "info") -> None:
        self.kind, self.text = kind, text
        self.value = f'<div class="cm-msg {kind}">{html.escape(text)}</div>'

    def error(self, text: str) -> None:
        self.show(text, "error")

    def ok(self, text: str) -> None:
        self.show(text, "ok")

    def clear(self) -> None:
        self.kind, self.text, self.value = "", "", ""


def readable(exc: BaseException) -> str:
    """Return one sentence for a failed action: the error's message, never a traceback."""
    if isinstance(exc, CircmanError):
        return str(exc) or type(exc).__name__
    return f"Unexpected {type(exc).__name__}: {exc}. The app is still running; try again."


class Busy(widgets.HBox):
    """Progress indicator: a bar and a label; ``step()`` advances, ``done()`` hides it."""

    def __init__(self) -> None:
        self.bar = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="240px"))
        self.label = widgets.Label("")
        super().__init__([self.bar, self.label], layout=widgets.Layout(visibility="hidden"))

    def start(self, text: str, total: int = 1) -> None:
        self.bar.max, self.bar.value, self.bar.bar_style = max(int(total), 1), 0, "info"
        self.label.value = text
        self.layout.visibility = "visible"

    def step(self, text: str | None = None, n: int = 1) -> None:
        self.bar.value = min(self.bar.value + n, self.bar.max)
        if text is not None:
            self.label.value = text

    def done(self) -> None:
        self.bar.value = self.bar.max
        self.layout.visibility = "hidden"

    @property
    def active(self) -> bool:
        return self.layout.visibility == "visible"


class AppView(widgets.VBox):
    """An app: a VBox plus handles on its parts.

    Attributes
    ----------
    controls, figures, kpis : dict
        Named widgets, so tests (and notebooks) can drive the app without a browser.
    notice : Notice
        The message line. ``busy`` : the progress indicator.
    background : bool
        Run long work (:meth:`run`) on a worker thread so that the kernel keeps
        answering the page; ``False`` runs it inline (tests).
    """

    def __init__(self, title: str, subtitle: str, *, background: bool = True) -> None:
        super().__init__(layout=widgets.Layout(width="100%"))
        self.title = title
        self.mode = dashboard_mode()
        self.notice = Notice()
        self.busy = Busy()
        self.controls: dict[str, widgets.Widget] = {}
        self.figures: dict[str, FigureWidget] = {}
        self.kpis: dict[str, KPICard] = {}
        self.background = background
        self._job: threading.Thread | asyncio.Future | bool | None = None
        self._pending: tuple[Callable[[], Any], Callable[[Any], None], str] | None = None
        self._header = title_bar(title, subtitle, mode=self.mode)
        self.add_class("circman-app")

    def layout_body(self, *parts: widgets.Widget) -> None:
        """Set the app's children: title bar, message, progress, then ``parts``."""
        self.children = (self._header, self.notice, self.busy, *parts)

    def safe(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a callback: errors become a message in the app and the app keeps going."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # a viewer's mistake must never break the app
                # The traceback goes to the log only (never into the page).
                log.info("callback %s failed", getattr(fn, "__name__", fn), exc_info=True)
                self.busy.done()
                self.notice.error(readable(exc))
                return None

        return wrapper

    def run(
        self,
        work: Callable[[], Any],
        on_done: Callable[[Any], None],
        *,
        text: str = "Working…",
    ) -> None:
        """Run ``work()`` (off the kernel's thread when ``background``) then ``on_done(result)``.

        In a kernel, ``work`` runs on a worker thread and ``on_done`` on the kernel's event
        loop: widgets are only ever touched from the thread that also handles the page's
        messages (ipywidgets are not thread-safe; a figure update sent while the kernel
        thread holds the widget's sync is lost). Errors in either step are shown as a
        message. A request made while one runs waits for it; only the newest waiting request
        is kept (a slider dragged across ten values runs twice, not ten times).
        """
        if self._job is not None:
            # Keep only the newest request; it starts when the running one ends.
            self._pending = (work, on_done, text)
            self.notice.show("Working on the previous request; yours is next.", "info")
            return
        self.busy.start(text, total=2)
        if not self.background:
            self._job = True
            self._finish(on_done, _outcome(work))
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a plain script): the worker draws as well
            loop = None
        if loop is None:
            thread = threading.Thread(
                target=lambda: self._finish(on_done, _outcome(work)),
                name=f"circman-{self.title}",
                daemon=True,
            )
            self._job = thread
            thread.start()
            return
        future = loop.run_in_executor(None, _outcome, work)
        self._job = future
        future.add_done_callback(
            lambda f: self._finish(
                on_done,
                (False, CircmanError("the work was cancelled")) if f.cancelled() else f.result(),
            )
        )

    def _finish(self, on_done: Callable[[Any], None], outcome: tuple[bool, Any]) -> None:
        ok, value = outcome
        try:
            if not ok:
                raise value
            self.busy.step("Drawing…")
            on_done(value)
        except Exception as exc:
            log.info("background work failed", exc_info=True)
            self.notice.error(readable(exc))
        finally:
            self.busy.done()
            self._job = None
            pending, self._pending = self._pending, None
            if pending is not None:
                self.run(pending[0], pending[1], text=pending[2])

    @property
    def working(self) -> bool:
        """Whether work started by :meth:`run` (or a request waiting for it) is unfinished."""
        return self._job is not None

    def wait(self, timeout: float | None = 60.0) -> None:
        """Block until work started by :meth:`run` on a worker thread has finished.

        For scripts and tests without an event loop; in a kernel, ``on_done`` runs on the
        loop, so await the loop instead of blocking it.
        """
        while isinstance(self._job, threading.Thread):
            self._job.join(timeout)


def _outcome(work: Callable[[], Any]) -> tuple[bool, Any]:
    """Return ``(True, work())`` or ``(False, the exception)``; never raises."""
    try:
        return True, work()
    except Exception as exc:
        return False, exc


def labelled(widget: widgets.Widget, text: str) -> widgets.VBox:
    """Return ``widget`` under a small caption."""
    return widgets.VBox([widgets.HTML(f"<b>{html.escape(text)}</b>"), widget])
