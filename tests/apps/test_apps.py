"""Dashboard builders and callbacks, driven without a browser.

Each test builds an app, sets a control the way a viewer would, and checks that the
figure's data (not just its existence) changed, that bad input becomes a message in the
app, and that the app then still answers a valid input.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import nbformat
import numpy as np
import pandas as pd
import pytest

from circman_kernel.apps import MODE_ENV
from circman_kernel.apps._figures import make_figure
from circman_kernel.apps._ui import AppView, KPICard, readable
from circman_kernel.core.errors import (
    ConfigError,
    ParameterError,
    PermissionDeniedError,
    StoreError,
)
from circman_kernel.server.dashboard import APPS, dashboard_command

REPO = Path(__file__).resolve().parents[2]


def _axis_titles(fig) -> list[str]:
    layout = fig.layout.to_plotly_json()
    return [
        v.get("title", {}).get("text", "")
        for k, v in layout.items()
        if (k.startswith("xaxis") or k.startswith("yaxis"))
        and isinstance(v, dict)
        and "matches" not in v  # a shared axis: titled once, on the axis it matches
    ]


def _assert_units(app: AppView) -> None:
    for name, fig in app.figures.items():
        titles = _axis_titles(fig)
        assert titles, name
        for t in titles:
            assert "[" in t and t.endswith("]"), (name, t)


# -- shared UI -------------------------------------------------------------------------


def test_safe_callback_turns_errors_into_a_message_and_keeps_going() -> None:
    app = AppView("t", "s", background=False)
    calls: list[int] = []

    def cb(x: int) -> int:
        if x < 0:
            raise ParameterError("x must be >= 0")
        if x == 0:
            raise ZeroDivisionError("division by zero")
        calls.append(x)
        return x

    safe = app.safe(cb)
    assert safe(-1) is None
    assert app.notice.kind == "error" and app.notice.text == "x must be >= 0"
    assert safe(0) is None
    assert "ZeroDivisionError" in app.notice.text and "Traceback" not in app.notice.value
    assert safe(3) == 3 and calls == [3]


def test_background_run_reports_errors_and_finishes() -> None:
    app = AppView("t", "s", background=True)
    got: list[int] = []
    app.run(lambda: 1 / 0, got.append)
    app.wait()
    assert app.notice.kind == "error" and not app.busy.active
    app.run(lambda: 41 + 1, got.append)
    app.wait()
    assert got == [42] and not app.busy.active


def test_requests_during_work_wait_and_only_the_newest_runs() -> None:
    import threading

    app = AppView("t", "s", background=True)
    gate = threading.Event()
    got: list[int] = []
    app.run(lambda: gate.wait(10) and 1, got.append)
    app.run(lambda: 2, got.append)  # superseded by the next one
    app.run(lambda: 3, got.append)
    assert "next" in app.notice.text
    gate.set()
    app.wait()
    assert got == [1, 3] and not app.busy.active


def test_in_a_kernel_work_runs_off_the_loop_and_drawing_on_it() -> None:
    """As in a kernel: work on a worker thread, widgets touched only on the loop's thread."""
    import asyncio
    import threading

    app = AppView("t", "s", background=True)
    seen: dict[str, object] = {}
    gate = threading.Event()

    def work() -> int:
        seen["work"] = threading.current_thread()
        gate.wait(10)
        return 7

    def draw(value: int) -> None:
        seen["draw"] = threading.current_thread()
        seen["value"] = value

    async def main() -> None:
        app.run(work, draw)
        app.run(lambda: 1 / 0, draw)  # waits, then fails: a message, no traceback
        ticks = 0
        while not gate.is_set():  # the loop keeps answering while the work runs
            await asyncio.sleep(0.01)
            ticks += 1
            if ticks == 5:
                gate.set()
        while app.working:
            await asyncio.sleep(0.01)

    asyncio.run(main())
    main_thread = threading.current_thread()
    assert seen["work"] is not main_thread
    assert seen["draw"] is main_thread and seen["value"] == 7
    assert app.notice.kind == "error" and "ZeroDivisionError" in app.notice.text
    assert not app.busy.active and not app.working


