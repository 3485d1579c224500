"""A real PostgreSQL 15 server in a temporary folder, for the team-store tests and benchmarks.

Debian's binaries (``/usr/lib/postgresql/15/bin``, else the newest installed, or
``$CIRCMAN_PG_BIN``) are run directly: ``initdb`` into the
folder, ``pg_ctl start`` listening on a Unix socket only (no TCP port), stopped and removed
afterwards. ``initdb`` refuses to run as root, so as root the server runs as the
``postgres`` user (``runuser``) in a folder it owns. Two roles: ``postgres`` (superuser,
trusted on the socket) and ``circman`` (password ``PASSWORD``, scram-sha-256), which owns
the databases the tests create.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def _server_bin() -> Path:
    """``$CIRCMAN_PG_BIN``, else Debian's PostgreSQL 15, else the newest one installed."""
    env = os.environ.get("CIRCMAN_PG_BIN")
    if env:
        return Path(env)
    preferred = Path("/usr/lib/postgresql/15/bin")
    if preferred.is_dir():
        return preferred
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    return found[-1] if found else preferred


BIN = _server_bin()
USER = "circman"
PASSWORD = "s3cret-Pa55"


def available() -> bool:
    """True when the PostgreSQL 15 server binaries are installed."""
    return all((BIN / name).is_file() for name in ("initdb", "pg_ctl", "postgres"))


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass(frozen=True)
class PgServer:
    """A running server: its socket folder and how to reach its databases."""

    root: Path
    socket_dir: Path
    port: int = 5432

    def url(self, dbname: str, *, user: str = USER, password: str | None = PASSWORD) -> str:
        auth = f"{user}:{password}" if password is not None else user
        return f"postgresql://{auth}@/{dbname}?host={self.socket_dir}&port={self.port}"

    def keywords(self, dbname: str) -> str:
        """The same database as a libpq keyword string."""
        return (
            f"host={self.socket_dir} port={self.port} dbname={dbname} user={USER} "
            f"password={PASSWORD}"
        )

    def admin(self):
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir), port=self.port, user="postgres", dbname="postgres",
            autocommit=True,
        )  # fmt: skip

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database owned by ``circman``; return its name."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with self.admin() as con:
            con.execute(f'CREATE DATABASE "{name}" OWNER {USER}')
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[PgServer]:
    """Run a PostgreSQL server in a new temporary folder until the block ends.

    The folder is made with :func:`tempfile.mkdtemp` (the server user must be able to
    reach it, which pytest's private temporary folders do not allow). ``durable=False``
    turns fsync off (tests); benchmarks pass ``True`` for real commits.
    """
    root = Path(tempfile.mkdtemp(prefix="circman-pg-"))
    data, sock, log = root / "data", root / "sock", root / "server.log"
    sock.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    subprocess.run(
        _as_server_user([str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8",
                         "--locale=C", "--no-sync", "--auth-local=trust", "--auth-host=reject"]),
        check=True, capture_output=True, text=True, cwd=root,
    )  # fmt: skip
    (data / "pg_hba.conf").write_text(
        "local all postgres trust\nlocal all all scram-sha-256\n", encoding="utf-8"
    )
    options = f"-k {sock} -c listen_addresses='' -c max_connections=100"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(
        _as_server_user([str(BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                         "-o", options, "start"]),
        check=True, capture_output=True, text=True, cwd=root,
    )  # fmt: skip
    server = PgServer(root, sock)
    try:
        with server.admin() as con:
            con.execute(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
        yield server
    finally:
        subprocess.run(
            _as_server_user([str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                             "stop"]),
            capture_output=True, text=True, cwd=root,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
