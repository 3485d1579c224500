"""The ``circman`` command line: one sub-module per command group.

Each module in :data:`COMMAND_MODULES` defines ``register(subparsers)``, which adds its
sub-commands and sets ``func(args) -> int`` on them. Errors the package raises on purpose
(:class:`~circman_kernel.core.errors.CircmanError`) are printed as one readable line and give
exit status 2; anything else is a bug and keeps its traceback.

Owns the command modules, the headless ``demo`` and ``diagnostics``. May import every
other subpackage; nothing imports it.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from circman_kernel.core.errors import CircmanError
from circman_kernel.core.version import __version__

COMMAND_MODULES = (
    "core",
    "runs",
    "simulate",
    "lca",
    "optimize",
    "dashboard",
    "lab",
    "users",
    "token",
    "twin",
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s: %(message)s"

log = logging.getLogger("circman")


def _redact(location: str) -> str:
    # a team store URL may carry a password: never log it
    from circman_kernel.store.urls import redact

    return redact(location)


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
        default=None,
        type=str.upper,
        choices=LOG_LEVELS,
        help="logging level on stderr (default: $LOG_LEVEL or WARNING)",
    )
    parser.add_argument(
        "--config-dir", help="configuration folder (default: $CIRCMAN_CONFIG_DIR or configs/)"
    )
    parser.add_argument(
        "--db",
        help="run store: a DuckDB file or the team store's postgresql:// URL "
        "(default: $CIRCMAN_DB or data/circman.duckdb)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(f"circman_kernel.cli.{name}") is not None:
            importlib.import_module(f"circman_kernel.cli.{name}").register(sub)
    return parser


@contextmanager
def logging_to_stderr(level: str) -> Iterator[logging.Handler]:
    """Send the ``circman`` loggers' records at ``level`` and above to stderr for a block.

    Unlike ``logging.basicConfig`` this works when the root logger already has handlers
    (a notebook, pytest, an embedding application): the level and one stderr handler go
    on the ``circman`` logger itself, which stops propagating meanwhile so no record is
    printed twice. Afterwards the logger is as it was, so calling :func:`main` again (or
    in-process) never piles up handlers.
    """
    logger = logging.getLogger("circman")
    handler = logging.StreamHandler(sys.stderr)  # the current stderr (pytest swaps it)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    saved = logger.level, logger.propagate
    logger.setLevel(level)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        handler.close()


def _log_level(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    if args.log_level is not None:
        return args.log_level
    env = os.environ.get("LOG_LEVEL", "").strip().upper()
    if env and env not in LOG_LEVELS:
        parser.error(
            f"LOG_LEVEL={env!r} is not a logging level; use one of {', '.join(LOG_LEVELS)}"
        )
    return env or "WARNING"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``circman`` command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = _log_level(parser, args)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    with logging_to_stderr(level):
        log.debug("circman %s: log level %s, config %s, db %s", args.command, level,
                  args.config_dir or "default", _redact(args.db) if args.db else "default")  # fmt: skip
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
