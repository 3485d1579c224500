"""The digital twin (the manual's sections 3 and 16.2.1): state, thresholds, events, simulation.

Several twins live side by side in one kernel (a baseline and a what-if): each owns its
:class:`~circman_kernel.twin.state.StateManager`, :class:`~circman_kernel.twin.events.EventManager`,
random generator and optional run store. Nothing is shared between instances.

A change of state and the events it raises are recorded together under the twin's lock, so
events keep the order of the changes; subscribers and the store are called after the lock
is released, so a slow handler or database does not hold up another thread's ``update``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from circman_kernel.core.config import CircmanConfig, load_config
from circman_kernel.core.errors import NotInitializedError, ParameterError, StateValidationError
from circman_kernel.core.state_schema import SCHEMA, copy_state, default_state
from circman_kernel.twin.event_types import (
    Event,
    EventCategory,
    EventSeverity,
    SimulationResultEvent,
    StateChangeEvent,
    ThresholdEvent,
)
from circman_kernel.twin.events import EventManager
from circman_kernel.twin.state import StateManager

__all__ = ["DigitalTwin"]

log = logging.getLogger("circman.twin")

_SECTIONS = frozenset(SCHEMA)


class DigitalTwin:
    """A digital twin of the PV module line: current state, history, thresholds and events.

    Parameters
    ----------
    config : CircmanConfig, optional
        Defaults to :func:`~circman_kernel.core.config.load_config`.
    store : RunStore, optional
        Where events (``EVENT_NOTIFICATION.persistence_enabled``), simulations and replays
        are persisted.
    seed : int or numpy.random.Generator, optional
        Seeds the twin's generator; each simulation draws its seed from it.
    name : str, optional
        Defaults to ``DIGITAL_TWIN_CONFIG.name``.

    Examples
    --------
    >>> twin = DigitalTwin(seed=1)
    >>> twin.initialize()
    True
    >>> twin.update({"production_line": {"temperature": 23.5}})
    True
    >>> twin.get_current_state()["production_line"]["temperature"]
    23.5
    """

    def __init__(
        self,
        config: CircmanConfig | None = None,
        *,
        store: Any = None,
        seed: int | np.random.Generator | None = None,
        name: str | None = None,
    ) -> None:
        self.config = config if config is not None else load_config()
        settings = self.config.digital_twin.DIGITAL_TWIN_CONFIG
        self.name = name or settings.name
        self.store = store
        self.seed = seed if not isinstance(seed, np.random.Generator) else None
        self.rng = np.random.default_rng(seed)
        self.state_manager = StateManager(config=self.config)
        self.event_manager = EventManager(self.config, store=store)
        self._initialized = False
        self.is_running = False
        self._lock = threading.RLock()
        # Thresholds grouped by the top-level key they live under, so an update only
        # checks the bands of the sections it touches.
        self._thresholds: dict[str, list[tuple[str, tuple[str, ...], float, float]]] = {}
        for path, (lo, hi) in self.config.digital_twin.PARAMETER_THRESHOLDS.items():
            keys = tuple(path.split("."))
            self._thresholds.setdefault(keys[0], []).append((path, keys[1:], lo, hi))
        self._outside: dict[str, str] = {}  # path -> "upper" | "lower" while out of band

    @classmethod
    def _reset(cls) -> None:
        """Do nothing: there is no shared instance to reset (the manual's tests call this).

        The manual's twin is a singleton that its test suite resets between tests
        (section 13.2); every ``DigitalTwin()`` here is a new, independent twin.
        """

    def __repr__(self) -> str:
        status = "initialized" if self._initialized else "not initialized"
        return f"DigitalTwin(name={self.name!r}, {status}, history={len(self.state_manager)})"

    # -- lifecycle ----------------------------------------------------------------------
    def _require(self) -> None:
        if not self._initialized:
            raise NotInitializedError(
                f"digital twin {self.name!r} is not initialized; call twin.initialize() first"
            )

    def initialize(self, initial_state: Mapping[str, Any] | None = None) -> bool:
        """Set the initial state (default: :func:`default_state`) and start; return ``True``."""
        with self._lock:
            if self._initialized:
                return True
            state = default_state(self.config) if initial_state is None else initial_state
            self.state_manager.set_state(state)
            self._initialized = True
            self.is_running = True
            events: list[Event] = [
                Event(
                    category=EventCategory.SYSTEM,
                    severity=EventSeverity.INFO,
                    source=self.name,
                    message=f"digital twin {self.name} initialized",
                )
            ]
            self._check_thresholds(self.state_manager._current(), None, events)
            self.event_manager._enqueue(events)
        self.event_manager._dispatch()
        return True

    def close(self) -> None:
        """Stop the twin and write pending events to the store (:class:`StoreError` if not)."""
        self.is_running = False
        self.event_manager.flush()

    def __enter__(self) -> DigitalTwin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state --------------------------------------------------------------------------
    def update(self, external_data: Mapping[str, Any] | None = None) -> bool:
        """Merge ``external_data`` into the state (validated), check thresholds, publish events.

        Keys may be dotted paths (``{"production_line.temperature": 23.5}``); an unknown
        field raises with a did-you-mean (free-form data goes under ``"extra"``); see
        :func:`~circman_kernel.core.state_schema.merge_state`. The update is stamped with
        ``datetime.now()`` unless it carries a ``timestamp``.
        A bad value raises :class:`~circman_kernel.core.errors.StateValidationError` and leaves
        state, history and threshold status unchanged. Returns ``True``.

        Raises :class:`~circman_kernel.core.errors.StoreError` if a due batch of events could not
        be written to the store; the update itself was applied and its events delivered.
        """
        if not self._initialized:
            self._require()
        if external_data is None:
            data: Mapping[str, Any] = {}
        elif type(external_data) is dict or isinstance(external_data, Mapping):
            data = external_data
        else:
            raise StateValidationError(
                f"update data must be a mapping, got {type(external_data).__name__}",
                path="",
                value=external_data,
            )
        with self._lock:
            previous, new = self.state_manager._apply(data, datetime.now())
            # a dotted key ("production_line.temperature") touches a section by path:
            # then every band is checked, not just those of the sections named
            touched = data if _SECTIONS.issuperset(data) else None
            events = self._after_change(previous, new, touched)
            if events:
                self.event_manager._enqueue(events)
        if events:
            self.event_manager._dispatch()
        return True

    def _after_change(
        self, previous: dict | None, new: dict, touched: Mapping | None
    ) -> list[Event]:
        # Called under the twin's lock: returns the events to publish, in order.
        events: list[Event] = []
        em = self.event_manager
        if em.publish_state_changes and previous is not None:
            old_status = previous.get("system_status")
            new_status = new.get("system_status")
            if old_status != new_status:
                events.append(
                    StateChangeEvent(
                        str(old_status),
                        str(new_status),
                        source=self.name,
                        details={"timestamp": new.get("timestamp")},
                    )
                )
        self._check_thresholds(new, touched, events)
        return events

    def _check_thresholds(self, state: dict, touched: Mapping | None, events: list) -> None:
        outside = self._outside
        for top, items in self._thresholds.items():
            if touched is not None:
                sub = touched.get(top)
                if sub is None:
                    continue
            section = state.get(top)
            for path, keys, lo, hi in items:
                if touched is not None and len(keys) == 1 and keys[0] not in sub:
                    continue  # this reading was not part of the update
                value = section
                for k in keys:
                    value = value.get(k) if type(value) is dict else None
                if value is None or type(value) is dict:
                    continue
                side = "upper" if value > hi else ("lower" if value < lo else None)
                was = outside.get(path)
                if side != was:
                    self._threshold_changed(state, path, value, lo, hi, was, side, events)

    def _threshold_changed(
        self,
        state: dict,
        path: str,
        value: float,
        lo: float,
        hi: float,
        was: Any,
        side: Any,
        events: list,
    ) -> None:
        if side is None:
            del self._outside[path]
        else:
            self._outside[path] = side
        em = self.event_manager
        if not em.publish_threshold_breaches:
            return
        when = {"timestamp": state.get("timestamp")}
        if was is not None:
            events.append(
                ThresholdEvent(
                    path,
                    hi if was == "upper" else lo,
                    value,
                    bound=was,
                    recovered=True,
                    band=(lo, hi),
                    source=self.name,
                    details=when,
                )
            )
        if side is not None:
            events.append(
                ThresholdEvent(
                    path,
                    hi if side == "upper" else lo,
                    value,
                    bound=side,
                    band=(lo, hi),
                    severity=em.default_alert_severity,
                    source=self.name,
                    details=when,
                )
            )

    @property
    def breached_thresholds(self) -> dict[str, str]:
        """Parameters currently outside their band: dotted path -> ``"upper"``/``"lower"``."""
        return dict(self._outside)

    def get_current_state(self) -> dict[str, Any]:
        """Return a copy of the current state."""
        self._require()
        return self.state_manager.get_current_state()

    def get_state_history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Return copies of the earlier states, oldest first (the ``limit`` most recent)."""
        self._require()
        return self.state_manager.get_history(limit)

    def save_state(self, path: str | Path) -> bool:
        """Write the current state as JSON to ``path``; return ``True``."""
        self._require()
        return self.state_manager.export_state(path)

    def load_state(self, path: str | Path) -> bool:
        """Make the JSON state in ``path`` current (validated, thresholds checked); ``True``."""
        self._require()
        p = Path(path)
        try:
            state = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise StateValidationError(
                f"{p}: not a JSON state ({exc.msg} at line {exc.lineno})", path="", value=None
            ) from None
        with self._lock:
            previous = self.state_manager._current()
            self.state_manager.set_state(state)
            events = self._after_change(previous, self.state_manager._current(), None)
            self.event_manager._enqueue(events)
        self.event_manager._dispatch()
        return True

    # -- simulation ---------------------------------------------------------------------
    def simulate(
        self, steps: int | None = None, parameters: Mapping[str, Any] | None = None
    ) -> Any:
        """Simulate ``steps`` steps from the current state; the twin's state is unchanged.

        Returns the :class:`~circman_kernel.simulation.results.SimulationResult` (a sequence of
        ``steps + 1`` states, initial first). The run's seed is drawn from the twin's
        generator, so a twin built with the same seed simulates the same way.
        """
        self._require()
        from circman_kernel.simulation.engine import SimulationEngine

        if steps is None:
            steps = self.config.digital_twin.DIGITAL_TWIN_CONFIG.simulation_steps
        if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
            raise ParameterError(f"steps must be an int >= 1, got {steps!r}", name="steps")
        seed = int(self.rng.integers(0, 2**63 - 1))
        engine = SimulationEngine(self.config, store=self.store)
        result = engine.run_simulation(
            int(steps),
            initial_state=self.state_manager.get_current_state(),
            parameters=dict(parameters) if parameters else None,
            seed=seed,
        )
        if self.event_manager.publish_simulation_results:
            # A KPI that cannot be computed is an error of the run, not an empty dict.
            kpis = {k: float(v) for k, v in result.kpis().items()}
            run_id = getattr(result, "run_id", None)
            self.event_manager.publish(
                SimulationResultEvent(
                    run_id or f"sim-{seed:x}",
                    parameters=copy_state(dict(parameters or {})),
                    kpis=kpis,
                    steps=int(steps),
                    source=self.name,
                    details={"seed": seed, "run_id": run_id},
                )
            )
        return result
