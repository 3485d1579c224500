"""The dashboards' figure module (``_figures._SHARED_ESM``) in a real Chromium, without Voila.

The page, plotly's widget code and the widget models are stand-ins served by Playwright
(nothing leaves the machine): the test checks that a figure is ready for anywidget before
plotly's code is loaded, that the code is loaded once for all figures of a page and only
when a figure is shown, and that updates the kernel sent before it ran reach it, in order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from voila_server import CHROMIUM, CHROMIUM_ARGS

from circman_kernel.apps._figures import _SHARED_ESM
from circman_kernel.server.dashboard import FIGURE_ESM_PATH

pytestmark = [pytest.mark.browser]

ORIGIN = "http://circman.test"
# plotly's widget code as anywidget sees it: a factory of {initialize, render}
FAKE_PLOTLY = """
globalThis.evaluations = (globalThis.evaluations || 0) + 1;
export default () => {
  let model;
  return {
    initialize(ctx) {
      model = ctx.model;
      const log = (entry) => globalThis.log.push([model.id, entry]);
      log("initialize");
      model.on("change:_py2js_restyle", () => {
        const msg = model.get("_py2js_restyle");
        if (msg !== null) log(`restyle ${msg.n}`);
      });
    },
    render({ el }) {
      globalThis.log.push([model.id, "render"]);
      el.textContent = "drawn";
      return () => {};
    },
  };
};
"""
PAGE = '<html><body data-base-url="/voila/"><p>app</p></body></html>'
SCRIPT = """async (shim) => {
  globalThis.log = [];
  const model = (id) => {
    const state = { _py2js_restyle: null }, handlers = {};
    return {
      id,
      get: (k) => state[k],
      set(k, v) { if (state[k] !== v) { state[k] = v; (handlers[`change:${k}`] || []).forEach((f) => f()); } },
      on(e, f) { (handlers[e] ||= []).push(f); },
      off(e, f) { handlers[e] = (handlers[e] || []).filter((g) => g !== f); },
    };
  };
  const send = (m, n) => { m.set("_py2js_restyle", { n }); m.set("_py2js_restyle", null); };
  const url = URL.createObjectURL(new Blob([shim], { type: "text/javascript" }));
  const mod = await import(url);
  const [a, b] = [model("a"), model("b")];
  const [fa, fb] = [mod.default(), mod.default()];
  const initResults = [fa.initialize({ model: a }), fb.initialize({ model: b })];
  send(a, 1);
  send(a, 2);  // both before plotly's code exists
  const loadedBeforeShown = globalThis.evaluations || 0;
  const el = document.createElement("div");
  document.body.append(el);
  await fa.render({ model: a, el });
  send(a, 3);  // after: straight to plotly's code
  const el2 = document.createElement("div");
  document.body.append(el2);
  await fb.render({ model: b, el: el2 });
  return { log: globalThis.log, evaluations: globalThis.evaluations, loadedBeforeShown,
           initResults: initResults.map((r) => r === undefined), text: el.textContent };
}"""


@pytest.fixture
def page():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page()
        requests: list[str] = []

        def serve(route) -> None:
            requests.append(route.request.url)
            if route.request.url.endswith(FIGURE_ESM_PATH):
                route.fulfill(body=FAKE_PLOTLY, content_type="text/javascript")
            else:
                route.fulfill(body=PAGE, content_type="text/html")

        pg.route(f"{ORIGIN}/**", serve)
        pg.goto(f"{ORIGIN}/voila/render/app.ipynb")
        pg.requests = requests
        yield pg
        browser.close()


def test_figures_load_plotly_once_when_shown_and_replay_earlier_updates(page) -> None:
    out = page.evaluate(SCRIPT, _SHARED_ESM % json.dumps(FIGURE_ESM_PATH))
    # ready for anywidget at once: initialize returns without waiting for plotly's code
    assert out["initResults"] == [True, True]
    assert out["loadedBeforeShown"] == 0
    # one evaluation of plotly's code for two figures, fetched from the template's folder
    assert out["evaluations"] == 1
    assert page.requests.count(f"{ORIGIN}/voila/{FIGURE_ESM_PATH}") == 1
    by_model = {m: [e for k, e in out["log"] if k == m] for m in ("a", "b")}
    # updates sent before the code ran arrive after its initialize, in order, then live ones
    assert by_model["a"] == ["initialize", "restyle 1", "restyle 2", "render", "restyle 3"]
    assert by_model["b"] == ["initialize", "render"]
    assert out["text"] == "drawn"
