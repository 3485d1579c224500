"""Dashboard kernels forked from the warm fork server: real kernels through jupyter_client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec

from circman_kernel.apps.forkserver import FORKSERVER_ENV
from circman_kernel.core.processes import running

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("jupyter-kernels")]

SPEC = KernelSpec(
    argv=[sys.executable, "-m", "circman_kernel.apps.kernel", "-f", "{connection_file}"],
    language="python",
    display_name="circman dashboards",
)


@pytest.fixture
def fork_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, Path]]:
    sock = tmp_path / "kernels.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "circman_kernel.apps.kernel", "--fork-server", str(sock)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not sock.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "fork server did not listen"
        time.sleep(0.05)
    yield proc, sock
    proc.terminate()
    proc.wait(10)


@contextmanager
def kernel(tmp_path: Path, sock: Path | None, *, log: Path | None = None):
    km = KernelManager()
    km._kernel_spec = SPEC  # the dashboards' kernel spec, as Voila runs it
    env = {k: v for k, v in os.environ.items() if k != FORKSERVER_ENV}
    if sock is not None:
        env[FORKSERVER_ENV] = str(sock)
    out = open(log or tmp_path / "kernel.log", "wb")  # noqa: SIM115  # closed below
    km.start_kernel(env=env, cwd=str(tmp_path), stdout=out, stderr=subprocess.STDOUT)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(60)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)
        out.close()


def run(kc, code: str) -> str:
    """Execute ``code``; return what it printed (failing the test on an error)."""
    out: list[str] = []

    def hook(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))

    reply = kc.execute_interactive(code, timeout=120, output_hook=hook)
    assert reply["content"]["status"] == "ok", "".join(out)
    return "".join(out)


def test_a_forked_kernel_runs_the_app_in_its_folder_with_its_own_random_state(
    fork_server, tmp_path: Path
) -> None:
    server, sock = fork_server
    code = (
        "import os, random, numpy as np, sys\n"
        "from circman_kernel.apps import simulation_app\n"
        "app = simulation_app(background=False)\n"
        "print(os.getppid(), os.getcwd(), os.environ['MARK'], sys.modules.get('nbformat', 0),"
        " len(app.figures['fan'].data),"
        " np.random.rand(), random.random())"
    )
    seen = []
    for i in range(2):
        os.environ["MARK"] = f"viewer-{i}"  # the stand-in's environment reaches the kernel
        try:
            with kernel(tmp_path, sock) as (km, kc):
                ppid, cwd, mark, nbformat, figures, r1, r2 = run(kc, code).split()
                stand_in = km.provisioner.process.pid
                assert int(ppid) == server.pid != stand_in  # forked, not started
                assert cwd == str(tmp_path) and mark == f"viewer-{i}"
                assert nbformat == "None"  # the dashboards' kernel declares nbformat absent
                assert int(figures) == 3  # the fan chart's P95, P5-P95 band and P50
                seen.append((r1, r2))
        finally:
            del os.environ["MARK"]
    assert seen[0][0] != seen[1][0] and seen[0][1] != seen[1][1]  # reseeded after fork


def test_interrupt_and_shutdown_reach_the_forked_kernel(fork_server, tmp_path: Path) -> None:
    _server, sock = fork_server
    with kernel(tmp_path, sock) as (km, kc):
        pid = int(run(kc, "import os; print(os.getpid())"))
        stand_in = km.provisioner.process.pid
        assert pid != stand_in
        msg_id = kc.execute(
            "import time\ntry:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n"
            "    print('interrupted')"
        )
        time.sleep(1.0)
        start = time.monotonic()
        km.interrupt_kernel()  # SIGINT to the stand-in's process group, forwarded
        reply = kc.get_shell_msg(timeout=20)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["status"] == "ok" and time.monotonic() - start < 10
        km.shutdown_kernel()  # a shutdown request: the kernel exits, then its stand-in
        assert km.provisioner is None or not km.is_alive()
        deadline = time.monotonic() + 10
        while running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not running(pid) and not running(stand_in)


def test_a_killed_stand_in_takes_its_kernel_along(fork_server, tmp_path: Path) -> None:
    _server, sock = fork_server
    with kernel(tmp_path, sock) as (km, kc):
        pid = int(run(kc, "import os; print(os.getpid())"))
        os.kill(km.provisioner.process.pid, signal.SIGKILL)  # cannot be forwarded
        deadline = time.monotonic() + 5
        while running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not running(pid)


def test_the_kernel_writes_to_the_stand_ins_output(fork_server, tmp_path: Path) -> None:
    _server, sock = fork_server
    log = tmp_path / "voila-side.log"
    with kernel(tmp_path, sock, log=log) as (_km, kc):
        run(kc, "import os; os.write(2, b'straight to stderr\\n')")
    assert "straight to stderr" in log.read_text()


def test_garbage_on_the_socket_is_ignored_and_no_server_means_a_plain_start(
    fork_server, tmp_path: Path
) -> None:
    server, sock = fork_server
    for junk in (b"", b"\x00\x00\x00\x05{oops", b"\xff" * 64):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(sock))
            s.sendall(junk)
    with kernel(tmp_path, sock) as (_km, kc):
        assert int(run(kc, "import os; print(os.getppid())")) == server.pid
    with kernel(tmp_path, tmp_path / "no-such.sock") as (km, kc):
        pid = int(run(kc, "import os; print(os.getpid())"))
        assert pid == km.provisioner.process.pid  # started the usual way


def test_kernels_outlive_a_stopped_fork_server(fork_server, tmp_path: Path) -> None:
    server, sock = fork_server
    with kernel(tmp_path, sock) as (km, kc):
        pid = int(run(kc, "import os; print(os.getpid())"))
        server.terminate()
        server.wait(10)
        assert not sock.exists()
        assert run(kc, "print(6 * 7)").strip() == "42"
        km.shutdown_kernel()
        deadline = time.monotonic() + 10
        while running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not running(pid)
