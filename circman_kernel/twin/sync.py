"""Synchronisation: apply a data source to the twin, in batch or paced real time.

A :class:`Synchronizer` applies the partial states of a source
(:mod:`circman_kernel.twin.sources`) to a twin either as fast as possible
(:meth:`Synchronizer.run_batch`, optionally recorded as a ``"replay"`` run) or paced at
``update_frequency`` [Hz] on asyncio (:meth:`Synchronizer.start`), which does not block a
Jupyter notebook.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

from circman_kernel.core.errors import ParameterError
from circman_kernel.core.state_schema import copy_state
from circman_kernel.twin.event_types import Event, EventCategory, EventSeverity
from circman_kernel.twin.sources import DataSource, flatten_state

__all__ = ["Synchronizer"]


class Synchronizer:
    """Apply a data source to a twin, in batch or paced real time.

    Parameters
    ----------
    twin : DigitalTwin
        An initialised twin.
    source : DataSource
        Where readings come from.
    frequency : float, optional
        Real-time pace [Hz]; defaults to ``DIGITAL_TWIN_CONFIG.update_frequency``.
    """

    def __init__(self, twin: Any, source: DataSource, *, frequency: float | None = None) -> None:
        self.twin = twin
        self.source = source
        hz = twin.config.digital_twin.DIGITAL_TWIN_CONFIG.update_frequency
        self.frequency = float(frequency if frequency is not None else hz)
        if not self.frequency > 0:
            raise ParameterError("frequency must be > 0 [Hz]", name="frequency", value=frequency)
        self.updates = 0
        self.error: BaseException | None = None
        self.mode: str | None = None
        self._stop = threading.Event()
        self._task: asyncio.Task | None = None
        self._thread: threading.Thread | None = None
        self._started_at: float | None = None
        self._last_timestamp: str | None = None

    # -- batch --------------------------------------------------------------------------
    def run_batch(
        self,
        limit: int | None = None,
        *,
        record: bool = False,
        name: str | None = None,
        tags: tuple[str, ...] = (),
        progress: bool = False,
    ) -> int:
        """Apply every reading (or ``limit`` of them) as fast as possible; return the count.

        With ``record=True`` (needs a twin with a store) the replayed states are stored as
        one run of kind ``"replay"``: its states, numeric trajectories and KPIs.
        """
        if record and self.twin.store is None:
            raise ParameterError("record=True needs a twin built with store=...", name="record")
        self.mode = "batch"
        start = time.perf_counter()
        states: list[dict[str, Any]] = []
        n = 0
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(desc=f"replay {self.source.name}", unit="row")
        update = self.twin.update
        try:
            while limit is None or n < limit:
                data = self.source.read()
                if data is None:
                    break
                update(data)
                n += 1
                if record:
                    states.append(self.twin.state_manager._current())
                if bar is not None:
                    bar.update()
        finally:
            if bar is not None:
                bar.close()
            self.updates += n
        if n:
            self._last_timestamp = self.twin.state_manager._current().get("timestamp")
        if record and n:
            self._record(states, time.perf_counter() - start, name, tags)
        return n

    def _record(self, states: list[dict], duration_s: float, name: str | None, tags: tuple) -> str:
        import pandas as pd

        rows, traj = [], []
        for step, state in enumerate(states):
            rows.append(
                {
                    "id": uuid.uuid4().hex,
                    "timestamp": state.get("timestamp"),
                    "state_data": copy_state(state),
                    "batch_id": state.get("batch_id"),
                    "version": 1,
                }
            )
            for path, value in flatten_state(state).items():
                if type(value) in (int, float):
                    traj.append((0, step, path, float(value)))
        frame = pd.DataFrame(traj, columns=["iteration", "step", "variable", "value"])
        kpis = {"rows": float(len(states)), "duration_s": float(duration_s)}
        skipped = getattr(self.source, "skipped", None)
        if skipped is not None:
            kpis["skipped_rows"] = float(skipped)
        self.twin.event_manager.flush()
        run_id = self.twin.store.save_run(
            "replay",
            name=name or self.source.name,
            parameters={"source": self.source.name, "twin": self.twin.name},
            config_hash=getattr(self.twin.config, "config_hash", None),
            tags=tags,
            duration_s=duration_s,
            kpis=kpis,
            trajectories=frame,
            records={"states": rows},
        )
        self.run_id = run_id
        return run_id

    # -- real time ----------------------------------------------------------------------
    async def run_realtime(self, max_updates: int | None = None) -> int:
        """Apply readings paced at :attr:`frequency` [Hz] until stopped or exhausted.

        Any error from the source or the twin stops the run: it is kept in :attr:`error`
        (``status()["error"]`` gives its type and message), published as an ``error``
        event and raised.
        """
        loop = asyncio.get_running_loop()
        period = 1.0 / self.frequency
        next_t = loop.time()
        n = 0
        self._started_at = time.monotonic()
        try:
            while not self._stop.is_set() and (max_updates is None or n < max_updates):
                data = self.source.read()
                if data is not None:
                    self.twin.update(data)
                    self._last_timestamp = self.twin.state_manager._current().get("timestamp")
                    n += 1
                    self.updates += 1
                elif self.source.exhausted:
                    break
                next_t += period
                await asyncio.sleep(max(0.0, next_t - loop.time()))
        except Exception as exc:
            self.error = exc
            self.twin.event_manager.publish(
                Event(
                    category=EventCategory.ERROR,
                    severity=EventSeverity.ERROR,
                    source=f"sync:{self.source.name}",
                    message=f"synchronisation stopped: {type(exc).__name__}: {exc}",
                    details={"error": type(exc).__name__, "message": str(exc)},
                )
            )
            raise
        return n

    def start(self, max_updates: int | None = None) -> asyncio.Task | threading.Thread:
        """Start real-time synchronisation without blocking; return the task or thread.

        In a running event loop (a Jupyter kernel) a task is scheduled on it; otherwise a
        daemon thread runs its own loop. Stop with :meth:`stop`. An error stops either: it
        is in :attr:`error` and ``status()["error"]``, and published as an ``error`` event
        (a thread has no caller to raise it to; a task raises it when awaited).
        """
        if self.running:
            raise ParameterError("synchroniser already running; call stop() first", name="start")
        self._stop.clear()
        self.error = None
        self.mode = "real_time"
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            self._task = loop.create_task(self.run_realtime(max_updates))
            self._task.add_done_callback(self._on_done)
            return self._task

        def _target() -> None:
            # A thread has no caller to raise to: the error stays in self.error (status) and
            # run_realtime has published it as an error event; the thread then ends.
            try:
                asyncio.run(self.run_realtime(max_updates))
            except Exception as exc:
                if exc is not self.error:  # e.g. the error event itself could not be stored
                    self.error = exc  # chained to the first error (__context__)

        self._thread = threading.Thread(target=_target, name="circman-sync", daemon=True)
        self._thread.start()
        return self._thread

    def _on_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.error = task.exception()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop real-time synchronisation (waits up to ``timeout`` [s] for a thread)."""
        self._stop.set()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """``True`` while a real-time task or thread is active."""
        if self._task is not None and not self._task.done():
            return True
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> dict[str, Any]:
        """Return mode, running flag, updates applied, skipped rows, pace and last error."""
        elapsed = time.monotonic() - self._started_at if self._started_at else None
        return {
            "source": self.source.name,
            "mode": self.mode,
            "running": self.running,
            "updates": self.updates,
            "skipped": getattr(self.source, "skipped", 0),
            "frequency_hz": self.frequency,
            "elapsed_s": elapsed,
            "last_timestamp": self._last_timestamp,
            "exhausted": self.source.exhausted,
            "error": None if self.error is None else f"{type(self.error).__name__}: {self.error}",
        }
