"""Measuring and reporting benchmark figures."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

REGISTRY: list[tuple[str, Callable[[], Iterable[Figure] | Figure]]] = []


@dataclass(frozen=True)
class Figure:
    """One measured figure.

    ``value`` is a median (seconds unless ``unit`` says otherwise). ``target`` is the
    issue's goal; ``higher_is_better`` flips the comparison (throughputs, speed-ups).
    ``reference`` is the same quantity for the baseline measured in the same run
    (e.g. the manual's engine shape, or raw DuckDB); the ratio is how many times better
    the measured value is than the reference.
    """

    name: str
    value: float
    unit: str = "s"
    target: float | None = None
    higher_is_better: bool = False
    reference: float | None = None
    reference_name: str = ""
    samples: tuple[float, ...] = field(default=())

    @property
    def ratio(self) -> float | None:
        if self.reference is None or self.value == 0:
            return None
        return self.value / self.reference if self.higher_is_better else self.reference / self.value

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ratio"] = self.ratio
        d["passed"] = self.passed
        return d


def bench(group: str) -> Callable:
    """Register a benchmark function under a group name (the issue's feature)."""

    def register(fn: Callable) -> Callable:
        REGISTRY.append((f"{group}: {fn.__name__}", fn))
        return fn

    return register


def median_time(
    fn: Callable[[], Any], *, repeat: int = 5, warmup: int = 1, number: int = 1
) -> tuple[float, tuple[float, ...]]:
    """Return the median seconds per call of ``fn`` over ``repeat`` timed rounds.

    Each round calls ``fn`` ``number`` times and divides, so that very short calls
    (microseconds) are timed over many calls instead of one.
    """
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples), tuple(samples)
