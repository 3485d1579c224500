"""System diagnostics (the manual's section 14.1): one check per part, each ok, failed or skipped.

A check never raises: it turns the failure into a :class:`Check` that names the part and
says what went wrong, so ``circman diagnostics`` can report every part in one table. A
check that needs a part that failed (the twin needs the configuration) is *skipped* and
says which part to fix, rather than repeating that part's error as its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from circman_kernel.core.config import CircmanConfig, load_config
from circman_kernel.core.errors import CircmanError
from circman_kernel.core.paths import default_db_path
from circman_kernel.core.state_schema import SCHEMA as STATE_SCHEMA

__all__ = ["CHECKS", "Check", "run_diagnostics"]

Status = Literal["ok", "FAILED", "skipped"]


@dataclass(frozen=True)
class Check:
    """Outcome of one diagnostic check: ``status`` is ``ok``, ``FAILED`` or ``skipped``."""

    name: str
    status: Status
    detail: str

    @property
    def ok(self) -> bool:
        """``True`` when the check ran and passed."""
        return self.status == "ok"

    @property
    def failed(self) -> bool:
        """``True`` when the check ran and found a fault (a skipped check has not run)."""
        return self.status == "FAILED"

    def to_dict(self) -> dict[str, object]:
        return {"check": self.name, "status": self.status, "detail": self.detail}


class _Skipped(Exception):
    """A check cannot run because a part it needs failed its own check."""


@dataclass
class _Context:
    config_dir: str | None
    db: str
    config: CircmanConfig | None = None
    store: Any = None  # the RunStore, once the store check has opened it


def _needs_config(ctx: _Context) -> CircmanConfig:
    if ctx.config is None:
        raise _Skipped("skipped (config failed)")
    return ctx.config


def _check_config(ctx: _Context) -> str:
    ctx.config = load_config(ctx.config_dir)
    return f"{ctx.config.source} (hash {ctx.config.config_hash})"


def _check_store(ctx: _Context) -> str:
    # Really open the store (creating it if new): a foreign or newer file, or a folder
    # that cannot be written, fails here with the store's own StoreError message.
    from circman_kernel.store.run_store import RunStore

    store = RunStore(ctx.db, lock_timeout_s=10.0)
    n = int(store.query("SELECT count(*) AS n FROM runs")["n"].iloc[0])
    ctx.store = store
    where = "in-memory store" if ctx.db == ":memory:" else store.path
    return f"{where} (schema v{store.schema_version}, {n} runs)"


def _physical_limits(path: str) -> tuple[float, float]:
    node: Any = STATE_SCHEMA
    for key in path.split("."):
        node = node.get(key, node.get("*")) if isinstance(node, Mapping) else None
    if not isinstance(node, tuple) or len(node) != 3:
        return (-math.inf, math.inf)
    return (float(node[1]), float(node[2]))


def _breach_value(path: str, lo: float, hi: float) -> float | None:
    """A value outside the band ``[lo, hi]`` that the state schema still accepts."""
    p_lo, p_hi = _physical_limits(path)
    step = max(1.0, 0.1 * (hi - lo))
    for value in (hi + step, lo - step, (hi + p_hi) / 2, (lo + p_lo) / 2):
        if math.isfinite(value) and p_lo <= value <= p_hi and not lo <= value <= hi:
            return value
    return None


def _check_twin(ctx: _Context) -> str:
    # A twin on the loaded config: it starts from that config, takes one update, and a
    # reading outside a configured band produces exactly one threshold event.
    from circman_kernel.core.state_schema import get_path
    from circman_kernel.twin.digital_twin import DigitalTwin
    from circman_kernel.twin.sources import nest_dotted

    config = _needs_config(ctx)
    twin = DigitalTwin(config, seed=0, name="diagnostics")
    twin.initialize()
    if not twin.is_running:
        raise CircmanError("digital twin: initialize() did not start it")
    target = config.digital_twin.SIMULATION_PARAMETERS.target_temperature
    start = twin.get_current_state()["production_line"]["temperature"]
    if start != target:
        raise CircmanError(
            f"digital twin: starts at {start} degC, not the configured target_temperature "
            f"{target} degC"
        )
    state = twin.get_current_state()
    breached = twin.breached_thresholds
    candidates = [
        (path, lo, hi, value)
        for path, (lo, hi) in config.digital_twin.PARAMETER_THRESHOLDS.items()
        if path not in breached
        and isinstance(get_path(state, path), int | float)
        and (value := _breach_value(path, lo, hi)) is not None
    ]
    history = len(twin.get_state_history())
    if not candidates:  # no band to cross: still apply (and check) one update
        twin.update({"batch_id": "diagnostics"})
        if twin.get_current_state()["batch_id"] != "diagnostics":
            raise CircmanError("digital twin: an update was not applied")
        return "initialized, running, state from config; 1 update (no threshold to test)"
    path, lo, hi, value = candidates[0]
    before = len(twin.event_manager.get_events(category="threshold", limit=None))
    twin.update(nest_dotted({path: value}))
    got = get_path(twin.get_current_state(), path)
    if got != value:
        raise CircmanError(f"digital twin: update set {path} to {value:g}, state holds {got!r}")
    if len(twin.get_state_history()) != history + 1:
        raise CircmanError("digital twin: an update did not add the previous state to history")
    events = twin.event_manager.get_events(category="threshold", limit=None)[before:]
    expected = 1 if twin.event_manager.publish_threshold_breaches else 0
    if len(events) != expected or path not in twin.breached_thresholds:
        raise CircmanError(
            f"digital twin: {path} = {value:g} is outside its band [{lo:g}, {hi:g}] but gave "
            f"{len(events)} threshold events (expected {expected})"
        )
    return (
        f"initialized, running, state from config; update {path} = {value:g} outside "
        f"[{lo:g}, {hi:g}] gave {expected} threshold event"
    )


def _check_events(ctx: _Context) -> str:
    # The bus delivers a published event to a subscriber and get_events returns it; when
    # the store check passed, the event also goes through the store's events table and
    # back (then the probe row is removed).
    from circman_kernel.twin.event_types import Event
    from circman_kernel.twin.events import EventManager

    config = _needs_config(ctx)
    bus = EventManager(config)
    received: list[Event] = []
    bus.subscribe(received.append)
    probe = Event(source="diagnostics", message="diagnostics probe")
    bus.publish(probe)
    got = bus.get_events(limit=1)
    if not got or got[0].event_id != probe.event_id or received != [probe]:
        raise CircmanError("event bus: a published event was not delivered or not returned")
    if ctx.store is None:
        return "publish + get_events round trip; store round trip skipped (store failed)"
    store = ctx.store
    probe = Event(source="diagnostics", message="diagnostics store probe")
    if bus.persistence_enabled:
        bus.store = store
        bus.publish(probe)
        bus.flush()
        how = "through the bus"
    else:
        store.save_events([probe])
        how = "directly (persistence_enabled is false)"
    sql = "SELECT id, message, acknowledged FROM events WHERE id = ?"
    try:
        rows = store.query(sql, [probe.event_id]).values.tolist()
        if rows != [[probe.event_id, probe.message, False]]:
            raise CircmanError(f"events table: the stored probe came back as {rows}")
        acknowledge = bus.acknowledge_event if bus.persisting else store.acknowledge_event
        acknowledge(probe.event_id)
        rows = store.query(sql, [probe.event_id]).values.tolist()
        if rows != [[probe.event_id, probe.message, True]]:
            raise CircmanError(f"events table: acknowledging the probe left {rows}")
    finally:
        with store.connect(read_only=False) as con:
            con.execute("DELETE FROM events WHERE id = ?", [probe.event_id])
    return f"publish + get_events round trip; events table round trip ({how})"


CHECKS: tuple[tuple[str, Callable[[_Context], str]], ...] = (
    ("config", _check_config),
    ("store", _check_store),
    ("digital_twin", _check_twin),
    ("events", _check_events),
)


def run_diagnostics(config_dir: str | None = None, db: str | None = None) -> list[Check]:
    """Run every check and return their outcomes in order."""
    ctx = _Context(config_dir=config_dir, db=db or default_db_path())
    results = []
    for name, check in CHECKS:
        try:
            results.append(Check(name, "ok", check(ctx)))
        except _Skipped as skip:
            results.append(Check(name, "skipped", str(skip)))
        except (CircmanError, OSError) as exc:
            results.append(Check(name, "FAILED", str(exc).splitlines()[0]))
    return results
