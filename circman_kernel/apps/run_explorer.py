"""Run explorer: the runs in the store, filtered, compared, downloaded as CSV or Parquet."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from circman_kernel.apps._figures import axis_title, make_figure, set_traces, variable_label
from circman_kernel.apps._ui import AppView, KPICard, kpi_row, labelled, open_store
from circman_kernel.core.errors import ParameterError

__all__ = ["run_explorer_app", "runs_download", "parquet_bytes"]

ALL = "(all kinds)"


def _label(row: pd.Series) -> str:
    created = pd.Timestamp(row["created_at"]).strftime("%Y-%m-%d %H:%M:%S")
    name = row["name"] if isinstance(row["name"], str) and row["name"] else "-"
    return f"{row['kind']:<12} {name[:28]:<28} {created}  {row['id'][:8]}"


def parquet_bytes(table: pd.DataFrame) -> bytes:
    """Return ``table`` as Parquet bytes (written by DuckDB: no pyarrow needed)."""
    import tempfile

    import duckdb

    with tempfile.TemporaryDirectory(prefix="circman-dl-") as tmp:
        out = Path(tmp) / "runs.parquet"
        con = duckdb.connect(":memory:")
        try:
            con.register("dl", table)
            con.execute(f"COPY dl TO '{out.as_posix()}' (FORMAT parquet)")
        finally:
            con.close()
        return out.read_bytes()


def runs_download(store: Any, run_ids: list[str], fmt: str) -> tuple[str, bytes]:
    """Return ``(file name, bytes)``: the selected runs with their KPIs as CSV or Parquet."""
    if not run_ids:
        raise ParameterError("select at least one run to download", name="run_ids")
    if fmt not in ("csv", "parquet"):
        raise ParameterError(f"unknown format {fmt!r}; use csv or parquet", name="fmt")
    runs = store.runs().set_index("id").loc[run_ids]
    table = runs.drop(columns=["parameters", "tags"]).join(store.kpis(run_ids), how="left")
    table["parameters"] = [str(p) for p in runs["parameters"]]
    table["tags"] = [",".join(t) for t in runs["tags"]]
    table = table.rename_axis("run_id").reset_index()
    buf = io.BytesIO()
    if fmt == "csv":
        buf.write(table.to_csv(index=False).encode("utf-8"))
    else:
        buf.write(parquet_bytes(table))
    return f"circman-runs.{fmt}", buf.getvalue()


def run_explorer_app(store: Any = None, *, limit: int = 500, background: bool = True) -> AppView:
    """Return the run explorer app on ``store`` (default: the dashboard's run store).

    Controls: kind and name filters, refresh, a multi-select of runs, the KPI and the
    trajectory variable to compare; compare needs two or more runs. Downloads are links
    with the data inlined (no server round trip, works offline). In edit mode a delete
    button removes the selected runs; published dashboards cannot delete.
    """
    app = AppView(
        "Run explorer",
        "Every stored simulation, scenario, optimisation and LCA run: filter, compare, download.",
        background=background,
    )
    store = open_store(store)
    from circman_kernel.store.run_store import KINDS

    kind = widgets.Dropdown(options=[ALL, *KINDS], value=ALL, description="Kind")
    name = widgets.Text(placeholder="name contains…", description="Name")
    refresh = widgets.Button(description="Refresh", button_style="primary", icon="")
    runs = widgets.SelectMultiple(options=[], rows=10, layout=widgets.Layout(width="100%"))
    variable = widgets.Dropdown(options=[], description="Variable")
    compare = widgets.Button(description="Compare selected")
    csv_btn = widgets.Button(description="Download CSV")
    pq_btn = widgets.Button(description="Download Parquet")
    links = widgets.HTML("")
    table = widgets.HTML("")
    delete = widgets.Button(description="Delete selected", button_style="danger")
    app.controls.update(
        kind=kind,
        name=name,
        refresh=refresh,
        runs=runs,
        variable=variable,
        compare=compare,
        csv=csv_btn,
        parquet=pq_btn,
        delete=delete,
    )
    app.kpis.update(
        stored=KPICard("Runs listed", "runs", fmt="{:,.0f}"),
        selected=KPICard("Selected", "runs", fmt="{:,.0f}"),
        latest=KPICard("Latest run", ""),
    )
    app.figures["kpis"] = make_figure(
        x_title=axis_title("KPI", "-"),
        y_title=axis_title("Value relative to first selected run", "%"),
        title="KPIs of the selected runs",
        layout={"barmode": "group"},
    )
    app.figures["trajectory"] = make_figure(
        x_title=axis_title("Step", "step"),
        y_title=axis_title("Value", "as stored"),
        title="Trajectory (median over iterations)",
    )
    app.listing = pd.DataFrame()
    app.downloads = links

    def load(*_: Any) -> None:
        df = store.runs(None if kind.value == ALL else kind.value, limit=int(limit))
        if name.value.strip():
            df = df[df["name"].fillna("").str.contains(name.value.strip(), case=False, regex=False)]
        app.listing = df
        keep = [r for r in runs.value if r in set(df["id"])]
        runs.options = [(_label(row), row["id"]) for _, row in df.iterrows()]
        runs.value = tuple(keep)
        app.kpis["stored"].set(len(df))
        app.kpis["latest"].set(
            pd.Timestamp(df["created_at"].max()).strftime("%Y-%m-%d %H:%M") if len(df) else None
        )
        app.notice.clear()

    def on_select(*_: Any) -> None:
        app.kpis["selected"].set(len(runs.value))
        links.value = ""

    def do_compare(*_: Any) -> None:
        ids = list(runs.value)
        if len(ids) < 2:
            raise ParameterError("select two or more runs to compare (Ctrl/Shift+click)")
        wide = store.kpis(ids)
        if wide.shape[1] == 0:
            raise ParameterError("the selected runs have no KPIs to compare")
        base = wide.iloc[0].replace(0.0, float("nan"))
        rel = wide.divide(base, axis=1) * 100.0
        listing = app.listing.set_index("id")
        names = {
            r: f"{listing.loc[r, 'name'] or listing.loc[r, 'kind']} ({r[:8]})"
            if r in listing.index
            else r[:8]
            for r in ids
        }
        traces = [
            go.Bar(
                name=names[r],
                x=[f"{variable_label(c)[0]} [{variable_label(c)[1]}]" for c in wide.columns],
                y=rel.loc[r].to_numpy(),
            )
            for r in ids
        ]
        set_traces(app.figures["kpis"], traces)
        shown = wide.T.rename(columns=names)
        table.value = shown.to_html(float_format=lambda v: f"{v:,.4g}", border=0)
        variables = store.variables(ids)
        current = variable.value
        variable.options = variables
        if variables:
            variable.value = current if current in variables else variables[0]
            draw_trajectory()
        app.notice.ok(f"Compared {len(ids)} runs.")

    def draw_trajectory(*_: Any) -> None:
        ids = list(runs.value)
        var = variable.value
        if not var or not ids:
            return
        fig = app.figures["trajectory"]
        label, unit = variable_label(var)
        # the median over iterations per step, computed by the store in one read for all
        # runs (a Monte Carlo run holds up to millions of rows); the store's own read, not
        # a user query, so no snapshot of the store file is taken per change
        med = store.step_medians(ids, var)
        by_run = dict(tuple(med.groupby("run_id", sort=False)))
        medians = [
            go.Scatter(x=by_run[r]["step"].to_numpy(), y=by_run[r]["value"].to_numpy(), name=r[:8])
            for r in ids
            if r in by_run
        ]
        set_traces(fig, medians)
        fig.layout.yaxis.title.text = axis_title(label, unit)

    def download(fmt: str) -> None:
        store.check("data.export")  # the role decides here, not the button's state
        fname, data = runs_download(store, list(runs.value), fmt)
        mime = "text/csv" if fmt == "csv" else "application/vnd.apache.parquet"
        b64 = base64.b64encode(data).decode("ascii")
        links.value = (
            f'<a download="{html.escape(fname)}" href="data:{mime};base64,{b64}">'
            f"Save {html.escape(fname)} ({len(data):,} bytes)</a>"
        )

    def do_delete(*_: Any) -> None:
        ids = list(runs.value)
        if not ids:
            raise ParameterError("select the runs to delete")
        n = store.delete_runs(ids)
        load()
        app.notice.ok(f"Deleted {n} runs.")

    refresh.on_click(app.safe(load))
    kind.observe(app.safe(load), names="value")
    name.observe(app.safe(load), names="value")
    runs.observe(app.safe(on_select), names="value")
    compare.on_click(app.safe(do_compare))
    variable.observe(app.safe(draw_trajectory), names="value")
    csv_btn.on_click(app.safe(lambda *_: download("csv")))
    pq_btn.on_click(app.safe(lambda *_: download("parquet")))
    delete.on_click(app.safe(do_delete))

    actions = [
        compare,
        app.access.gate(csv_btn, "data.export"),
        app.access.gate(pq_btn, "data.export"),
    ]
    if app.mode == "edit" or app.viewer is None or app.viewer.signed_in:
        actions.append(app.access.gate(delete, "run.delete"))
    app.layout_body(
        kpi_row(app.kpis.values()),
        widgets.HBox([kind, name, refresh]),
        labelled(runs, "Runs (newest first; Ctrl/Shift+click to select several)"),
        widgets.HBox(actions),
        links,
        widgets.HBox([app.figures["kpis"], table]),
        variable,
        app.figures["trajectory"],
    )
    app.safe(load)()
    return app
