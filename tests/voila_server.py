"""A real Voila server for the browser tests and the dashboard benchmark.

Started with the same command line as ``circman dashboard`` (tree mode on
``notebooks/apps``, offline template, preheated pool, culling), on a free port, with
Jupyter/IPython folders and the run store in a temporary folder.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from circman_kernel.server.dashboard import dashboard_command

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def labelled_input(page, label: str):
    """Return the text/number field of the ipywidget whose description is ``label``."""
    box = page.locator(".widget-inline-hbox", has=page.locator(f"label:text-is('{label}')"))
    return box.locator("input").first


def labelled_select(page, label: str):
    """Return the ``<select>`` of the ipywidgets Dropdown whose description is ``label``."""
    return page.locator(".widget-dropdown", has=page.locator(f"label:text-is('{label}')")).locator(
        "select"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class VoilaServer:
    url: str
    proc: subprocess.Popen
    db: Path
    log: Path
    env: dict[str, str]

    def app_url(self, name: str) -> str:
        return f"{self.url}voila/render/{name}.ipynb"


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(
        f"voila did not answer {url} within {timeout_s} s:\n{log.read_text()[-3000:]}"
    )


def stop_server(proc: subprocess.Popen, grace_s: float = 15.0) -> None:
    """Stop a server subprocess and everything it started.

    SIGTERM first (circman and Voila stop their kernels themselves); after ``grace_s``, or
    for anything that outlived the server, SIGKILL: the processes it had started and, when
    it led a process group of its own, every member of that group.
    """
    import psutil

    try:
        top = psutil.Process(proc.pid)
        tree = [top, *top.children(recursive=True)]
        group = proc.pid if os.getpgid(proc.pid) == proc.pid else None
    except (psutil.NoSuchProcess, ProcessLookupError):
        tree, group = [], None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(grace_s)
    for p in leftovers(group, tree):
        try:
            p.kill()
        except psutil.NoSuchProcess:
            continue
    if proc.poll() is None:
        proc.wait(10)


def leftovers(pgid: int | None, watched: list) -> list:
    """The processes of ``watched``, and of process group ``pgid``, still running."""
    import psutil

    def alive(p) -> bool:
        try:
            return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    left = [p for p in watched if alive(p)]
    if pgid is None:
        return left
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid and alive(p) and p not in left:
                left.append(p)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return left


def server_env(tmp: Path) -> dict[str, str]:
    """Return the environment of a test server: Jupyter folders, store and cache in ``tmp``."""
    home = tmp / "home"
    env = dict(os.environ)
    for var, sub in {
        "JUPYTER_CONFIG_DIR": "config",
        "JUPYTER_DATA_DIR": "data",
        "JUPYTER_RUNTIME_DIR": "runtime",
        "IPYTHONDIR": "ipython",
        "MPLCONFIGDIR": "mpl",
    }.items():
        env[var] = str(home / sub)
    env["CIRCMAN_DB"] = str(tmp / "dashboard.duckdb")
    env["CIRCMAN_CACHE_DIR"] = str(tmp / "cache")
    env.pop("CIRCMAN_CONFIG_DIR", None)
    return env


@contextmanager
def voila_server(
    tmp: Path,
    *,
    preheat: bool = True,
    cull_idle_timeout_s: int = 600,
    cull_interval_s: int = 60,
    edit: bool = False,
    timeout_s: float = 60.0,
    refill_delay_s: float | None = None,
) -> Iterator[VoilaServer]:
    """Run ``circman dashboard``'s Voila command in ``tmp``; stopped by :func:`stop_server`.

    ``refill_delay_s`` delays refilling a kernel pool after a view took its kernel (the
    browser tests open each app once and need no refill competing for the CPU).
    """
    env = server_env(tmp)
    db = Path(env["CIRCMAN_DB"])
    port = free_port()
    cmd = dashboard_command(
        port=port,
        edit=edit,
        preheat=preheat,
        cull_idle_timeout_s=cull_idle_timeout_s,
        cull_interval_s=cull_interval_s,
        env=env,
        extra_args=()
        if refill_delay_s is None
        else (f"--VoilaKernelManager.fill_delay={refill_delay_s}",),
    )
    tmp.mkdir(parents=True, exist_ok=True)
    log = tmp / "voila.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            list(cmd.argv), env=cmd.env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp
        )
    try:
        _wait_http(f"http://127.0.0.1:{port}/voila/tree", proc, log, timeout_s)
        yield VoilaServer(f"http://127.0.0.1:{port}/", proc, db, log, cmd.env)
    finally:
        stop_server(proc)
