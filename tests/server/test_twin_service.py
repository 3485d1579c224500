"""The shared live twin: its feed, snapshots, acknowledgements, manual readings, persistence,
and the line monitor following it through a real API server (tornado on a thread, HTTP)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from team_server import breach_csv
from voila_server import free_port

from circman_kernel.core.errors import ParameterError, StateValidationError
from circman_kernel.server.context import ServerContext
from circman_kernel.server.twin_service import TwinService, parse_source, wait_for


def test_sources_parse_or_say_what_is_wrong(tmp_path) -> None:
    assert parse_source("simulated").seed == 1 and parse_source("simulated:7").seed == 7
    csv = tmp_path / "x.csv"
    csv.write_text("timestamp\n")
    assert parse_source(f"csv:{csv}").path == csv.resolve()
    for bad, text in [("csv:/no/such.csv", "does not exist"), ("simulated:x", "not an integer"),
                      ("mqtt://line", "unknown twin source")]:  # fmt: skip
        with pytest.raises(ParameterError, match=text):
            parse_source(bad)


@pytest.fixture
def service(tmp_path, store, config):
    csv = breach_csv(tmp_path / "shift.csv", rows=30, breach_at=3)
    svc = TwinService(f"csv:{csv}", config=config, store=store, rate_hz=50, persist_every_s=0)
    yield svc
    svc.stop()


def test_feed_alert_ack_and_persistence(service, store) -> None:
    assert service.twin.get_current_state()["timestamp"] == "2025-02-24T05:59:59"
    service.start()
    assert wait_for(lambda: service.status()["exhausted"] and service.updates == 30, 20)
    snap = service.snapshot(5, ("production_line.temperature",))
    assert snap["history"]["production_line.temperature"][-1] == pytest.approx(
        service.twin.get_current_state()["production_line"]["temperature"]
    )
    assert snap["open_count"] == 1
    (alert,) = snap["open_alerts"]
    assert alert["message"] == "production_line.temperature = 31, above the upper threshold 27"
    assert service.snapshot(5, ("production_line.temperature",)) is snap  # same version: reused
    assert service.acknowledge(alert["id"]) is True
    assert service.snapshot(5, ("production_line.temperature",))["open_alerts"] == []
    assert service.acknowledge("no-such-event") is False
    run_id = service.persist()
    run = store.get_run(run_id)
    assert run["kind"] == "replay" and run["kpis"]["rows"] == 30.0 and "live-twin" in run["tags"]
    assert service.persist() is None  # nothing new since
    service.stop()
    stored = store.events(category="threshold")
    assert stored.loc[stored["id"] == alert["id"], "acknowledged"].item() is True


def test_manual_reading_is_validated_and_stamped_after_the_last(service) -> None:
    before = service.twin.get_current_state()["timestamp"]
    state = service.manual_reading({"production_line": {"temperature": 24.0}})
    assert state["production_line"]["temperature"] == 24.0
    assert state["timestamp"] == "2025-02-24T06:00:00" and before == "2025-02-24T05:59:59"
    with pytest.raises(StateValidationError):
        service.manual_reading({"production_line": {"temperature": "hot"}})
    with pytest.raises(ParameterError, match="non-empty"):
        service.manual_reading({})
    events = service.events(category="threshold", since=None, limit=10)
    assert events == []  # 24 degC is in band


def test_line_monitor_follows_the_shared_twin_over_http(
    tmp_path, store, config, monkeypatch
) -> None:
    monkeypatch.setenv("CIRCMAN_DASHBOARD_MODE", "published")
    from circman_kernel.apps import line_monitor_app
    from circman_kernel.server.standalone import api_application

    csv = breach_csv(tmp_path / "shift.csv", rows=30, breach_at=3)
    svc = TwinService(f"csv:{csv}", config=config, store=store, rate_hz=50, persist_every_s=0)
    ctx = ServerContext(store_url=store.path, twin=svc, config=config)
    port = free_port()
    ready = threading.Event()
    holder: dict = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        holder["loop"] = loop
        holder["server"] = api_application(ctx).listen(port, "127.0.0.1")
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        svc.start()
        assert wait_for(lambda: svc.updates == 30, 20)
        app = line_monitor_app(config, background=False, twin_api=f"http://127.0.0.1:{port}/api/v1")
        assert app.controls["source"].options == ("Shared line twin (all viewers)",)  # published
        app.refresh()
        fig = app.figures["process"]
        assert len(fig.data[0].y) == 31  # the initial state and 30 readings
        assert fig.data[0].y[-1] == pytest.approx(
            svc.twin.get_current_state()["production_line"]["temperature"]
        )
        assert app.kpis["alerts"].current == 1
        row = app.alerts_box.children[0]
        assert "above the upper threshold 27" in row.children[1].value
        row.children[0].click()  # the local user (manager) may acknowledge
        assert app.notice.kind == "ok", app.notice.text
        assert svc.open_alerts() == []  # acknowledged in the shared twin, for everyone
        assert "No open alerts" in app.alerts_box.children[0].value
        app.controls["manual_temperature"].value = 30.5
        app.controls["manual"].click()
        assert svc.twin.get_current_state()["production_line"]["temperature"] == 30.5
        assert app.kpis["alerts"].current == 1
        assert store.audit_log(action="twin.input")["user_name"].tolist() == ["local"]
        assert app.controls["step"].click() is None and app.notice.kind == "error"
        assert "fed by the server" in app.notice.text
    finally:
        holder["loop"].call_soon_threadsafe(holder["loop"].stop)
        thread.join(5)
        ctx.close()
        time.sleep(0.1)
