"""Twin core figures: update throughput with validation, thresholds and events; time look-up."""

from __future__ import annotations

import copy
import time
from datetime import datetime, timedelta

from benchmarks.harness import Figure, bench, median_time
from circman_kernel.core.state_schema import default_state
from circman_kernel.twin.digital_twin import DigitalTwin
from circman_kernel.twin.state import StateManager

N_UPDATES = 20_000


def _updates(n: int) -> list[dict]:
    # A realistic sensor stream: every update carries line and environment readings; the
    # line temperature leaves its band (> 27 degC) for 5 of every 100 updates, so breach
    # and recovery events are published throughout.
    out = []
    for i in range(n):
        hot = i % 100 >= 95
        out.append(
            {
                "production_line": {
                    "temperature": 28.0 + (i % 3) * 0.1 if hot else 22.5 + (i % 7) * 0.05,
                    "energy_consumption": 118.0 + (i % 11) * 0.2,
                    "production_rate": 8.3,
                },
                "environment": {"humidity": 45.0 + (i % 5) * 0.1},
            }
        )
    return out


def _manual_shape_update(state: dict, data: dict, history: list) -> None:
    # The manual's engine shape: deepcopy into history, dict.update, no validation.
    history.append(copy.deepcopy(state))
    for key, value in data.items():
        if isinstance(value, dict):
            state.setdefault(key, {}).update(value)
        else:
            state[key] = value
    state["timestamp"] = datetime.now().isoformat()
    del history[:-1000]


@bench("twin")
def update_throughput() -> Figure:
    data = _updates(N_UPDATES)
    twin = DigitalTwin(seed=0)
    twin.initialize()

    def run() -> None:
        for d in data:
            twin.update(d)

    median, samples = median_time(run, repeat=5)
    n_events = len(twin.event_manager.get_events(category="threshold", limit=None))
    assert n_events > 0, "the benchmark stream must publish threshold events"

    state, history = default_state(), []

    def reference() -> None:
        for d in data:
            _manual_shape_update(state, d, history)

    ref, _ = median_time(reference, repeat=3)
    return Figure(
        "twin.update() with validation, thresholds, events",
        N_UPDATES / median,
        unit="updates/s",
        target=50_000.0,
        higher_is_better=True,
        reference=N_UPDATES / ref,
        reference_name="manual's shape: deepcopy + dict.update, no validation",
        samples=tuple(N_UPDATES / s for s in samples),
    )


@bench("twin")
def state_at_time_100k() -> Figure:
    sm = StateManager(history_length=100_000)
    t0 = datetime(2025, 2, 24, 6, 0, 0)
    sm.set_state({**default_state(), "timestamp": t0.isoformat()})
    for i in range(1, 100_001):
        sm.update_state(
            {
                "timestamp": (t0 + timedelta(seconds=i)).isoformat(),
                "production_line": {"cycle_time": 30.0 + i % 10},
            }
        )
    queries = [
        (t0 + timedelta(seconds=i * 997 % 100_000, milliseconds=500)).isoformat()
        for i in range(1000)
    ]
    assert (
        sm.get_state_at_time(queries[1])["production_line"]["cycle_time"]
        == 30.0 + (997 % 100_000) % 10
    )

    def run() -> None:
        for q in queries:
            sm.get_state_at_time(q)

    median, samples = median_time(run, repeat=7)

    def linear() -> None:  # reference: scan the history list
        hist = sm.get_history()
        for q in queries[:10]:
            key = datetime.fromisoformat(q)
            next((h for h in reversed(hist) if datetime.fromisoformat(h["timestamp"]) <= key), None)

    start = time.perf_counter()
    linear()
    ref = (time.perf_counter() - start) / 10
    return Figure(
        "get_state_at_time on a 100,000-state history",
        median / len(queries),
        target=20e-6,
        reference=ref,
        reference_name="linear scan of get_history()",
        samples=tuple(s / len(queries) for s in samples),
    )