def test_set_traces_sends_one_update_when_the_traces_keep_their_shape() -> None:
    import plotly.graph_objects as go

    from circman_kernel.apps._figures import set_traces

    fig = make_figure(
        [go.Bar(name="a", x=["p", "q"], y=[1, 2]), go.Bar(name="b", x=["p", "q"], y=[3, 4])],
        x_title="KPI [-]",
        y_title="Change [%]",
    )
    sent: list[str] = []
    fig.observe(
        lambda ch: sent.append(ch["name"]) if ch["new"] is not None else None,
        names=["_py2js_update", "_py2js_restyle", "_py2js_addTraces", "_py2js_deleteTraces"],
    )
    set_traces(
        fig, [go.Bar(name="c", x=["p", "q"], y=[5, 6]), go.Bar(name="d", x=["p", "q"], y=[7, 8])]
    )
    assert sent == ["_py2js_update"]  # one message: the page never sees a half-drawn figure
    assert [t.name for t in fig.data] == ["c", "d"]
    assert [list(t.y) for t in fig.data] == [[5, 6], [7, 8]]
    sent.clear()
    set_traces(fig, [go.Scatter(name="e", x=[0, 1], y=[9, 10])])  # new count and type
    assert sent == ["_py2js_deleteTraces", "_py2js_addTraces"]
    assert [(t.type, t.name, list(t.y)) for t in fig.data] == [("scatter", "e", [9, 10])]


def test_figure_axes_need_units_and_kpi_card_formats() -> None:
    with pytest.raises(ParameterError, match="unit"):
        make_figure(x_title="Time", y_title="Power [kW]")
    card = KPICard("Energy", "kWh", fmt="{:,.1f}")
    card.set(1234.56, "vs baseline")
    assert "1,234.6" in card.value and "kWh" in card.value and card.current == 1234.56
    assert readable(ParameterError("bad")) == "bad"


def test_dashboard_mode_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODE_ENV, "published")
    assert AppView("t", "s").mode == "published"
    monkeypatch.setenv(MODE_ENV, "nonsense")
    with pytest.raises(ParameterError, match="published"):
        AppView("t", "s")


# -- dashboard command and notebooks ---------------------------------------------------


def test_dashboard_command_is_published_local_preheated_culled() -> None:
    cmd = dashboard_command(port=8877, env={})
    argv = " ".join(cmd.argv)
    assert cmd.env[MODE_ENV] == "published"
    assert "--Voila.ip=127.0.0.1" in argv and "--port=8877" in argv
    assert "--Voila.port_retries=0" in argv and "--template=circman" in argv
    assert "preheat_kernel=True" in argv and "cull_idle_timeout=600" in argv
    deny = next(a for a in cmd.argv if a.startswith("--VoilaConfiguration.extension_denylist="))
    assert set(json.loads(deny.split("=", 1)[1])) == {"jupysql-plugin", "jupyterlab-plotly"}
    assert str(REPO / "notebooks" / "apps") in cmd.argv
    assert dashboard_command(edit=True, env={}).env[MODE_ENV] == "edit"
    assert "preheat" not in " ".join(dashboard_command(preheat=False, env={}).argv)
    with pytest.raises(ParameterError):
        dashboard_command(port=0, env={})
    template = (
        Path(cmd.env["JUPYTER_PATH"].split(os.pathsep)[0]) / "voila" / "templates" / "circman"
    )
    text = "".join(p.read_text() for p in template.iterdir())
    assert "index.html.j2" in {p.name for p in template.iterdir()}
    # the only CDN URLs in the template are the ones it replaces with data: URLs
    assert text.count("https://") == 2 and "data:text/css," in text


