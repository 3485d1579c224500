"""``circman demo`` and ``circman diagnostics``."""

from __future__ import annotations

import argparse
import json
import sys

from circman_kernel.cli.diagnostics import run_diagnostics


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="headless end-to-end demo on the embedded DuckDB store")
    demo.set_defaults(func=_demo)

    diag = sub.add_parser("diagnostics", help="check configuration, store, twin and events")
    diag.add_argument("--json", action="store_true", help="print the results as JSON")
    diag.set_defaults(func=_diagnostics)


def _demo(args: argparse.Namespace) -> int:
    from circman_kernel.cli.demo import run_demo

    return run_demo(config_dir=args.config_dir, db=args.db)


def _diagnostics(args: argparse.Namespace) -> int:
    import pandas as pd

    checks = run_diagnostics(config_dir=args.config_dir, db=args.db)
    if args.json:
        json.dump([c.to_dict() for c in checks], sys.stdout, indent=2)
        print()
    else:
        table = pd.DataFrame([c.to_dict() for c in checks])
        print(table.to_string(index=False))
    failed = [c.name for c in checks if c.failed]
    skipped = [c.name for c in checks if c.status == "skipped"]
    if failed or skipped:
        also = f" (skipped: {', '.join(skipped)})" if skipped else ""
        print(f"diagnostics failed: {', '.join(failed) or 'none'}{also}", file=sys.stderr)
        return 1
    return 0
