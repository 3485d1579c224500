"""Synchronisation: apply a data source to the twin, in batch or paced real time.

A :class:`Synchronizer` applies the partial states of a source
(:mod:`circman_kernel.twin.sources`) to a twin either as fast as possible
(:meth:`Synchronizer.run_batch`, optionally recorded as a ``"replay"`` run) or paced at
``update_frequency`` [Hz] on asyncio (:meth:`Synchronizer.start`), which does not block a
Jupyter notebook.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from array import array
from collections.abc import Iterator
from typing import Any

import numpy as np

from circman_kernel.core.errors import ParameterError
from circman_kernel.twin.event_types import Event, EventCategory, EventSeverity
from circman_kernel.twin.sources import DataSource

__all__ = ["RECORD_BATCH_ROWS", "Synchronizer"]

#: readings of a recorded replay written to the store per transaction
RECORD_BATCH_ROWS = 20_000


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
        one run of kind ``"replay"``: its states, numeric trajectories and KPIs. They go to
        the store in batches of :data:`RECORD_BATCH_ROWS` readings while the replay runs
        (memory does not grow with the file); the run reads ``"running"`` until the end,
        and an error or Ctrl-C during the replay deletes it (stored whole or not at all).
        """
        if record and self.twin.store is None:
            raise ParameterError("record=True needs a twin built with store=...", name="record")
        self.mode = "batch"
        start = time.perf_counter()
        recorder = _Recorder(self, name, tags) if record else None
        n = 0
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(desc=f"replay {self.source.name}", unit="row", disable=None)  # not into logs
        update = self.twin.update
        current = self.twin.state_manager._current
        try:
            while limit is None or n < limit:
                data = self.source.read()
                if data is None:
                    break
                update(data)
                n += 1
                if recorder is not None:
                    recorder.add(current())
                if bar is not None:
                    bar.update()
            if recorder is not None and n:
                self.run_id = recorder.finish(time.perf_counter() - start)
        except BaseException as exc:
            if recorder is not None:
                recorder.abort(exc)
            raise
        finally:
            if bar is not None:
                bar.close()
            self.updates += n
        if n:
            self._last_timestamp = current().get("timestamp")
        return n

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


def _numbers(state: dict[str, Any], prefix: str) -> Iterator[tuple[str, float]]:
    """``(dotted path, value)`` of each number of a stored state (plain dicts, no bools)."""
    for key, value in state.items():
        kind = type(value)
        if kind is float or kind is int:
            yield prefix + key, value
        elif kind is dict:
            yield from _numbers(value, f"{prefix}{key}.")


class _Recorder:
    """The states of a recorded replay, sent to the store one batch at a time."""

    def __init__(self, sync: Synchronizer, name: str | None, tags: tuple[str, ...]) -> None:
        self.sync = sync
        twin = sync.twin
        self.writer = twin.store.open_run(
            "replay",
            name=name or sync.source.name,
            parameters={"source": sync.source.name, "twin": twin.name},
            config_hash=getattr(twin.config, "config_hash", None),
            tags=tags,
        )
        self.rows = 0
        self._codes: dict[str, int] = {}
        self._clear()

    def _clear(self) -> None:
        self._states: list[dict[str, Any]] = []
        self._step = array("i")
        self._code = array("i")
        self._value = array("d")

    def add(self, state: dict[str, Any]) -> None:
        step = self.rows
        codes = self._codes
        for path, value in _numbers(state, ""):
            code = codes.get(path)
            if code is None:
                code = codes[path] = len(codes)
            self._step.append(step)
            self._code.append(code)
            self._value.append(value)
        self._states.append(
            {
                "timestamp": state.get("timestamp"),
                "state_data": json.dumps(state, ensure_ascii=False, allow_nan=False),
                "batch_id": state.get("batch_id"),
                "version": 1,
            }
        )
        self.rows += 1
        if len(self._states) >= RECORD_BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        import pandas as pd

        if not self._states:
            return
        names = pd.Index(list(self._codes), dtype="str")
        n = len(self._value)
        frame = pd.DataFrame(
            {
                "iteration": np.zeros(n, dtype=np.int32),
                "step": np.frombuffer(self._step, dtype=np.int32),
                "variable": pd.Categorical.from_codes(
                    np.frombuffer(self._code, dtype=np.int32), categories=names
                ),
                "value": np.frombuffer(self._value, dtype=np.float64),
            }
        )
        states = self._states
        self._clear()
        self.writer.append(trajectories=frame, records={"states": states})
        # the replay's events go with it, so that none piles up in memory either
        self.sync.twin.event_manager.flush()

    def finish(self, duration_s: float) -> str:
        self.flush()
        kpis = {"rows": float(self.rows), "duration_s": float(duration_s)}
        skipped = getattr(self.sync.source, "skipped", None)
        if skipped is not None:
            kpis["skipped_rows"] = float(skipped)
        self.sync.twin.event_manager.flush()
        return self.writer.close(kpis=kpis, duration_s=duration_s)

    def abort(self, error: BaseException) -> None:
        self._clear()
        self.writer.abort_after(error)
