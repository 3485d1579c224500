"""Issue 9 figure: ``circman demo`` end to end on a fresh store, target under 30 s.

Measured as the user runs it (``make demo`` calls ``circman demo``): a new process, a new
DuckDB file each round, wall-clock time including interpreter start and imports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import Figure, bench, median_time


def _demo_once() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CIRCMAN_DB": str(Path(tmp) / "demo.duckdb")}
        subprocess.run(
            [sys.executable, "-m", "circman_kernel.cli", "demo"],
            env=env,
            check=True,
            capture_output=True,
        )


@bench("demo")
def demo_fresh_store() -> Figure:
    median, samples = median_time(_demo_once, repeat=3, warmup=0)
    return Figure(
        "circman demo on a fresh store (new process)", median, target=30.0, samples=samples
    )
