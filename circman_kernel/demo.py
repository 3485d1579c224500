"""The headless end-to-end demo behind ``circman demo`` / ``make demo``."""

from __future__ import annotations

import sys
from typing import TextIO

from circman_kernel import __version__
from circman_kernel.diagnostics import run_diagnostics


def run_demo(config_dir: str | None = None, db: str | None = None, out: TextIO = sys.stdout) -> int:
    """Run the demo and return its exit status (0 when every step worked)."""
    print(f"circman {__version__}: end-to-end demo", file=out)
    checks = run_diagnostics(config_dir=config_dir, db=db)
    for check in checks:
        print(f"  {check.name:<12} {'ok' if check.ok else 'FAILED':<7} {check.detail}", file=out)
    return 0 if all(c.ok for c in checks) else 1
