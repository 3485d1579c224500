"""Recorded replay of a 1 GB sensor CSV: peak memory and throughput (issue 20, item 5).

The CSV (the columns of ``data/sample_shift.csv``, one reading every second) is written
into a temporary folder; each replay runs in a fresh interpreter, whose peak resident set
(``ru_maxrss``) is the figure, so nothing of the generator or an earlier replay counts.
The reference is the same file replayed without ``record`` (nothing stored). The size is
``$CIRCMAN_BENCH_REPLAY_MB`` (default 1024 MB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.harness import Figure, bench

SIZE_MB = float(os.environ.get("CIRCMAN_BENCH_REPLAY_MB", "1024"))
BLOCK_ROWS = 100_000
REPO = Path(__file__).resolve().parents[1]

_REPLAY = """
import json, resource, sys, time
from circman_kernel.store.run_store import RunStore
from circman_kernel.twin.digital_twin import DigitalTwin
from circman_kernel.twin.sources import CSVReplaySource
from circman_kernel.twin.sync import Synchronizer

csv_path, db, record = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
twin = DigitalTwin(store=RunStore(db) if record else None, seed=0)
twin.initialize()
sync = Synchronizer(twin, CSVReplaySource(csv_path))
start = time.perf_counter()
n = sync.run_batch(record=record)
seconds = time.perf_counter() - start
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before checking
stored = None
if record:
    assert twin.store.get_run(sync.run_id)["status"] == "completed"
    stored = int(twin.store._frame(
        "SELECT count(*) AS n FROM states WHERE run_id = ?", [sync.run_id]
    )["n"].iloc[0])
print(json.dumps({"rows": n, "seconds": seconds, "rss_mb": rss_mb, "stored": stored}))
"""


def write_csv(path: Path, size_mb: float) -> int:
    """Write a sensor CSV of about ``size_mb`` MB; return its number of readings."""
    rng = np.random.default_rng(0)
    t0 = datetime(2025, 2, 24, 6, 0, 0)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        header = True
        while fh.tell() < size_mb * 1e6:
            n = BLOCK_ROWS
            k = np.arange(rows, rows + n)
            frame = pd.DataFrame(
                {
                    "timestamp": pd.Timestamp(t0) + pd.to_timedelta(k, unit="s"),
                    "system_status": "running",
                    "batch_id": [f"B-{i // 3600:05d}" for i in k],
                    "production_line.status": "running",
                    "production_line.temperature": 22.5 + rng.normal(0, 0.8, n).round(3),
                    "production_line.energy_consumption": 120 + rng.normal(0, 3, n).round(2),
                    "production_line.production_rate": 8.3 + rng.normal(0, 0.2, n).round(3),
                    "production_line.efficiency": 0.92 + rng.normal(0, 0.01, n).round(4),
                    "production_line.defect_rate": 0.02 + rng.normal(0, 0.001, n).round(4),
                    "production_line.cycle_time": 30 + rng.normal(0, 0.2, n).round(2),
                    "materials.silicon_wafer.inventory": (850 - k * 1e-5).round(4),
                    "materials.silicon_wafer.quality": 0.95,
                    "materials.silicon_wafer.consumption": rng.uniform(0.01, 0.02, n).round(5),
                    "materials.solar_glass.inventory": (420 - k * 4e-6).round(4),
                    "materials.solar_glass.quality": 0.98,
                    "materials.solar_glass.consumption": rng.uniform(0.005, 0.008, n).round(5),
                    "environment.temperature": 21 + rng.normal(0, 0.3, n).round(2),
                    "environment.humidity": 45 + rng.normal(0, 2, n).round(1),
                }
            )
            frame.to_csv(fh, index=False, header=header, date_format="%Y-%m-%dT%H:%M:%S")
            header = False
            rows += n
    return rows


def _replay(csv_path: Path, db: Path, record: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(
        [sys.executable, "-c", _REPLAY, str(csv_path), str(db), "1" if record else "0"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


# its own group: `-k twin` (the twin core figures) does not write a 1 GB file
@bench("replay")
def recorded_replay_1gb() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="circman-bench-replay-") as tmp:
        csv_path = Path(tmp) / "shift.csv"
        rows = write_csv(csv_path, SIZE_MB)
        size = csv_path.stat().st_size / 1e6
        plain = _replay(csv_path, Path(tmp) / "unused.duckdb", record=False)
        recorded = _replay(csv_path, Path(tmp) / "replay.duckdb", record=True)
        db_mb = (Path(tmp) / "replay.duckdb").stat().st_size / 1e6
    assert plain["rows"] == recorded["rows"] == rows, (plain, recorded, rows)
    assert recorded["stored"] == rows, recorded
    label = f"{size:,.0f} MB CSV, {rows:,} readings, store {db_mb:,.0f} MB"
    return [
        Figure(
            f"recorded replay peak RSS ({label})",
            recorded["rss_mb"],
            unit="MB",
            target=300.0,
            reference=plain["rss_mb"],
            reference_name="the same replay without record",
        ),
        Figure(
            f"recorded replay throughput ({label})",
            rows / recorded["seconds"],
            unit="rows/s",
            higher_is_better=True,
            reference=rows / plain["seconds"],
            reference_name="the same replay without record",
        ),
    ]
