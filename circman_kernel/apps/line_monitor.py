"""Line monitor: a live twin fed by the synchroniser, KPIs, process charts, status, alerts."""

from __future__ import annotations

import asyncio
import contextlib
import html
from datetime import datetime, timedelta
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from circman_kernel.apps._figures import COLORS, axis_title, figure_widget
from circman_kernel.apps._ui import AppView, KPICard, kpi_row, labelled
from circman_kernel.core.errors import ParameterError
from circman_kernel.core.state_schema import get_path

__all__ = ["line_monitor_app", "open_alerts"]

SOURCES = {"Replay sample shift (CSV)": "replay", "Simulated sensors": "simulated"}
# (state path, label, unit) of the three process charts, top to bottom
CHARTS = (
    ("production_line.temperature", "Line temperature", "degC"),
    ("production_line.energy_consumption", "Line power", "kW"),
    ("production_line.production_rate", "Production rate", "modules/h"),
)


def open_alerts(event_manager: Any) -> list[Any]:
    """Return the open alerts: unacknowledged threshold breaches (not recoveries), oldest first."""
    return [
        e
        for e in event_manager.get_events(category="threshold", severity="warning", limit=None)
        if not e.acknowledged and not e.details.get("recovered", False)
    ]


def line_monitor_app(
    config: Any = None,
    *,
    csv_path: str | None = None,
    seed: int = 1,
    frequency_hz: float = 4.0,
    window: int = 240,
    background: bool = True,
) -> AppView:
    """Return the line monitor app on a fresh twin of its own.

    Parameters
    ----------
    config : CircmanConfig, optional
        Thresholds and simulation parameters (default: the configs folder).
    csv_path : path, optional
        Sensor CSV to replay (default ``data/sample_shift.csv``).
    seed : int
        Seed of the twin and of the simulated sensors.
    frequency_hz : float
        Initial replay pace [Hz]: readings applied per second.
    window : int
        Number of most recent states drawn in the charts.
    """
    from circman_kernel.core.config import load_config
    from circman_kernel.core.paths import data_dir
    from circman_kernel.twin.digital_twin import DigitalTwin
    from circman_kernel.twin.sources import (
        CSVReplaySource,
        ManualInputSource,
        SimulatedSensorSource,
    )
    from circman_kernel.twin.sync import Synchronizer

    if window < 2:
        raise ParameterError("window must be >= 2 states", name="window", value=window)
    config = config if config is not None else load_config()
    csv_path = csv_path or str(data_dir() / "sample_shift.csv")
    app = AppView(
        "Line monitor",
        "Live digital twin of the module line: KPIs, process charts, status and alerts.",
        background=background,
    )
    twin = DigitalTwin(config, seed=seed, name="line-monitor")
    twin.initialize()
    app.twin = twin
    app.sync = None
    thresholds = config.digital_twin.PARAMETER_THRESHOLDS

    source = widgets.Dropdown(options=list(SOURCES), description="Source")
    speed = widgets.FloatSlider(
        value=frequency_hz, min=0.5, max=20.0, step=0.5, description="Pace [Hz]"
    )
    start = widgets.Button(description="Start", button_style="success")
    stop = widgets.Button(description="Stop", button_style="warning")
    step = widgets.Button(description="Step 10 readings")
    reset = widgets.Button(description="Restart source")
    manual_t = widgets.FloatText(value=22.5, description="Temp [degC]")
    manual = widgets.Button(description="Apply manual reading")
    status = widgets.HTML("")
    alerts_box = widgets.VBox([])
    app.controls.update(
        source=source,
        speed=speed,
        start=start,
        stop=stop,
        step=step,
        reset=reset,
        manual_temperature=manual_t,
        manual=manual,
    )
    app.kpis.update(
        temperature=KPICard("Line temperature", "degC"),
        power=KPICard("Line power", "kW", fmt="{:,.1f}"),
        rate=KPICard("Production rate", "modules/h"),
        efficiency=KPICard("Efficiency", "%", fmt="{:,.1f}"),
        defects=KPICard("Defect rate", "%"),
        alerts=KPICard("Open alerts", "", fmt="{:,.0f}"),
    )

    # The figure is built complete, with the twin's first state in it, before it becomes a
    # widget: in a preheated Voila kernel, updates sent before the page connects are lost.
    first = twin.get_current_state()
    sub = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    for i, (path, label, unit) in enumerate(CHARTS, start=1):
        sub.add_trace(
            go.Scatter(
                x=[first["timestamp"]],
                y=[get_path(first, path)],
                name=label,
                mode="lines+markers",
                line={"color": COLORS["primary"]},
                marker={"size": 3},
            ),
            row=i,
            col=1,
        )
        sub.update_yaxes(title_text=axis_title(label, unit), row=i, col=1)
        lo_hi = thresholds.get(path)
        if lo_hi is not None and path.endswith("temperature"):
            for bound in lo_hi:
                sub.add_hline(y=bound, line={"dash": "dot", "color": COLORS["bad"]}, row=i, col=1)
    sub.update_xaxes(title_text=axis_title("Time", "hh:mm:ss"), row=3, col=1)
    sub.update_layout(
        height=560,
        template="plotly_white",
        showlegend=False,
        margin={"l": 70, "r": 20, "t": 20, "b": 50},
    )
    fig = figure_widget(sub)
    app.figures["process"] = fig

    def make_source() -> Any:
        if SOURCES[source.value] == "replay":
            return CSVReplaySource(csv_path, on_error="skip")
        return SimulatedSensorSource(seed, interval_s=1.0, config=config)

    app.feed = make_source()

    def refresh(*_: Any) -> None:
        states = [*twin.get_state_history(limit=window - 1), twin.get_current_state()]
        times = [s["timestamp"] for s in states]
        with fig.batch_update():
            for i, (path, _label, _unit) in enumerate(CHARTS):
                fig.data[i].x = times
                fig.data[i].y = [get_path(s, path) for s in states]
        cur = states[-1]["production_line"]
        app.kpis["temperature"].set(cur.get("temperature"))
        app.kpis["power"].set(cur.get("energy_consumption"))
        app.kpis["rate"].set(cur.get("production_rate"))
        app.kpis["efficiency"].set(100.0 * cur.get("efficiency", 0.0))
        app.kpis["defects"].set(100.0 * cur.get("defect_rate", 0.0))
        draw_alerts()
        draw_status()

    def draw_status() -> None:
        state = twin.get_current_state()
        sync_state = app.sync.status() if app.sync is not None else {}
        running = bool(sync_state.get("running"))
        breached = twin.breached_thresholds
        colour = COLORS["bad"] if breached else COLORS["good"]
        rows = [
            ("System", state.get("system_status", "-")),
            ("Line", state["production_line"].get("status", "-")),
            ("Batch", state.get("batch_id") or "-"),
            ("Last reading", str(state.get("timestamp", "-"))[:19]),
            ("Feed", f"{app.feed.name} ({'running' if running else 'stopped'})"),
            ("Readings applied", f"{app.sync.updates if app.sync else 0}"),
            ("Out of band", ", ".join(f"{k} ({v})" for k, v in breached.items()) or "none"),
        ]
        if sync_state.get("error"):
            rows.append(("Feed error", sync_state["error"]))
        status.value = (
            f'<div style="border-left:4px solid {colour};padding:4px 10px;font-family:sans-serif">'
            + "".join(f"<div><b>{html.escape(k)}:</b> {html.escape(str(v))}</div>" for k, v in rows)
            + "</div>"
        )

    def draw_alerts() -> None:
        items = open_alerts(twin.event_manager)
        app.kpis["alerts"].set(len(items))
        rows: list[widgets.Widget] = []
        for e in reversed(items[-20:]):
            btn = widgets.Button(description="Acknowledge", layout=widgets.Layout(width="120px"))
            btn.event_id = e.event_id
            btn.on_click(app.safe(lambda b: acknowledge(b.event_id)))
            text = widgets.HTML(
                f'<span style="color:{COLORS["bad"]}">&#9888;</span> '
                f"{html.escape(str(e.details.get('timestamp') or e.timestamp)[:19])} "
                f"<b>{html.escape(e.severity.value)}</b> {html.escape(e.message)}"
            )
            rows.append(widgets.HBox([btn, text], layout=widgets.Layout(align_items="center")))
        if not rows:
            rows = [widgets.HTML("<i>No open alerts.</i>")]
        rows[0].add_class("cm-alerts-first")
        alerts_box.children = rows

    def acknowledge(event_id: str) -> None:
        if not twin.event_manager.acknowledge_event(event_id):
            raise ParameterError(f"no alert with id {event_id}")
        draw_alerts()
        app.notice.ok("Alert acknowledged.")

    def stop_feed(*_: Any) -> None:
        if app.sync is not None and app.sync.running:
            app.sync.stop()
        app._ticker_stop = True
        refresh()

    async def ticker() -> None:
        # Redraw at most twice a second while the feed runs; the feed itself runs on the
        # kernel's event loop (Synchronizer.start), so the page stays responsive.
        while not app._ticker_stop:
            await asyncio.sleep(max(0.5, 1.0 / speed.value))
            with contextlib.suppress(Exception):
                refresh()
            if app.sync is None or not app.sync.running:
                break
        with contextlib.suppress(Exception):
            refresh()

    def start_feed(*_: Any) -> None:
        if app.sync is not None and app.sync.running:
            app.notice.show("The feed is already running.")
            return
        if app.feed.exhausted:
            raise ParameterError("the source is exhausted; press 'Restart source' first")
        app.sync = Synchronizer(twin, app.feed, frequency=speed.value)
        app.sync.start()
        app._ticker_stop = False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            app._ticker = loop.create_task(ticker())
        app.notice.show(f"Feeding the twin from {app.feed.name} at {speed.value:g} Hz.")
        draw_status()

    def step_feed(*_: Any) -> None:
        if app.sync is not None and app.sync.running:
            raise ParameterError("stop the live feed before stepping by hand")
        app.sync = Synchronizer(twin, app.feed, frequency=speed.value)
        n = app.sync.run_batch(10)
        if n == 0:
            raise ParameterError("the source is exhausted; press 'Restart source'")
        refresh()

    def restart_source(*_: Any) -> None:
        stop_feed()
        app.feed = make_source()
        app.notice.ok(f"Source ready: {app.feed.name}.")
        draw_status()

    def apply_manual(*_: Any) -> None:
        value = manual_t.value
        if value is None or not -50.0 <= float(value) <= 150.0:
            raise ParameterError("manual temperature must be between -50 and 150 degC")
        last = datetime.fromisoformat(str(twin.get_current_state()["timestamp"]))
        src = ManualInputSource()
        src.put(
            {
                "timestamp": (last + timedelta(seconds=1)).isoformat(),
                "production_line": {"temperature": float(value)},
            }
        )
        Synchronizer(twin, src).run_batch()
        refresh()
        app.notice.ok(f"Manual reading applied: line temperature {float(value):g} degC.")

    def on_speed(change: dict) -> None:
        if app.sync is not None and app.sync.running:
            app.sync.frequency = float(change["new"])

    app._ticker_stop = True
    app.refresh = refresh
    start.on_click(app.safe(start_feed))
    stop.on_click(app.safe(stop_feed))
    step.on_click(app.safe(step_feed))
    reset.on_click(app.safe(restart_source))
    source.observe(app.safe(restart_source), names="value")
    manual.on_click(app.safe(apply_manual))
    speed.observe(app.safe(on_speed), names="value")

    app.layout_body(
        kpi_row(app.kpis.values()),
        widgets.HBox([source, speed]),
        widgets.HBox([start, stop, step, reset]),
        widgets.HBox([manual_t, manual]),
        widgets.HBox(
            [
                widgets.Box([fig], layout=widgets.Layout(width="65%")),
                widgets.VBox(
                    [labelled(status, "Status"), labelled(alerts_box, "Open alerts")],
                    layout=widgets.Layout(width="35%"),
                ),
            ]
        ),
    )
    app.alerts_box = alerts_box
    refresh()
    return app
