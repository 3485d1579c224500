"""Shared fixtures: a fresh config, a temporary DuckDB store, a fresh initialised twin.

Every test runs with ``CIRCMAN_DB`` pointing into its own temporary folder so that no
test touches ``data/circman.duckdb``, and Jupyter/IPython write under a temporary home.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from circman_kernel.core.config import CircmanConfig, load_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _jupyter_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("jupyter-home")
    for var, sub in {
        "JUPYTER_CONFIG_DIR": "config",
        "JUPYTER_DATA_DIR": "data",
        "JUPYTER_RUNTIME_DIR": "runtime",
        "IPYTHONDIR": "ipython",
    }.items():
        os.environ.setdefault(var, str(home / sub))
    os.environ.setdefault("MPLCONFIGDIR", str(home / "mpl"))
    os.environ.setdefault("CIRCMAN_CACHE_DIR", str(home / "circman-cache"))  # never ~/.cache


@pytest.fixture(autouse=True)
def _private_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIRCMAN_DB", str(tmp_path / "default.duckdb"))
    monkeypatch.delenv("CIRCMAN_CONFIG_DIR", raising=False)


@pytest.fixture
def config() -> CircmanConfig:
    """The repository's configs/ folder, validated."""
    return load_config(REPO / "configs")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Path of a DuckDB file that does not exist yet."""
    return tmp_path / "runs.duckdb"


@pytest.fixture
def store(db_path: Path):
    """A fresh run store on a temporary DuckDB file."""
    from circman_kernel.store.run_store import RunStore

    return RunStore(db_path)


@pytest.fixture
def twin(config: CircmanConfig):
    """A fresh, initialised digital twin with a fixed seed and no store."""
    from circman_kernel.twin.digital_twin import DigitalTwin

    t = DigitalTwin(config=config, seed=1)
    assert t.initialize() is True
    return t


# -- the team store: a real PostgreSQL 15 server ------------------------------------------


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server in a temporary folder for this test session (Unix socket only)."""
    import pg_server as pg

    if not pg.available():
        pytest.skip(
            f"PostgreSQL 15 server binaries not found in {pg.BIN} (apt-get install postgresql)"
        )
    with pg.postgres_server() as server:
        yield server


@pytest.fixture
def pg_url(pg_server) -> str:
    """URL of a new, empty database on the session's PostgreSQL server (dropped afterwards)."""
    name = pg_server.create_database()
    yield pg_server.url(name)
    pg_server.drop_database(name)


@pytest.fixture(params=["duckdb", "postgresql"])
def store_url(request, tmp_path: Path) -> str:
    """Where a fresh store lives, once per backend: a DuckDB file and a PostgreSQL database."""
    if request.param == "duckdb":
        return str(tmp_path / "param.duckdb")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def any_store(store_url: str):
    """A fresh run store on each backend (the same test runs against both)."""
    from circman_kernel.store.run_store import RunStore

    return RunStore(store_url)
