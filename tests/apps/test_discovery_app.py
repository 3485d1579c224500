"""The discovery app driven without a browser: threshold -> trajectory, box, table, stored run."""

from __future__ import annotations

import numpy as np
import pytest

from circman_kernel.apps._figures import variable_label


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from circman_kernel.apps import discovery_app
    from circman_kernel.store import RunStore

    store = RunStore(tmp_path_factory.mktemp("discovery") / "runs.duckdb")
    view = discovery_app(store=store, points=512, steps=100, background=False)
    view.store = store
    return view


def _box(app, name: str) -> tuple[float, float]:
    shape = app.figures["pairs"].layout.shapes[0]  # target temperature x base defect rate
    return (shape.x0, shape.x1) if name == "x" else (shape.y0, shape.y1)


def test_first_view_shows_the_p90_defect_box(app) -> None:
    found = app.found
    y = app.outcomes["defect_rate"]
    assert app.controls["threshold"].value == pytest.approx(np.nanpercentile(y, 90), abs=1e-6)
    trade = app.figures["trade_off"].data[0]
    np.testing.assert_allclose(trade.x, found.trajectory["coverage"])
    np.testing.assert_allclose(trade.y, found.trajectory["density"])
    lim = found.limits()
    # defects rise with the temperature above the band: the box sits at the hot end
    assert "target_temperature" in lim.index and lim.loc["target_temperature", "min"] > 27.0
    assert _box(app, "x") == pytest.approx(tuple(lim.loc["target_temperature", ["min", "max"]]))
    assert len(app.figures["pairs"].data) == 6 and len(app.figures["pairs"].layout.shapes) == 3
    assert "Target temperature [degC]" in app.limits_table.value
    assert app.kpis["coverage"].current == pytest.approx(found.coverage)
    assert app.kpis["interest"].current == int(np.sum(y > app.controls["threshold"].value))


def test_threshold_change_redraws_and_stores_each_discovery(app) -> None:
    before = app.found
    runs_before = len(app.store.runs(kind="sweep", tags="discovery"))
    app.controls["threshold"].value = 0.03
    after = app.found
    assert after is not before and after.cases.sum() > before.cases.sum()
    np.testing.assert_allclose(app.figures["trade_off"].data[0].x, after.trajectory["coverage"])
    assert len(app.store.runs(kind="sweep", tags="discovery")) == runs_before + 1
    assert app.notice.kind == "ok" and after.run_id[:8] in app.notice.text


def test_box_slider_inspects_any_box_without_rerunning(app) -> None:
    found = app.found
    app.controls["box"].value = 1
    assert app.found is found
    star = app.figures["trade_off"].data[1]
    assert (star.x[0], star.y[0]) == pytest.approx(
        tuple(found.trajectory.loc[1, ["coverage", "density"]])
    )


def test_kpi_change_picks_the_side_of_interest_and_bad_thresholds_are_messages(app) -> None:
    app.controls["kpi"].value = "output_modules"
    assert app.controls["op"].value == "<"
    assert app.found.condition.startswith("output_modules <")
    assert app.figures["trade_off"].layout.xaxis.title.text == "Coverage [-]"
    app.controls["threshold"].value = -5.0  # nothing makes fewer than -5 modules
    assert app.notice.kind == "error" and "loosen" in app.notice.text
    app.controls["threshold"].value = 1e6
    assert app.notice.kind == "error" and "tighten" in app.notice.text
    median = float(np.median(app.outcomes["output_modules"]))
    app.controls["threshold"].value = median
    assert app.notice.kind == "ok" and variable_label("output_modules")[0] == "Output"
    assert app.found.cases.sum() == np.sum(app.outcomes["output_modules"] < median)
