"""The dashboards in a real browser: Voila (as ``circman dashboard`` runs it) + Chromium.

One Voila server for the module (preheated pool, published mode, temporary run store);
every app is opened, checked for tracebacks, driven through a control whose effect on the
plotly figure's data is read back from the page, and screenshotted to ``test-artifacts/``.
Any request to a host other than the local server fails the test (works offline).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from voila_server import CHROMIUM, CHROMIUM_ARGS, labelled_input, labelled_select, voila_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.xdist_group("jupyter-kernels"),
]  # one at a time: kernels compete for 2 cores

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
APP_TIMEOUT_MS = 90_000  # first view may wait for its preheated kernel on a busy machine
BAD_TEXT = ("Traceback", "There was an error when executing", "Error in cell")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    with voila_server(tmp_path_factory.mktemp("voila"), refill_delay_s=600) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server, request):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    foreign: list[str] = []
    console: list[str] = []  # kept as an artefact: what the page said, for a failed run
    pg.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    pg.on("pageerror", lambda e: console.append(f"page error: {e}"))

    def on_request(req) -> None:
        host = urlparse(req.url).hostname
        if req.url.startswith(("data:", "blob:", "about:")):
            return
        if host not in ("127.0.0.1", "localhost"):
            foreign.append(req.url)

    pg.on("request", on_request)
    yield pg
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{request.node.name}.console.log").write_text("\n".join(console))
    ctx.close()
    assert foreign == [], f"requests left the machine: {foreign}"


def open_app(page, server, name: str) -> None:
    page.goto(server.app_url(name), timeout=APP_TIMEOUT_MS)
    page.wait_for_selector(".circman-app", timeout=APP_TIMEOUT_MS)
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    assert_clean(page)


def assert_clean(page) -> None:
    text = page.inner_text("body")
    for bad in BAD_TEXT:
        assert bad not in text, f"{bad!r} on the page:\n{text[:2000]}"


def plot_data(page, index: int = 0) -> list:
    """The ``data`` plotly.js holds for the ``index``-th figure of the page (x and y)."""
    return page.evaluate(
        "(i) => Array.from(document.querySelectorAll('.js-plotly-plot'))[i].data"
        ".map(t => ({name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || [])}))",
        index,
    )


def wait_plot(page, index: int, predicate: str, what: str, timeout_ms: int = 40_000) -> list:
    """Wait until figure ``index``'s data satisfies the JS ``predicate`` (over ``d``); return it.

    Waiting for the expected figure, not for any change: a figure may pass through
    intermediate states (traces removed, then added) on its way there.
    """
    try:
        page.wait_for_function(
            "([i, body]) => { const g = Array.from(document.querySelectorAll('.js-plotly-plot'))[i];"
            " if (!g || !g.data) return false;"
            " const d = g.data.map(t => ({name: t.name, x: Array.from(t.x || []),"
            " y: Array.from(t.y || [])}));"
            " return new Function('d', 'return (' + body + ');')(d); }",
            arg=[index, predicate],
            timeout=timeout_ms,
        )
    except Exception:
        screenshot(page, "failed-wait")
        raise AssertionError(
            f"figure {index} never showed {what} (last data: {plot_data(page, index)!r}); "
            f"message: {notice(page)!r}"
        ) from None
    return plot_data(page, index)


def wait_points(page, index: int, n: int, timeout_ms: int = 40_000) -> None:
    """Wait until the first trace of figure ``index`` holds at least ``n`` points."""
    wait_plot(page, index, f"d.length > 0 && d[0].y.length >= {n}", f">= {n} points", timeout_ms)


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def fill_labelled(page, label: str, value: str) -> None:
    field = labelled_input(page, label)
    field.fill(value)
    field.press("Enter")


def click(page, text: str) -> None:
    page.get_by_role("button", name=text, exact=True).first.click()


def notice(page) -> str:
    loc = page.locator(".cm-msg")
    return loc.first.inner_text() if loc.count() else ""


def test_landing_page_lists_every_app(page, server) -> None:
    from circman_kernel.server.dashboard import APPS

    page.goto(server.url + "voila/render/index.ipynb", timeout=APP_TIMEOUT_MS)
    page.wait_for_selector("a[href$='run_explorer.ipynb']", timeout=APP_TIMEOUT_MS)
    for spec in APPS:
        assert page.locator(f"a[href$='{spec.notebook}']").count() == 1
    screenshot(page, "index")


def test_line_monitor_feed_alert_and_acknowledge(page, server) -> None:
    open_app(page, server, "line_monitor")
    wait_points(page, 0, 1)
    before = plot_data(page)
    n = len(before[0]["y"]) + 10
    click(page, "Step 10 readings")
    after = wait_plot(page, 0, f"d[0].y.length === {n}", f"{n} readings")
    assert after[0]["x"][: len(before[0]["x"])] == before[0]["x"]  # the history grew by 10
    # bad input: a readable message, no traceback; the app answers the next input
    fill_labelled(page, "Temp [degC]", "500")
    click(page, "Apply manual reading")
    page.wait_for_selector(".cm-msg.error", timeout=40_000)
    assert "between" in notice(page)
    assert_clean(page)
    fill_labelled(page, "Temp [degC]", "31")
    click(page, "Apply manual reading")
    alert = page.get_by_text("above the upper threshold 27")
    alert.wait_for(timeout=40_000)
    assert page.locator(".cm-msg.ok").count() == 1
    screenshot(page, "line_monitor")
    click(page, "Acknowledge")
    page.get_by_text("No open alerts.").wait_for(timeout=40_000)
    assert page.get_by_text("above the upper threshold 27").count() == 0


def test_run_explorer_shows_runs_stored_by_another_process(page, server) -> None:
    open_app(page, server, "run_explorer")
    code = (
        "from circman_kernel.store.run_store import RunStore\n"
        f"s = RunStore({str(server.db)!r})\n"
        "s.save_run('simulation', name='from-other-process-A', kpis={'output_modules': 100.0})\n"
        "s.save_run('simulation', name='from-other-process-B', kpis={'output_modules': 150.0})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=server.env, timeout=60)
    click(page, "Refresh")
    select = page.locator(".widget-select-multiple select")
    page.locator("option", has_text="from-other-process-A").wait_for(timeout=40_000)
    labels = select.locator("option").all_inner_texts()
    assert any("from-other-process-B" in t for t in labels)
    # compare with one run: message; then two: the bars appear
    select.select_option(label=[t for t in labels if "process-A" in t][0])
    click(page, "Compare selected")
    page.wait_for_selector(".cm-msg.error", timeout=40_000)
    select.select_option(label=[t for t in labels if "from-other-process" in t])
    click(page, "Compare selected")
    after = wait_plot(page, 0, "d.length === 2", "two compared runs")
    # bars are relative to the first selected (newest) run: B = 100 %, A = 100/150
    ys = sorted(trace["y"][0] for trace in after)
    assert ys == pytest.approx([100.0 / 1.5, 100.0])
    assert_clean(page)
    screenshot(page, "run_explorer")


def test_simulation_slider_redraws_fan_chart(page, server) -> None:
    open_app(page, server, "simulation")
    wait_points(page, 0, 3)
    before = plot_data(page)
    assert before[2]["y"][-1] < 40  # the line temperature [degC] first
    labelled_select(page, "Variable").select_option(label="Output [modules]")
    after = wait_plot(page, 0, "d[2].y[d[2].y.length - 1] > 50", "cumulative modules")
    assert len(after[2]["y"]) == len(before[2]["y"])
    assert_clean(page)
    screenshot(page, "simulation")


def test_scenarios_empty_name_then_valid_scenario(page, server) -> None:
    open_app(page, server, "scenarios")
    assert "cool line" not in plot_data(page, 1)[0]["x"]
    click(page, "Add scenario")
    page.wait_for_selector(".cm-msg.error", timeout=40_000)
    assert "name" in notice(page)
    fill_labelled(page, "Scenario name", "cool line")
    click(page, "Add scenario")
    after = wait_plot(page, 1, "d[0].x.includes('cool line')", "the new scenario")
    assert after[0]["x"][0] == "baseline" and len(after[0]["x"]) == len(after[0]["y"])
    wait_plot(page, 0, "d.some(t => t.name === 'cool line')", "the new scenario's bars")
    assert_clean(page)
    screenshot(page, "scenarios")


def test_lca_region_changes_waterfall(page, server) -> None:
    open_app(page, server, "lca")
    wait_points(page, 0, 5)
    before = plot_data(page)
    labelled_select(page, "Grid region").select_option(label="Sweden")
    use_before = before[0]["y"][1]
    after = wait_plot(page, 0, f"d[0].y[1] !== {use_before!r}", "a new use phase")
    # Sweden's grid (0.013) is cleaner than the EU average (0.275): fewer emissions avoided
    assert use_before < after[0]["y"][1]
    assert_clean(page)
    screenshot(page, "lca")


def test_optimization_impossible_constraint_then_valid(page, server) -> None:
    open_app(page, server, "optimization")
    wait_points(page, 0, 1)
    before = plot_data(page)
    fill_labelled(page, "Line now [degC]", "29")
    after = wait_plot(
        page,
        0,
        f"d.length === {len(before)} && "
        f"JSON.stringify(d[0].y) !== JSON.stringify({json.dumps(before[0]['y'])})",
        "the hot line's before/after",
    )
    assert after[0]["y"] != before[0]["y"]
    # the impossible constraint: max power 1 kW under the quality objective
    labelled_select(page, "Objective").select_option(label="Maximise quality (power cap)")
    fill_labelled(page, "Max. power [kW]", "1")
    page.get_by_text("no feasible parameters").wait_for(timeout=60_000)
    assert_clean(page)
    # the next valid input is answered
    fill_labelled(page, "Max. power [kW]", "200")
    page.get_by_text("the process model says").wait_for(timeout=60_000)
    screenshot(page, "optimization")
