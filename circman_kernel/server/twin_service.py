"""One shared live twin: a :class:`DigitalTwin` fed in real time, read by every viewer.

``circman twin serve --source csv:PATH | simulated[:SEED]`` and ``circman dashboard --twin
SOURCE`` run a :class:`TwinService`: the synchroniser applies the source's readings on a
thread of its own at ``rate`` [Hz]; the twin's events go to the store in batches (its
event bus persists them), and its states are stored every ``persist_every_s`` seconds as a
``replay`` run (tag ``live-twin``) holding the states since the last one. The API
(:mod:`circman_kernel.server.api_twin`) reads the service; the line monitor of every viewer
polls that API, so all viewers see the same readings and alerts, and an operator's
acknowledgement (kept by the twin and in the store) clears an alert for everyone.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from circman_kernel.core.errors import ParameterError, StoreError
from circman_kernel.core.state_schema import get_path

__all__ = ["TwinService", "TwinSource", "aware", "parse_source", "wait_for"]

log = logging.getLogger("circman.server.twin")

MAX_HISTORY = 1000  # states one snapshot may carry [-]
MAX_ALERTS = 20  # newest open alerts a snapshot carries [-]


@dataclass(frozen=True)
class TwinSource:
    """A parsed ``--source``: ``kind`` (``csv`` or ``simulated``), the CSV path or the seed."""

    kind: str
    path: Path | None = None
    seed: int = 1

    @property
    def label(self) -> str:
        return f"csv:{self.path}" if self.kind == "csv" else f"simulated:{self.seed}"


def parse_source(text: str) -> TwinSource:
    """Return the source ``csv:PATH`` or ``simulated[:SEED]`` names (file checked)."""
    raw = (text or "").strip()
    kind, _, rest = raw.partition(":")
    if kind == "csv" and rest:
        path = Path(rest).expanduser().resolve()
        if not path.is_file():
            raise ParameterError(f"sensor CSV {path} does not exist", name="source", value=raw)
        return TwinSource("csv", path=path)
    if kind == "simulated":
        try:
            seed = int(rest) if rest else 1
        except ValueError:
            raise ParameterError(
                f"simulated seed {rest!r} is not an integer", name="source", value=raw
            ) from None
        return TwinSource("simulated", seed=seed)
    raise ParameterError(
        f"unknown twin source {raw!r}; use csv:PATH or simulated[:SEED]", name="source", value=raw
    )


def _jsonable_event(event: Any) -> dict[str, Any]:
    return event.to_dict()


class TwinService:
    """The shared twin, its feed and its persistence.

    Parameters
    ----------
    source : TwinSource or str
        Where readings come from (:func:`parse_source`).
    config : CircmanConfig, optional
    store : RunStore, optional
        Where events and batches of states are stored (``None``: memory only).
    rate_hz : float, optional
        Readings applied per second (default: the configuration's ``update_frequency``).
    persist_every_s : float
        Period [s] of the state batches written to the store.
    """

    def __init__(
        self,
        source: TwinSource | str,
        *,
        config: Any = None,
        store: Any = None,
        rate_hz: float | None = None,
        persist_every_s: float = 60.0,
    ) -> None:
        from circman_kernel.core.config import load_config
        from circman_kernel.twin.digital_twin import DigitalTwin

        self.source = parse_source(source) if isinstance(source, str) else source
        self.config = config if config is not None else load_config()
        self.store = store
        hz = self.config.digital_twin.DIGITAL_TWIN_CONFIG.update_frequency
        self.rate_hz = float(rate_hz if rate_hz is not None else hz)
        if not 0 < self.rate_hz <= 100:
            raise ParameterError("rate must be in (0, 100] Hz", name="rate", value=rate_hz)
        self.persist_every_s = float(persist_every_s)
        self.twin = DigitalTwin(self.config, store=store, seed=self.source.seed, name="line")
        self.twin.event_manager.flush_interval_s = 1.0
        self.twin.initialize(self._initial_state())
        self.sync: Any = None
        self._lock = threading.Lock()
        self._acks = 0
        self._manual = 0  # operators' readings applied
        self._cache: dict[tuple, tuple[int, dict[str, Any]]] = {}
        self._stop = threading.Event()
        self._persister: threading.Thread | None = None
        self._persisted = 0  # updates already stored as states
        self.batches: list[str] = []  # run ids of the stored state batches

    def __repr__(self) -> str:
        return f"TwinService({self.source.label}, {self.rate_hz:g} Hz)"

    def _initial_state(self) -> dict[str, Any]:
        """The default state, stamped just before a replay's first reading (one time axis)."""
        from circman_kernel.core.state_schema import default_state
        from circman_kernel.twin.sources import CSVReplaySource

        state = default_state(self.config)
        if self.source.kind == "csv":
            first = CSVReplaySource(self.source.path, on_error="skip").read()
            if first is not None:
                stamp = datetime.fromisoformat(str(first["timestamp"])) - timedelta(seconds=1)
                state["timestamp"] = stamp.isoformat()
        return state

    def _feed(self) -> Any:
        from circman_kernel.twin.sources import CSVReplaySource, SimulatedSensorSource

        if self.source.kind == "csv":
            return CSVReplaySource(self.source.path, on_error="skip")
        return SimulatedSensorSource(
            self.source.seed, interval_s=1.0 / self.rate_hz, config=self.config
        )

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> TwinService:
        """Start feeding the twin (a thread of its own) and persisting its states."""
        from circman_kernel.twin.sync import Synchronizer

        if self.sync is not None and self.sync.running:
            return self
        self.sync = Synchronizer(self.twin, self._feed(), frequency=self.rate_hz)
        self._stop.clear()
        threading.Thread(target=self.sync.start, name="circman-twin-start", daemon=True).start()
        if self.store is not None and self.persist_every_s > 0:
            self._persister = threading.Thread(
                target=self._persist_loop, name="circman-twin-persist", daemon=True
            )
            self._persister.start()
        log.info("shared twin started: %s at %g Hz", self.source.label, self.rate_hz)
        return self

    def stop(self) -> None:
        """Stop the feed, store the last states and pending events."""
        self._stop.set()
        if self.sync is not None:
            self.sync.stop()
        if self._persister is not None:
            self._persister.join(10)
        try:
            self.persist()
            self.twin.close()
        except StoreError:
            log.warning("shared twin: could not store the last states or events", exc_info=True)

    def _persist_loop(self) -> None:
        while not self._stop.wait(self.persist_every_s):
            try:
                self.persist()
            except StoreError:
                log.warning("shared twin: state batch not stored; retried later", exc_info=True)

    def persist(self) -> str | None:
        """Store the states applied since the last batch as one ``replay`` run; return its id."""
        if self.store is None:
            return None
        import pandas as pd

        from circman_kernel.core.state_schema import copy_state
        from circman_kernel.twin.sources import flatten_state

        updates = self.updates
        new = min(updates - self._persisted, len(self.twin.state_manager))
        if new <= 0:
            return None
        states = self.twin.get_state_history(limit=new)
        rows, traj = [], []
        for step, state in enumerate(states):
            rows.append({"timestamp": state.get("timestamp"), "state_data": copy_state(state),
                         "batch_id": state.get("batch_id"), "version": 1})  # fmt: skip
            for path, value in flatten_state(state).items():
                if type(value) in (int, float):
                    traj.append((0, step, path, float(value)))
        run_id = self.store.save_run(
            "replay",
            name=f"live twin {self.source.label} {states[0].get('timestamp')}",
            parameters={"source": self.source.label, "rate_hz": self.rate_hz},
            config_hash=getattr(self.config, "config_hash", None),
            tags=("live-twin",),
            kpis={"rows": float(len(states))},
            trajectories=pd.DataFrame(traj, columns=["iteration", "step", "variable", "value"]),
            records={"states": rows},
        )
        self._persisted = updates
        self.batches.append(run_id)
        self.twin.event_manager.flush()
        return run_id

    # -- reading ----------------------------------------------------------------------------

    @property
    def updates(self) -> int:
        """Readings applied so far (the feed's and operators' manual ones)."""
        return int(self.sync.updates if self.sync is not None else 0) + self._manual

    @property
    def version(self) -> int:
        """Changes so far (readings and acknowledgements): equal versions, equal snapshots."""
        return self.updates + self._acks

    def status(self) -> dict[str, Any]:
        """Return the feed's status (source, running, updates, pace, last error)."""
        base = self.sync.status() if self.sync is not None else {"running": False}
        return {**base, "source": self.source.label, "updates": self.updates}

    def snapshot(self, history: int = 0, paths: tuple[str, ...] = ()) -> dict[str, Any]:
        """Return the current state, status, out-of-band parameters and newest open alerts.

        ``history`` > 0 adds the last ``history`` states of ``paths`` column by column
        (``timestamp`` first). Snapshots of the same twin version are computed once.
        """
        if not 0 <= history <= MAX_HISTORY:
            raise ParameterError(f"history must be 0..{MAX_HISTORY}", name="history", value=history)
        key = (history, paths)
        version = self.version
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == version:
                return hit[1]
        state = self.twin.get_current_state()
        alerts = self.open_alerts()
        out: dict[str, Any] = {
            "state": state,
            "status": self.status(),
            "breached": self.twin.breached_thresholds,
            "version": version,
            "open_alerts": alerts[-MAX_ALERTS:][::-1],
            "open_count": len(alerts),
        }
        if history:
            states = [*self.twin.get_state_history(limit=history - 1), state]
            series: dict[str, list[Any]] = {"timestamp": [s.get("timestamp") for s in states]}
            for path in paths:
                series[path] = [get_path(s, path) for s in states]
            out["history"] = series
        with self._lock:
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = (version, out)
        return out

    def open_alerts(self) -> list[dict[str, Any]]:
        """Return the open alerts (unacknowledged breaches, not recoveries), oldest first."""
        return [
            _jsonable_event(e)
            for e in self.twin.event_manager.get_events(
                category="threshold", severity="warning", limit=None, acknowledged=False
            )
            if not e.details.get("recovered", False)
        ]

    def events(
        self,
        *,
        category: str | None = None,
        severity: str | None = None,
        since: datetime | None = None,
        acknowledged: bool | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Return the twin's events (newest first) matching the filters."""
        found = self.twin.event_manager.get_events(
            category=category, severity=severity, limit=None, acknowledged=acknowledged
        )
        if since is not None:
            cutoff = aware(since)
            found = [e for e in found if aware(e.timestamp) > cutoff]
        return [_jsonable_event(e) for e in found[::-1][:limit]]

    # -- changing ---------------------------------------------------------------------------

    def acknowledge(self, event_id: str) -> bool:
        """Acknowledge an event for everyone; ``False`` if the twin has no such event."""
        if not any(e.event_id == event_id for e in self.twin.event_manager.get_events(limit=None)):
            return False
        found = self.twin.event_manager.acknowledge_event(event_id)
        with self._lock:
            self._acks += 1
        return found

    def manual_reading(self, reading: dict[str, Any]) -> dict[str, Any]:
        """Apply an operator's reading (a partial state) one second after the last one."""
        if not isinstance(reading, dict) or not reading:
            raise ParameterError("a manual reading is a non-empty object", name="reading")
        reading = {k: v for k, v in reading.items() if k != "timestamp"}
        last = str(self.twin.get_current_state().get("timestamp"))
        try:
            stamp = (datetime.fromisoformat(last) + timedelta(seconds=1)).isoformat()
        except ValueError:
            stamp = datetime.now().isoformat()
        self.twin.update({**reading, "timestamp": stamp})
        with self._lock:
            self._manual += 1
        return self.twin.get_current_state()


def aware(stamp: str | datetime) -> datetime:
    """Return an ISO time (naive: local time, as events are stamped) as an aware datetime."""
    value = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(str(stamp))
    return value.astimezone() if value.tzinfo is None else value


def wait_for(predicate: Any, timeout_s: float = 10.0) -> bool:
    """Poll ``predicate()`` until true or ``timeout_s`` passed (tests and the CLI)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