def test_dashboard_serves_plotly_widget_code_once_for_all_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import plotly
    import plotly.graph_objects as go

    from circman_kernel.apps import FIGURE_ESM_ENV
    from circman_kernel.apps._figures import figure_widget
    from circman_kernel.server.dashboard import FIGURE_ESM_PATH, figure_share_dir

    cmd = dashboard_command(env={"CIRCMAN_CACHE_DIR": str(tmp_path)})
    shares = cmd.env["JUPYTER_PATH"].split(os.pathsep)
    served = Path(shares[1]) / "voila" / FIGURE_ESM_PATH
    bundle = Path(plotly.__file__).parent / "package_data" / "widgetbundle.js"
    assert served.read_bytes() == bundle.read_bytes()
    assert cmd.env[FIGURE_ESM_ENV] == FIGURE_ESM_PATH
    # a stale copy (another plotly) is replaced; an up-to-date one is left alone
    served.write_text("stale")
    figure_share_dir(tmp_path)
    assert served.read_bytes() == bundle.read_bytes()
    before = served.stat().st_mtime_ns
    figure_share_dir(tmp_path)
    assert served.stat().st_mtime_ns == before
    # kernels started by the dashboard get figures importing that URL, not a 5 MB copy each
    monkeypatch.setenv(FIGURE_ESM_ENV, FIGURE_ESM_PATH)
    shared = figure_widget(go.Figure(go.Bar(y=[1, 2])))
    assert isinstance(shared, go.FigureWidget) and list(shared.data[0].y) == [1, 2]
    assert FIGURE_ESM_PATH in shared._esm and len(shared._esm) < 5000
    monkeypatch.delenv(FIGURE_ESM_ENV)
    assert len(figure_widget(go.Figure())._esm) > 1_000_000  # JupyterLab: plotly's own


def test_dashboard_static_folder_must_be_writable(tmp_path: Path) -> None:
    from circman_kernel.server.dashboard import figure_share_dir

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="CIRCMAN_CACHE_DIR"):
        figure_share_dir(blocker)


def test_cli_prints_the_voila_command(capsys: pytest.CaptureFixture) -> None:
    from circman_kernel.cli import main

    assert main(["dashboard", "--port", "8899", "--print-command"]) == 0
    out = capsys.readouterr().out
    assert "CIRCMAN_DASHBOARD_MODE=published" in out and "--port=8899" in out
    assert main(["dashboard", "--edit", "--print-command"]) == 0
    assert "CIRCMAN_DASHBOARD_MODE=edit" in capsys.readouterr().out
    assert main(["lab", "--print-command"]) == 0
    assert "jupyterlab" in capsys.readouterr().out


@pytest.mark.parametrize("spec", APPS, ids=lambda s: s.name)
def test_app_notebooks_are_thin_stripped_shells(spec) -> None:
    nb = nbformat.read(REPO / "notebooks" / "apps" / spec.notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) == 1
    assert code[0].source == f"from circman_kernel.apps import {spec.builder}\n\n{spec.builder}()"
    assert code[0].outputs == [] and code[0].execution_count is None
    assert "widgets" not in nb.metadata
    index = (REPO / "notebooks" / "apps" / "index.ipynb").read_text()
    assert f"({spec.notebook})" in json.loads(index)["cells"][0]["source"][0] + "".join(
        json.loads(index)["cells"][0]["source"]
    )


# -- run explorer ----------------------------------------------------------------------


def _traj(offset: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "iteration": 0,
            "step": np.arange(4),
            "variable": "production_line.temperature",
            "value": 22.0 + offset + 0.5 * np.arange(4),
        }
    )


@pytest.fixture
def filled_store(any_store):
    """Three simulations and one LCA run, on each store backend (the explorer's SQL is portable)."""
    store = any_store
    ids = [
        store.save_run(
            "simulation",
            name=f"run {i}",
            kpis={"output_modules": 100.0 + 10 * i, "energy_kwh": 50.0},
            trajectories=_traj(i),
        )
        for i in range(3)
    ]
    store.save_run("lca", name="lca 1", kpis={"total_impact": 7.0})
    return store, ids


