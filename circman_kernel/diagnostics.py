"""System diagnostics (the manual's section 14.1): one check per part, each ok or not.

A check never raises: it turns the failure into a :class:`Check` that names the part and
says what went wrong, so ``circman diagnostics`` can report every part in one table.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from circman_kernel.config import CircmanConfig, load_config
from circman_kernel.errors import CircmanError
from circman_kernel.paths import default_db_path


@dataclass(frozen=True)
class Check:
    """Outcome of one diagnostic check."""

    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, object]:
        return {"check": self.name, "status": "ok" if self.ok else "FAILED", "detail": self.detail}


@dataclass
class _Context:
    config_dir: str | None
    db: str
    config: CircmanConfig | None = None


def _check_config(ctx: _Context) -> str:
    ctx.config = load_config(ctx.config_dir)
    return f"{ctx.config.source} (hash {ctx.config.config_hash})"


def _check_store(ctx: _Context) -> str:
    if ctx.db == ":memory:":
        return "in-memory store"
    path = Path(ctx.db)
    folder = path.parent
    if not folder.exists():
        folder = next((p for p in folder.parents if p.exists()), Path("/"))
    if not folder.is_dir():
        raise CircmanError(f"{path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CircmanError(f"{path}: not writable")
    return str(path)


CHECKS: tuple[tuple[str, Callable[[_Context], str]], ...] = (
    ("config", _check_config),
    ("store", _check_store),
)


def run_diagnostics(config_dir: str | None = None, db: str | None = None) -> list[Check]:
    """Run every check and return their outcomes in order."""
    ctx = _Context(config_dir=config_dir, db=db or default_db_path())
    results = []
    for name, check in CHECKS:
        try:
            results.append(Check(name, True, check(ctx)))
        except (CircmanError, OSError) as exc:
            results.append(Check(name, False, str(exc).splitlines()[0]))
    return results
