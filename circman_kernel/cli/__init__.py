"""The ``circman`` command line: one sub-module per command group.

Each module in :data:`COMMAND_MODULES` defines ``register(subparsers)``, which adds its
sub-commands and sets ``func(args) -> int`` on them. Errors the package raises on purpose
(:class:`~circman_kernel.errors.CircmanError`) are printed as one readable line and give
exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence

from circman_kernel import __version__
from circman_kernel.errors import CircmanError

COMMAND_MODULES = ("core", "runs", "simulate", "lca", "optimize", "dashboard")

log = logging.getLogger("circman")


def build_parser() -> argparse.ArgumentParser:
    """Return the ``circman`` argument parser with every available command group."""
    parser = argparse.ArgumentParser(
        prog="circman",
        description="Digital-twin workbench for a PV module line: simulate, compare "
        "scenarios, optimise and assess life-cycle impact; every run kept in DuckDB.",
    )
    parser.add_argument("--version", action="version", version=f"circman {__version__}")
    parser.add_argument(
        "--log-level",
        default=os.environ.get("LOG_LEVEL", "WARNING"),
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="logging level on stderr (default: $LOG_LEVEL or WARNING)",
    )
    parser.add_argument(
        "--config-dir", help="configuration folder (default: $CIRCMAN_CONFIG_DIR or configs/)"
    )
    parser.add_argument(
        "--db", help="DuckDB file of the run store (default: $CIRCMAN_DB or data/circman.duckdb)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(f"circman_kernel.cli.{name}") is not None:
            importlib.import_module(f"circman_kernel.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``circman`` command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CircmanError as exc:
        print(f"circman {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
