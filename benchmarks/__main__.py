"""Run the benchmarks, print the table and write JSON under ``benchmarks/results/``.

Usage: ``python -m benchmarks [-k SUBSTRING] [-x SUBSTRING ...]``. Exit status 1 when a figure misses its
target, so a slowdown is visible in the same place as the numbers.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path

from benchmarks.harness import REGISTRY, Figure

HERE = Path(__file__).resolve().parent


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:.1f} µs"
        if value < 1:
            return f"{value * 1e3:.1f} ms"
        return f"{value:.2f} s"
    return f"{value:,.4g} {unit}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("-k", default="", help="only benchmarks whose name contains this")
    parser.add_argument(
        "-x",
        "--exclude",
        action="append",
        default=[],
        help="skip benchmarks whose name contains this",
    )
    args = parser.parse_args(argv)

    for path in sorted(HERE.glob("bench_*.py")):
        importlib.import_module(f"benchmarks.{path.stem}")

    figures: list[Figure] = []
    for name, fn in REGISTRY:
        if (args.k and args.k not in name) or any(x in name for x in args.exclude):
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        out = fn()
        figures.extend([out] if isinstance(out, Figure) else list(out))

    rows = []
    for f in figures:
        target = (
            "-"
            if f.target is None
            else ("≥ " if f.higher_is_better else "≤ ") + _fmt(f.target, f.unit)
        )
        ratio = "-" if f.ratio is None else f"{f.ratio:,.1f}× vs {f.reference_name}"
        status = {True: "ok", False: "MISSED", None: ""}[f.passed]
        rows.append((f.name, _fmt(f.value, f.unit), target, ratio, status))
    widths = [
        max(len(r[i]) for r in [("figure", "median", "target", "ratio", ""), *rows])
        for i in range(5)
    ]
    header = ("figure", "median", "target", "ratio", "")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())

    results = HERE / "results"
    results.mkdir(exist_ok=True)
    payload = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "figures": [f.to_dict() for f in figures],
    }
    text = json.dumps(payload, indent=2)
    (results / "latest.json").write_text(text)
    (results / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(text)
    return 1 if any(f.passed is False for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