def test_run_explorer_filters_compares_and_downloads(filled_store, tmp_path: Path) -> None:
    from circman_kernel.apps import run_explorer_app

    store, ids = filled_store
    app = run_explorer_app(store, background=False)
    _assert_units(app)
    c = app.controls
    assert app.kpis["stored"].current == 4
    c["kind"].value = "simulation"
    assert app.kpis["stored"].current == 3
    c["name"].value = "run 1"
    assert [v for _, v in c["runs"].options] == [ids[1]]
    c["name"].value = ""
    # one run is not a comparison: message, app keeps going
    c["runs"].value = (ids[0],)
    c["compare"].click()
    assert app.notice.kind == "error" and "two or more" in app.notice.text
    c["runs"].value = (ids[0], ids[2])
    c["compare"].click()
    assert app.notice.kind == "ok"
    bars = {d.name: d.y for d in app.figures["kpis"].data}
    assert len(bars) == 2
    # output of run 2 relative to run 0: 120 / 100 = 120 %
    second = [y for n, y in bars.items() if ids[2][:8] in n][0]
    out_idx = [i for i, x in enumerate(app.figures["kpis"].data[0].x) if x.startswith("Output")][0]
    assert second[out_idx] == pytest.approx(120.0)
    traj = app.figures["trajectory"].data
    assert [list(t.y) for t in traj] == [[22.0, 22.5, 23.0, 23.5], [24.0, 24.5, 25.0, 25.5]]
    assert app.figures["trajectory"].layout.yaxis.title.text == "Line temperature [degC]"
    # a Monte Carlo run: the trajectory drawn is the median over iterations at each step
    mc = pd.concat(
        [_traj(0).assign(iteration=0), _traj(10).assign(iteration=1), _traj(1).assign(iteration=2)]
        + [_traj(0).assign(iteration=3, variable="output_modules")]
    )
    mc_id = store.save_run("monte_carlo", name="mc", kpis={"output_modules": 90.0}, trajectories=mc)
    from circman_kernel.apps.run_explorer import ALL

    c["kind"].value = ALL
    c["runs"].value = (mc_id, ids[0])
    c["compare"].click()
    assert app.notice.kind == "ok"
    assert c["variable"].options == ("output_modules", "production_line.temperature")
    traj = app.figures["trajectory"].data
    assert [t.name for t in traj] == [mc_id[:8], ids[0][:8]]
    # iterations at offsets 0, 10 and 1: the median is the offset-1 curve
    assert list(traj[0].y) == [23.0, 23.5, 24.0, 24.5]
    assert list(traj[0].x) == [0, 1, 2, 3]
    from circman_kernel.apps.run_explorer import runs_download

    name, data = runs_download(store, [ids[0], ids[2]], "csv")
    table = pd.read_csv(__import__("io").BytesIO(data))
    assert name.endswith(".csv") and list(table["run_id"]) == [ids[0], ids[2]]
    assert list(table["output_modules"]) == [100.0, 120.0]
    _, pq = runs_download(store, [ids[0], ids[2]], "parquet")
    pq_file = tmp_path / "dl.parquet"
    pq_file.write_bytes(pq)
    back = duckdb.sql(f"SELECT run_id, output_modules FROM '{pq_file}'").df()
    assert (
        back["output_modules"].tolist() == [100.0, 120.0] and back["run_id"].tolist()[0] == ids[0]
    )
    c["parquet"].click()
    assert 'download="circman-runs.parquet"' in app.downloads.value


