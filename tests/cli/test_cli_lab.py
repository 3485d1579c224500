"""``circman lab`` for real: JupyterLab starts (as root here, in a temporary HOME), the URL
it prints opens with its token, a kernel started through it goes with it, and after
SIGTERM or SIGINT no process is left and the port is free for the next start."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from circman_kernel.cli.lab import lab_command
from circman_kernel.core.processes import running  # zombies do not count
from circman_kernel.server.process import descendants

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("jupyter-kernels")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, *, method: str = "GET") -> tuple[int, str]:
    req = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except urllib.error.URLError:  # not listening yet
        return 0, ""


def _home_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "IPYTHONDIR": str(home / ".ipython")}
    for name in ("CONFIG", "DATA", "RUNTIME"):
        env[f"JUPYTER_{name}_DIR"] = str(home / f"jupyter-{name.lower()}")
    env["CIRCMAN_DB"] = str(tmp_path / "lab.duckdb")
    return env


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_lab_starts_as_root_answers_with_its_url_and_stops_on_a_signal(
    tmp_path: Path, stop: signal.Signals
) -> None:
    assert os.geteuid() == 0, "this machine runs the tests as root: the case that used to fail"
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "circman_kernel.cli", "lab", "--port", str(port)],
        env=_home_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("JupyterLab: http://localhost:"), line
        url = line.split(" ", 1)[1]
        assert f":{port}/lab?token=" in url
        token = url.split("token=", 1)[1]
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline:
            status, body = _get(url)
            if status == 200:
                break
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.5)
        assert status == 200 and "JupyterLab" in body
        base = f"http://localhost:{port}"
        assert _get(f"{base}/api/kernels")[0] == 403  # no token, no access
        status, body = _get(f"{base}/api/kernels?token={token}", method="POST")
        assert status == 201, status
        kernel = json.loads(body)["id"]
        status, body = _get(f"{base}/api/kernels?token={token}")
        assert kernel in body
        time.sleep(1.0)  # let the kernel process come up
        below = descendants(proc.pid)
        assert len(below) >= 2, below  # JupyterLab and the kernel
    finally:
        proc.send_signal(stop)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == (0 if stop == signal.SIGINT else 128 + stop)
    end = time.monotonic() + 5
    while time.monotonic() < end and any(running(p) for p in below):
        time.sleep(0.1)
    assert [p for p in below if running(p)] == []
    with socket.socket() as s:  # nobody listens any more
        assert s.connect_ex(("127.0.0.1", port)) != 0
    with socket.socket() as s:  # the port is free: the next `circman lab` can start
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as JupyterLab binds
        s.bind(("127.0.0.1", port))
        s.listen()


def test_lab_command_adds_allow_root_only_for_root_and_carries_its_token() -> None:
    as_root = lab_command(port=9999, token="abc", as_root=True)
    user = lab_command(port=9999, token="abc", as_root=False)
    assert "--allow-root" in as_root.argv and "--allow-root" not in user.argv
    assert "--IdentityProvider.token=abc" in user.argv
    assert user.url == "http://localhost:9999/lab?token=abc"
    assert user.env["CIRCMAN_DASHBOARD_MODE"] == "edit"
    assert lab_command().token != lab_command().token  # a fresh token per start
    assert Path(user.argv[3].split("=", 1)[1]).name == "notebooks"
