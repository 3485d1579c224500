"""Line monitor: a live twin fed by the synchroniser, KPIs, process charts, status, alerts.

On a server running the shared twin (``circman dashboard --twin``) the monitor follows
that twin through the server's API (:class:`~circman_kernel.apps._live.TwinClient`,
polled every :data:`POLL_S` seconds): every viewer sees the same readings and alerts, and
acknowledging an alert or entering a manual reading is a request the server grants by
role (operator and above). The private replay, a twin of the page's own, stays
available in edit mode (and is the only twin on a server without one).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import datetime, timedelta
from typing import Any

import ipywidgets as widgets

from circman_kernel.apps._access import reason_html
from circman_kernel.apps._figures import COLORS
from circman_kernel.apps._identity import TWIN_API_ENV
from circman_kernel.apps._line_parts import (
    CHARTS,
    alert_widgets,
    open_alerts,
    process_figure,
    status_html,
)
from circman_kernel.apps._live import TwinClient
from circman_kernel.apps._ui import AppView, KPICard, kpi_row, labelled
from circman_kernel.core.errors import ParameterError
from circman_kernel.core.state_schema import get_path

__all__ = ["line_monitor_app", "open_alerts"]

SOURCES = {"Replay sample shift (CSV)": "replay", "Simulated sensors": "simulated"}
SHARED = "Shared line twin (all viewers)"
POLL_S = 1.0  # how often a monitor following the shared twin asks for its state [s]


def line_monitor_app(
    config: Any = None,
    *,
    csv_path: str | None = None,
    seed: int = 1,
    frequency_hz: float = 4.0,
    window: int = 240,
    background: bool = True,
    twin_api: str | None = None,
) -> AppView:
    """Return the line monitor app: the server's shared twin if there is one, else its own.

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
    twin_api : str, optional
        API root of the shared twin (default ``$CIRCMAN_TWIN_API``, set by the server);
        ``""`` forces a private twin.
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
    api = os.environ.get(TWIN_API_ENV, "") if twin_api is None else twin_api
    client = TwinClient(api, lambda: app.viewer.token if app.viewer else "") if api else None
    app.client = client
    app.shared = None  # the last snapshot of the shared twin
    options = ([SHARED] if client else []) + (
        list(SOURCES) if client is None or app.mode == "edit" else []
    )
    source = widgets.Dropdown(options=options, description="Source")
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
    alerts_note = widgets.HTML("")
    manual_note = widgets.HTML("")
    private_box = widgets.HBox([start, stop, step, reset])
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
    def shared_on() -> bool:
        return client is not None and source.value == SHARED

    def can_poll() -> bool:
        return shared_on() and (app.viewer is not None)

    def poll() -> None:
        """Fetch the shared twin's snapshot (blocking; the ticker runs it off the loop)."""
        app.shared = client.snapshot(window, tuple(p for p, _, _ in CHARTS))

    if can_poll():
        with contextlib.suppress(Exception):  # the first draw must not fail; status tells
            poll()
    first = app.shared["state"] if app.shared else twin.get_current_state()
    fig = process_figure(first, thresholds)
    app.figures["process"] = fig

    def make_source() -> Any:
        if SOURCES.get(source.value, "replay") == "replay":
            return CSVReplaySource(csv_path, on_error="skip")
        return SimulatedSensorSource(seed, interval_s=1.0, config=config)

    app.feed = make_source()

    def series() -> tuple[list[Any], dict[str, list[Any]], dict[str, Any]]:
        """Return (times, {path: values}, current state) of the twin shown."""
        if shared_on():
            if app.shared is None:
                cur = twin.get_current_state()
                return [cur["timestamp"]], {p: [get_path(cur, p)] for p, _, _ in CHARTS}, cur
            hist = app.shared.get("history", {})
            return hist["timestamp"], {p: hist[p] for p, _, _ in CHARTS}, app.shared["state"]
        states = [*twin.get_state_history(limit=window - 1), twin.get_current_state()]
        values = {p: [get_path(s, p) for s in states] for p, _, _ in CHARTS}
        return [s["timestamp"] for s in states], values, states[-1]

    def refresh(*_: Any) -> None:
        times, values, current = series()
        with fig.batch_update():
            for i, (path, _label, _unit) in enumerate(CHARTS):
                fig.data[i].x = times
                fig.data[i].y = values[path]
        cur = current["production_line"]
        app.kpis["temperature"].set(cur.get("temperature"))
        app.kpis["power"].set(cur.get("energy_consumption"))
        app.kpis["rate"].set(cur.get("production_rate"))
        app.kpis["efficiency"].set(100.0 * cur.get("efficiency", 0.0))
        app.kpis["defects"].set(100.0 * cur.get("defect_rate", 0.0))
        draw_alerts()
        draw_status()

    def draw_status() -> None:
        if shared_on() and app.shared is not None:
            state, sync_state = app.shared["state"], dict(app.shared["status"])
            breached, feed = app.shared["breached"], f"shared twin {sync_state.get('source')}"
            updates = sync_state.get("updates", 0)
        else:
            state = twin.get_current_state()
            sync_state = app.sync.status() if app.sync is not None else {}
            breached, feed = twin.breached_thresholds, app.feed.name
            updates = app.sync.updates if app.sync else 0
        if shared_on() and getattr(app, "poll_error", None):
            sync_state["error"] = app.poll_error
        running = bool(sync_state.get("running"))
        colour = COLORS["bad"] if breached else COLORS["good"]
        rows = [
            ("System", state.get("system_status", "-")),
            ("Line", state["production_line"].get("status", "-")),
            ("Batch", state.get("batch_id") or "-"),
            ("Last reading", str(state.get("timestamp", "-"))[:19]),
            ("Feed", f"{feed} ({'running' if running else 'stopped'})"),
            ("Readings applied", f"{updates}"),
            ("Out of band", ", ".join(f"{k} ({v})" for k, v in breached.items()) or "none"),
        ]
        if sync_state.get("error"):
            rows.append(("Feed error", sync_state["error"]))
        status.value = status_html(rows, colour)

    def alert_rows() -> tuple[int, list[dict[str, Any]]]:
        """Return the number of open alerts and the newest 20 (newest first) as rows."""
        if shared_on():
            items = app.shared["open_alerts"] if app.shared else []
            return (app.shared or {}).get("open_count", len(items)), items
        events = open_alerts(twin.event_manager)
        return len(events), [e.to_dict() for e in reversed(events[-20:])]

    def reason(action: str) -> str | None:
        """Why the viewer may not change the shared twin (``None``: may; private: always)."""
        return app.access.reason(action) if shared_on() else None

    def draw_alerts() -> None:
        count, items = alert_rows()
        app.kpis["alerts"].set(count)
        why = reason("event.ack")
        alerts_box.children = alert_widgets(items, why, app.safe(lambda b: acknowledge(b.event_id)))
        alerts_note.value = reason_html(why if items else None)
        draw_manual()

    def draw_manual() -> None:
        why = reason("twin.input")
        manual.disabled, manual.tooltip = why is not None, why or ""
        manual_note.value = reason_html(why)
        private_box.layout.display = "none" if shared_on() else None
        speed.layout.display = "none" if shared_on() else None

    def acknowledge(event_id: str) -> None:
        if shared_on():
            client.acknowledge(event_id)  # the server checks the role and tells everyone
            poll()
        elif not twin.event_manager.acknowledge_event(event_id):
            raise ParameterError(f"no alert with id {event_id}")
        draw_alerts()
        app.notice.ok("Alert acknowledged.")

    def stop_feed(*_: Any) -> None:
        if app.sync is not None and app.sync.running:
            app.sync.stop()
        app._ticker_stop = True
        refresh()

    async def follow() -> None:
        # The shared twin's snapshot, fetched off the kernel's loop, drawn on it; the
        # first ones may wait for the server to say who the viewer is (preheated kernel).
        loop = asyncio.get_running_loop()
        while not app._follow_stop:
            if can_poll():
                try:
                    await loop.run_in_executor(None, poll)
                    app.poll_error = None
                except Exception as exc:  # shown in the status, tried again next second
                    app.poll_error = str(exc)
                with contextlib.suppress(Exception):
                    refresh()
            await asyncio.sleep(POLL_S)

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
        if shared_on():
            raise ParameterError("the shared twin is fed by the server; choose a private source")
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
        if shared_on():
            raise ParameterError("the shared twin is fed by the server; choose a private source")
        if app.sync is not None and app.sync.running:
            raise ParameterError("stop the live feed before stepping by hand")
        app.sync = Synchronizer(twin, app.feed, frequency=speed.value)
        n = app.sync.run_batch(10)
        if n == 0:
            raise ParameterError("the source is exhausted; press 'Restart source'")
        refresh()

    def restart_source(*_: Any) -> None:
        stop_feed()
        if shared_on():
            app.notice.ok("Following the shared line twin.")
            return
        app.feed = make_source()
        app.notice.ok(f"Source ready: {app.feed.name}.")
        draw_status()

    def apply_manual(*_: Any) -> None:
        value = manual_t.value
        if value is None or not -50.0 <= float(value) <= 150.0:
            raise ParameterError("manual temperature must be between -50 and 150 degC")
        if shared_on():
            client.manual_reading({"production_line": {"temperature": float(value)}})
            poll()
            refresh()
            app.notice.ok(f"Manual reading sent: line temperature {float(value):g} degC.")
            return
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
    app._follow_stop = False
    app.poll_error = None

    def refresh_now(*_: Any) -> None:
        """Redraw; when following the shared twin, fetch its state first."""
        if can_poll():
            poll()
        refresh()

    app.refresh = refresh_now
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
        private_box,
        widgets.HBox([manual_t, manual, manual_note]),
        widgets.HBox(
            [
                widgets.Box([fig], layout=widgets.Layout(width="65%")),
                widgets.VBox(
                    [
                        labelled(status, "Status"),
                        labelled(widgets.VBox([alerts_note, alerts_box]), "Open alerts"),
                    ],
                    layout=widgets.Layout(width="35%"),
                ),
            ]
        ),
    )
    app.alerts_box = alerts_box
    refresh()
    if client is not None:
        with contextlib.suppress(RuntimeError):  # no event loop: refresh() polls instead
            app._follower = asyncio.get_running_loop().create_task(follow())
        app.access.on_viewer(lambda _viewer: draw_alerts())
    return app
