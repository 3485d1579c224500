"""Where the workbench finds its configuration, sample data and default database.

Environment variables win (``CIRCMAN_CONFIG_DIR``, ``CIRCMAN_DB``); otherwise a source
checkout uses its own ``configs/`` and ``data/`` folders, and an installed package falls
back to the user's data folder. Nothing here creates files.
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_DIR_ENV = "CIRCMAN_CONFIG_DIR"
DB_ENV = "CIRCMAN_DB"
DEFAULT_DB_NAME = "circman.duckdb"
CACHE_DIR_ENV = "CIRCMAN_CACHE_DIR"


def project_root() -> Path | None:
    """Return the source checkout this package runs from, or ``None`` when installed."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "configs").is_dir() else None


def default_config_dir() -> Path | None:
    """Return the configuration folder in effect: ``$CIRCMAN_CONFIG_DIR`` or ``configs/``."""
    env = os.environ.get(CONFIG_DIR_ENV)
    if env:
        return Path(env).expanduser()
    root = project_root()
    return root / "configs" if root else None


def data_dir() -> Path:
    """Return the folder with the shipped sample data (``data/`` of the checkout)."""
    root = project_root()
    if root is not None:
        return root / "data"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "circman"


def default_db_path() -> str:
    """Return the DuckDB file runs are stored in: ``$CIRCMAN_DB`` or ``data/circman.duckdb``.

    ``:memory:`` and URLs (the team store's ``postgresql://...``) are passed through
    unchanged.
    """
    env = os.environ.get(DB_ENV)
    if env:
        return env if env == ":memory:" or "://" in env else str(Path(env).expanduser())
    return str(data_dir() / DEFAULT_DB_NAME)


def cache_dir() -> Path:
    """Return the user cache folder (nothing is created here).

    ``$CIRCMAN_CACHE_DIR`` wins, then ``$XDG_CACHE_HOME/circman``, then ``~/.cache/circman``.
    """
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "circman"
