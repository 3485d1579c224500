"""The line monitor's pieces that hold no state: the process figure, status and alert rows.

Kept apart from :mod:`circman_kernel.apps.line_monitor` (which wires them to a private or
the shared twin) so that each stays readable.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from circman_kernel.apps._figures import COLORS, axis_title, figure_widget
from circman_kernel.core.state_schema import get_path

__all__ = ["CHARTS", "alert_widgets", "open_alerts", "process_figure", "status_html"]

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


def process_figure(first: dict[str, Any], thresholds: dict[str, Any]) -> Any:
    """Return the three process charts (a figure widget) with the state ``first`` drawn.

    Built whole before it becomes a widget: in a preheated Voila kernel, updates sent
    before the page connects are lost.
    """
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
    return figure_widget(sub)


def status_html(rows: list[tuple[str, Any]], colour: str) -> str:
    """Return the status panel: one ``label: value`` line per row, a coloured edge."""
    return (
        f'<div style="border-left:4px solid {colour};padding:4px 10px;font-family:sans-serif">'
        + "".join(f"<div><b>{html.escape(k)}:</b> {html.escape(str(v))}</div>" for k, v in rows)
        + "</div>"
    )


def alert_widgets(
    items: list[dict[str, Any]], why: str | None, on_ack: Callable[[Any], Any]
) -> list[widgets.Widget]:
    """Return one row per alert (event dicts, newest first) with its Acknowledge button.

    ``why`` (not ``None``) disables the buttons and says why; ``on_ack(button)`` is called
    with ``button.event_id`` set.
    """
    rows: list[widgets.Widget] = []
    for e in items:
        btn = widgets.Button(description="Acknowledge", layout=widgets.Layout(width="120px"))
        btn.event_id = e["id"]
        btn.disabled, btn.tooltip = why is not None, why or ""
        btn.on_click(on_ack)
        text = widgets.HTML(
            f'<span style="color:{COLORS["bad"]}">&#9888;</span> '
            f"{html.escape(str(e['details'].get('timestamp') or e['timestamp'])[:19])} "
            f"<b>{html.escape(e['severity'])}</b> {html.escape(e['message'])}"
        )
        rows.append(widgets.HBox([btn, text], layout=widgets.Layout(align_items="center")))
    if not rows:
        rows = [widgets.HTML("<i>No open alerts.</i>")]
    rows[0].add_class("cm-alerts-first")
    return rows