def test_run_explorer_sees_runs_stored_later_and_cannot_delete_when_published(
    filled_store, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from circman_kernel.apps import run_explorer_app
    from circman_kernel.store.run_store import RunStore

    store, ids = filled_store
    monkeypatch.setenv(MODE_ENV, "published")
    published = RunStore(store_url, published=True)  # the same store, as published
    app = run_explorer_app(published, background=False)
    assert app.controls["delete"] not in _all_widgets(app)
    store.save_run("scenario", name="later")
    app.controls["refresh"].click()
    assert app.kpis["stored"].current == 5
    app.controls["runs"].value = (ids[0],)
    app.controls["delete"].click()  # even if a viewer reached it, the store refuses
    assert app.notice.kind == "error" and "published" in app.notice.text.lower()
    assert len(store.runs()) == 5
    with pytest.raises((PermissionDeniedError, StoreError)):
        published.delete_runs([ids[0]])


def _all_widgets(w) -> list:
    out = [w]
    for child in getattr(w, "children", ()):
        out.extend(_all_widgets(child))
    return out


# -- line monitor ----------------------------------------------------------------------


def test_line_monitor_steps_alerts_and_acknowledges(config) -> None:
    from circman_kernel.apps import line_monitor_app

    app = line_monitor_app(config, background=False)
    _assert_units(app)
    fig = app.figures["process"]
    assert len(fig.data[0].y) == 1
    app.controls["step"].click()
    assert len(fig.data[0].y) == 11
    # the first replayed rows of data/sample_shift.csv
    assert fig.data[0].y[1:4] == pytest.approx((22.488, 22.476, 22.526))
    assert app.kpis["alerts"].current == 0
    app.controls["manual_temperature"].value = 31.0
    app.controls["manual"].click()
    assert fig.data[0].y[-1] == 31.0
    assert app.kpis["alerts"].current == 1
    row = app.alerts_box.children[0]
    assert "above the upper threshold 27" in row.children[1].value
    row.children[0].click()
    assert app.kpis["alerts"].current == 0 and "No open alerts" in app.alerts_box.children[0].value
    # bad manual input: message, then the app still answers
    app.controls["manual_temperature"].value = 500.0
    app.controls["manual"].click()
    assert app.notice.kind == "error" and "between" in app.notice.text
    app.controls["source"].value = "Simulated sensors"
    app.controls["step"].click()
    assert app.notice.kind != "error" and len(fig.data[0].y) == 22


# -- simulation and what-if ------------------------------------------------------------


def test_simulation_fan_chart_follows_parameters(config, store) -> None:
    from circman_kernel.apps import simulation_app

    app = simulation_app(config, store=store, background=False)
    _assert_units(app)
    fig = app.figures["fan"]
    p5, p95, p50 = fig.data[1].y, fig.data[0].y, fig.data[2].y
    assert np.all(np.asarray(p5) <= np.asarray(p50) + 1e-9)
    assert np.all(np.asarray(p50) <= np.asarray(p95) + 1e-9)
    before = p50[-1]
    app.controls["target_temperature"].value = 30.0
    assert fig.data[2].y[-1] > before + 3.0  # the line warms towards the new set point
    app.controls["variable"].value = "output_modules"
    assert fig.layout.yaxis.title.text == "Output [modules]"
    app.controls["seed"].value = -1
    assert app.notice.kind == "error" and "seed" in app.notice.text
    app.controls["seed"].value = 7
    assert app.notice.kind == "info" and "seed 7" in app.notice.text
    app.controls["save"].click()
    assert app.notice.kind == "ok"
    assert store.runs("monte_carlo")["name"].tolist() == ["dashboard MC 30 degC"]


def test_scenarios_compare_against_baseline_and_reject_empty_name(config) -> None:
    from circman_kernel.apps import scenarios_app

    app = scenarios_app(config, background=False)
    _assert_units(app)
    absolute = app.figures["absolute"]
    assert list(absolute.data[0].x) == ["baseline", "faster cycle", "warmer line"]
    out = dict(zip(absolute.data[0].x, absolute.data[0].y, strict=True))
    # 30 s -> 25 s per module: more modules in the same time
    assert out["faster cycle"] > out["baseline"]
    base_trace = [t for t in app.figures["diff"].data if t.name == "baseline"][0]
    assert np.allclose(base_trace.y, 0.0)
    app.controls["kpi"].value = "defect_rate"
    assert absolute.layout.yaxis.title.text == "Defect rate [-]"
    app.controls["add"].click()  # empty name
    assert app.notice.kind == "error" and "name" in app.notice.text
    app.controls["name"].value = "cool"
    app.controls["target_temperature"].value = 20.0
    app.controls["add"].click()
    assert app.notice.kind != "error" and "cool" in absolute.data[0].x


# -- LCA -------------------------------------------------------------------------------


def test_lca_waterfall_units_region_and_bad_yield(config) -> None:
    from circman_kernel.apps import lca_app

    app = lca_app(config, samples=500, background=False)
    _assert_units(app)
    wf = app.figures["waterfall"]
    c = app.controls
    c["unit"].value = "per module"
    assert wf.layout.yaxis.title.text == "Impact [kg CO2-eq/module]"
    per_module = list(wf.data[0].y)
    # the manual's total (16.3.3) is manufacturing + use + end of life; the recycling
    # credit comes beside it (module D) and the net adds it
    assert list(wf.data[0].x)[3:] == ["Total", "Recycling benefit (module D)", "Net with recycling"]
    assert list(wf.data[0].measure) == ["relative"] * 3 + ["total", "relative", "total"]
    assert per_module[3] == pytest.approx(sum(per_module[:3]))
    assert per_module[5] == pytest.approx(per_module[3] + per_module[4])
    assert per_module[4] < 0 and app.kpis["total"].current == pytest.approx(per_module[3])
    assert app.kpis["net"].current == pytest.approx(per_module[5])
    c["unit"].value = "per kWp"  # one module of 0.4 kWp: 2.5x the per-module numbers
    assert wf.data[0].y[0] == pytest.approx(per_module[0] / 0.4)
    c["unit"].value = "per module"
    c["region"].value = "Sweden"
    # use phase = operation - avoided grid emissions = 25 y * 400 kWh/y * (0.01 - 0.013)
    assert wf.data[0].y[1] == pytest.approx(25 * 400 * (0.01 - 0.013))
    band = app.figures["uncertainty"].data[0]
    assert np.all(np.asarray(band.error_y.array) >= 0) and np.all(
        np.asarray(band.error_y.arrayminus) >= 0
    )
    c["generation"].value = 0.0
    assert app.notice.kind == "error" and "Yield" in app.notice.text
    c["generation"].value = 300.0
    assert app.notice.kind == "info" and "Sweden" in app.notice.text


# -- optimisation ----------------------------------------------------------------------


def test_optimization_honesty_pareto_impossible_constraint_and_apply(
    config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from circman_kernel.apps import optimization_app

    monkeypatch.setenv("CIRCMAN_CACHE_DIR", str(tmp_path / "cache"))
    app = optimization_app(config, background=False)
    _assert_units(app)
    fb, fp = app.figures["before_after"], app.figures["pareto"]
    assert [t.name for t in fb.data] == ["predicted (surrogate)", "simulated (process model)"]
    assert len(fp.data[0].x) >= 3
    # the chart draws the optimiser's front: energy per module vs output, carbon as colour
    assert list(fp.data[0].x) == app.front["energy_kwh_per_module"].tolist()
    assert list(fp.data[0].y) == app.front["output_amount"].tolist()
    before = fb.data[0].y
    app.controls["line_temperature"].value = 29.0  # a hot line: another optimum
    assert fb.data[0].y != before
    assert app.kpis["verdict"].current in (
        "reproduced",
        "partly reproduced",
        "not reproduced",
        "no gain claimed",
    )
    app.controls["min_quality"].value = 0.999  # defect <= 0.001 vs configured >= 0.01
    assert app.notice.kind == "error" and "empty" in app.notice.text
    app.controls["min_quality"].value = 0.95
    assert app.notice.kind == "info"
    app.controls["apply"].click()
    assert app.notice.kind == "ok"
    baseline, whatif = app.figures["whatif"].data
    assert len(baseline.y) == len(whatif.y) == 25 and whatif.y[-1] > 0


def test_culler_spares_pooled_and_just_handed_out_kernels() -> None:
    import asyncio

    from circman_kernel.server.dashboard import PoolAwareKernelManager

    km = PoolAwareKernelManager(cull_idle_timeout=600)
    loop = asyncio.new_event_loop()
    try:
        pooled = loop.create_future()
        pooled.set_result({"kernel_id": "k-pool"})
    finally:
        loop.close()
    km._pools = {"lca.ipynb": [pooled]}
    assert km._spare("k-pool")  # waiting in the pool
    assert km._spare("k-new")  # just handed to a page that has not connected yet
    km._kernel_connections["k-open"] = 1
    assert not km._spare("k-open")  # a connected page: the stock rules apply
    km._kernel_connections["k-open"] = 0
    assert not km._spare("k-open")  # ... and once closed it may be culled
    km.cull_idle_timeout = 0
    assert not km._spare("k-new")  # the grace period is over
