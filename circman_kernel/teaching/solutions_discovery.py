"""Expected answers of notebook 03's scenario-discovery exercise, worked out with the package.

Kept apart from :mod:`circman_kernel.teaching.solutions` (which lists every exercise's
reference code) so that each module stays small; the sweep and the condition are the
notebook's own.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["DISCOVERY_SPACE", "box_lower_temperature"]

#: Notebook 03's discovery sweep: the issue's 3-parameter line model.
DISCOVERY_SPACE: MappingProxyType[str, tuple[float, float]] = MappingProxyType(
    {
        "target_temperature": (16.0, 36.0),
        "base_defect_rate": (0.005, 0.03),
        "temperature_regulation": (0.05, 0.5),
    }
)


def box_lower_temperature() -> float:
    """Return the lower target-temperature limit [degC] of PRIM's box for P90 defects."""
    from circman_kernel.ai.discovery import discover
    from circman_kernel.simulation.sweeps import evaluate, sample

    sweep = sample(dict(DISCOVERY_SPACE), 1024, method="lhs", seed=3)
    results = evaluate(sweep, steps=200, seed=4)
    found = discover(sweep, results, "defect_rate > p90")
    return float(found.limits().loc["target_temperature", "min"])
