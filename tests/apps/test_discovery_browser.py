"""The discovery dashboard in a real browser: Voila (as ``circman dashboard`` runs it) + Chromium.

The page draws PRIM's trade-off (coverage against density) and the chosen box on the pairs
plot for the default threshold; a new threshold typed into the page redraws both, and the
limits table follows. Figures are read back from plotly.js in the page. Any request to a
host other than the local server fails the test.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
from voila_server import CHROMIUM, CHROMIUM_ARGS, labelled_input, voila_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.xdist_group("jupyter-kernels"),
]  # one at a time: kernels compete for 2 cores

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
TIMEOUT_MS = 120_000  # a kernel started for the view, the sweep, then the workbench's import

_FIGURE = "Array.from(document.querySelectorAll('.js-plotly-plot'))[{i}]"
_TRADE_OFF = (
    "() => { const g = " + _FIGURE.format(i=0) + "; return g && g.data && g.data.length > 1"
    " && g.data[0].x && g.data[0].x.length > 3 ? g.data[0].x.length : 0; }"
)
_SHAPES = (
    "() => { const g = " + _FIGURE.format(i=1) + "; return (g && g.layout && g.layout.shapes"
    " || []).map(s => [s.x0, s.x1, s.y0, s.y1]); }"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    with voila_server(tmp_path_factory.mktemp("voila-discovery"), preheat=False) as srv:
        yield srv


@pytest.fixture
def page(server, request):
    from playwright.sync_api import sync_playwright

    foreign: list[str] = []
    console: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1100})
        pg.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        pg.on("pageerror", lambda e: console.append(f"page error: {e}"))

        def on_request(req) -> None:
            if not req.url.startswith(("data:", "blob:", "about:")) and urlparse(
                req.url
            ).hostname not in ("127.0.0.1", "localhost"):
                foreign.append(req.url)

        pg.on("request", on_request)
        yield pg
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"{request.node.name}.console.log").write_text("\n".join(console))
        browser.close()
    assert foreign == [], f"requests left the machine: {foreign}"


def _state(page) -> tuple[list, list, str]:
    trade = page.evaluate(
        "() => { const g = " + _FIGURE.format(i=0) + "; return [Array.from(g.data[0].x),"
        " Array.from(g.data[0].y)]; }"
    )
    return trade, page.evaluate(_SHAPES), page.locator(".cm-msg").first.inner_text()


def test_discovery_draws_trade_off_and_box_and_follows_the_threshold(page, server) -> None:
    page.goto(server.app_url("discovery"), timeout=TIMEOUT_MS)
    page.wait_for_selector(".circman-app", timeout=TIMEOUT_MS)
    page.wait_for_function(_TRADE_OFF, timeout=TIMEOUT_MS)
    page.wait_for_function(f"() => ({_SHAPES})().length === 3", timeout=60_000)
    (cov, den), shapes, message = _state(page)
    assert "defect_rate >" in message and "Traceback" not in page.inner_text("body")
    assert cov[0] == pytest.approx(1.0) and all(0.0 <= v <= 1.0 for v in cov + den)
    assert den[-1] > den[0]  # peeling trades coverage for density
    # the box on target temperature x base defect rate sits at the hot end of 16..36 degC
    x0, x1, _, _ = shapes[0]
    assert 25.0 < x0 < x1 <= 36.0
    table = page.locator(".cm-limits").inner_text()
    assert "Target temperature [degC]" in table
    page.screenshot(path=str(ARTIFACTS / "discovery-p90.png"), full_page=True)

    field = labelled_input(page, "Threshold")
    field.fill("0.03")
    field.press("Enter")
    page.wait_for_function(
        "(old) => { const g = " + _FIGURE.format(i=0) + "; return g && g.data && g.data[0].x"
        " && JSON.stringify(Array.from(g.data[0].x)) !== old; }",
        arg=__import__("json").dumps(cov),
        timeout=60_000,
    )
    page.get_by_text("defect_rate > 0.03", exact=False).first.wait_for(timeout=60_000)
    (cov2, den2), shapes2, message2 = _state(page)
    assert "defect_rate > 0.03" in message2
    assert den2[0] > den[0]  # more of the sweep is of interest at the lower threshold
    assert shapes2 != shapes and shapes2[0][0] < x0  # the box reaches to cooler lines
    assert "Traceback" not in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "discovery-0.03.png"), full_page=True)
