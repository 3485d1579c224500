"""System diagnostics (the manual's section 14.1): one check per part, each ok or not.

A check never raises: it turns the failure into a :class:`Check` that names the part and
says what went wrong, so ``circman diagnostics`` can report every part in one table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from circman_kernel.config import CircmanConfig, load_config
from circman_kernel.errors import CircmanError
from circman_kernel.paths import default_db_path


@dataclass(frozen=True)
class Check:
    """Outcome of one diagnostic check."""

    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, object]:
        return {"check": self.name, "status": "ok" if self.ok else "FAILED", "detail": self.detail}


@dataclass
class _Context:
    config_dir: str | None
    db: str
    config: CircmanConfig | None = None


def _check_config(ctx: _Context) -> str:
    ctx.config = load_config(ctx.config_dir)
    return f"{ctx.config.source} (hash {ctx.config.config_hash})"


def _check_store(ctx: _Context) -> str:
    # Really open the store (creating it if new): a foreign or newer file, or a folder
    # that cannot be written, fails here with the store's own StoreError message.
    from circman_kernel.store import RunStore

    store = RunStore(ctx.db, lock_timeout_s=10.0)
    n = int(store.query("SELECT count(*) AS n FROM runs")["n"].iloc[0])
    where = "in-memory store" if ctx.db == ":memory:" else store.path
    return f"{where} (schema v{store.schema_version}, {n} runs)"


def _check_twin(ctx: _Context) -> str:
    # A fresh in-memory twin: initialised, running, holding a state (the manual's 14.1).
    from circman_kernel.twin import DigitalTwin

    twin = DigitalTwin(ctx.config or load_config(ctx.config_dir), seed=0, name="diagnostics")
    twin.initialize()
    status = {
        "initialized": twin._initialized,
        "running": twin.is_running,
        "state": twin.get_current_state() is not None,
    }
    failed = [k for k, ok in status.items() if not ok]
    if failed:
        raise CircmanError(f"digital twin not ok: {', '.join(failed)}")
    return "initialized, running, has state"


def _check_events(ctx: _Context) -> str:
    # The event bus is reachable and a published event comes back from get_events.
    from circman_kernel.events import Event, EventManager

    bus = EventManager(ctx.config or load_config(ctx.config_dir))
    probe = Event(source="diagnostics", message="diagnostics probe")
    bus.publish(probe)
    got = bus.get_events(limit=1)
    if not got or got[0].event_id != probe.event_id:
        raise CircmanError("event bus: a published event was not returned by get_events")
    return "publish + get_events round trip"


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
            results.append(Check(name, True, check(ctx)))
        except (CircmanError, OSError) as exc:
            results.append(Check(name, False, str(exc).splitlines()[0]))
    return results
