"""Foundation figures: loading and validating the configuration folder."""

from __future__ import annotations

from benchmarks.harness import Figure, bench, median_time
from circman_kernel.core.config import load_config


@bench("foundation")
def load_configs() -> Figure:
    median, samples = median_time(load_config, repeat=7, number=20)
    return Figure("load + validate configs/ (3 files)", median, target=0.01, samples=samples)
