"""A real team server for the tests and the API benchmark: ``circman dashboard --auth``.

Started through the ``circman`` command line as a user would (``--auth``, ``--twin``), in a
temporary folder with its own run store, signing secret and Jupyter folders, with one
user per role (password ``<role>-password``). :func:`call` speaks HTTP to it with the
standard library only, so nothing of tornado or Voila is imported into the test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voila_server import _wait_http, free_port, server_env, stop_server

from circman_kernel.core.roles import ROLES

ROLE_USERS = {role: f"{role}-user" for role in ROLES}
REPO = Path(__file__).resolve().parents[1]


def breach_csv(path: Path, rows: int = 40, breach_at: int = 5) -> Path:
    """The sample shift's first rows, one of them 31 degC (above the 27 degC band)."""
    lines = (REPO / "data" / "sample_shift.csv").read_text().splitlines()
    header, body = lines[0], lines[1 : rows + 1]
    col = header.split(",").index("production_line.temperature")
    fields = body[breach_at].split(",")
    fields[col] = "31.0"
    body[breach_at] = ",".join(fields)
    path.write_text("\n".join([header, *body]) + "\n")
    return path


def password(role: str) -> str:
    return f"{role}-password"


@dataclass
class TeamServer:
    url: str  # ends with "/"
    proc: subprocess.Popen
    db: Path
    secret: Path
    log: Path
    env: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"{self.url}api/v1/"

    def app_url(self, name: str) -> str:
        return f"{self.url}voila/render/{name}.ipynb"

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """Run ``circman --db <this server's store> ARGS`` with the server's environment."""
        return subprocess.run(
            [sys.executable, "-m", "circman_kernel.cli", "--db", str(self.db), *args],
            env=self.env, input=stdin, capture_output=True, text=True, timeout=120,
        )  # fmt: skip


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))


def call(
    url: str,
    method: str = "GET",
    *,
    token: str | None = None,
    body: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """Return (status, headers, JSON body or bytes) of one HTTP request; never raises on 4xx."""
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with _OPENER.open(req, timeout=60) as resp:
            status, head, payload = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        status, head, payload = exc.code, dict(exc.headers), exc.read()
    kind = head.get("Content-Type", "")
    return status, head, json.loads(payload) if "json" in kind and payload else payload


def sign_in(server: TeamServer, user: str, pw: str) -> str:
    status, _, body = call(server.api + "token", "POST", body={"username": user, "password": pw})
    assert status == 200, body
    return body["token"]


@contextmanager
def team_server(
    tmp: Path,
    *,
    twin: str | None = None,
    twin_rate: float = 4.0,
    preheat: bool = False,
    extra: tuple[str, ...] = (),
    limits: dict[str, float] | None = None,
    timeout_s: float = 90.0,
) -> Iterator[TeamServer]:
    """Run ``circman dashboard --auth [--twin SOURCE]`` in ``tmp`` with a user per role.

    ``limits`` (optional) go into ``server.json`` of a copy of ``configs/``.
    """
    from circman_kernel.server.auth import hash_password
    from circman_kernel.store.run_store import RunStore

    tmp.mkdir(parents=True, exist_ok=True)
    env = server_env(tmp)
    secret = tmp / "secret" / "auth-secret"
    env["CIRCMAN_AUTH_SECRET_FILE"] = str(secret)
    env.pop("CIRCMAN_AUTH_SECRET", None)
    if limits:
        import shutil

        shutil.copytree(REPO / "configs", tmp / "configs")
        (tmp / "configs" / "server.json").write_text(json.dumps({"limits": limits}))
        env["CIRCMAN_CONFIG_DIR"] = str(tmp / "configs")
    db = Path(env["CIRCMAN_DB"])
    store = RunStore(db)
    for role, user in ROLE_USERS.items():
        store.add_user(user, role, hash_password(password(role)))
    del store
    port = free_port()
    argv = [sys.executable, "-m", "circman_kernel.cli", "dashboard", "--auth",
            "--port", str(port)]  # fmt: skip
    if not preheat:
        argv.append("--no-preheat")
    if twin:
        argv += ["--twin", twin, "--twin-rate", str(twin_rate)]
    argv += list(extra)
    log = tmp / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp,
                                start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_http(url + "api/v1/openapi.json", proc, log, timeout_s)
        server = TeamServer(url, proc, db, secret, log, env)
        for role, user in ROLE_USERS.items():
            server.tokens[role] = sign_in(server, user, password(role))
        yield server
    finally:
        stop_server(proc, grace_s=20)
