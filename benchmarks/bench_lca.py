"""Issue 6 figures: one validated perform_full_lca, and a 10,000-sample factor Monte Carlo.

The Monte Carlo's reference is the same 10,000 assessments done one call at a time with
redrawn factors (a fresh analyzer profile per draw would be slower still), so the ratio is
the speed-up of redrawing the factor matrix and solving S = F A once.
"""

from __future__ import annotations

import numpy as np

from benchmarks.harness import Figure, bench, median_time
from circman_kernel.lca.analyzer import LCAAnalyzer

MATERIALS = {
    "silicon_wafer": 2.0,
    "solar_glass": 10.0,
    "aluminum_frame": 3.0,
    "copper_wiring": 0.5,
    "silver_paste": 0.02,
    "EVA_encapsulant": 1.0,
    "backsheet": 0.8,
}
RATES = {"silicon_wafer": 0.9, "solar_glass": 0.5, "aluminum_frame": 0.95, "copper_wiring": 0.8}
ARGS = (MATERIALS, 10.0, 25, 400.0, "EU_average", RATES, 100.0)
SAMPLES = 10_000


@bench("lca")
def single_assessment() -> Figure:
    an = LCAAnalyzer()
    median, samples = median_time(lambda: an.perform_full_lca(*ARGS), repeat=9, number=2000)
    return Figure(
        "perform_full_lca, 7 materials, validation included", median, target=20e-6, samples=samples
    )


def _single_calls(an: LCAAnalyzer, samples: int) -> None:
    # The loop a caller writes without the vectorised path: redraw, assess, one at a time.
    rng = np.random.default_rng(0)
    f = an.tables.factors
    spreads = an.tables.spreads(None, "EU_average")
    sigma = np.sqrt(np.log1p(spreads**2))
    a, _ = an.activity_matrix(*ARGS)
    for _ in range(samples):
        an.perform_full_lca(*ARGS)
        (f * np.exp(sigma * rng.standard_normal(f.shape[0]) - sigma**2 / 2)) @ a


@bench("lca")
def factor_monte_carlo() -> list[Figure]:
    an = LCAAnalyzer()
    mc, mc_samples = median_time(
        lambda: an.monte_carlo(*ARGS, samples=SAMPLES, seed=1), repeat=15, warmup=2
    )
    loop, _ = median_time(lambda: _single_calls(an, SAMPLES), repeat=3, warmup=0)
    return [
        Figure(
            f"factor Monte Carlo, {SAMPLES} samples",
            mc,
            target=20e-3,
            reference=loop,
            reference_name=f"{SAMPLES} single calls",
            samples=mc_samples,
        ),
        Figure(
            "Monte Carlo speed-up over single calls",
            loop / mc,
            unit="x",
            target=10.0,
            higher_is_better=True,
        ),
    ]
