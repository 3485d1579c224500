"""``circman dashboard`` as a process: configuration, the gallery, the kernel limit, stopping.

Real servers over real HTTP: ``circman dashboard`` started as a subprocess in a group of
its own, signalled like a service manager or a terminal would, and checked for leftover
processes; the dashboards' kernel started for real and asked what it imported.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from voila_server import CHROMIUM, CHROMIUM_ARGS, free_port, leftovers, server_env, stop_server

from circman_kernel.core.errors import ParameterError
from circman_kernel.server.dashboard import (
    APPS,
    DEFAULT_MAX_KERNELS,
    DEFAULT_POOL_SIZES,
    dashboard_command,
    parse_pool_sizes,
)
from circman_kernel.server.gallery import gallery_html

REPO = Path(__file__).resolve().parents[2]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"  # the app's output in the page


def _arg(cmd, prefix: str) -> str:
    (value,) = [a[len(prefix) :] for a in cmd.argv if a.startswith(prefix)]
    return value


# -- configuration --------------------------------------------------------------------


def test_pool_sizes_per_app_and_for_every_app() -> None:
    assert parse_pool_sizes(["3", "line_monitor=4"]) == (3, {"line_monitor": 4})
    assert parse_pool_sizes([]) == (None, {})
    with pytest.raises(ParameterError, match="APP=N"):
        parse_pool_sizes(["line_monitor=four"])

    cmd = dashboard_command(pool_sizes={"line_monitor": 4}, max_kernels=40)
    pools = json.loads(_arg(cmd, "--VoilaKernelManager.kernel_pools_config="))
    assert pools["line_monitor.ipynb"] == {"pool_size": 4}
    assert pools["simulation.ipynb"] == {"pool_size": DEFAULT_POOL_SIZES["simulation"]}
    assert pools["default"] == {"pool_size": 1}
    assert _arg(cmd, "--PoolAwareKernelManager.max_kernels=") == "40"

    every = dashboard_command(pool_size=0, pool_sizes={"simulation": 2})
    pools = json.loads(_arg(every, "--VoilaKernelManager.kernel_pools_config="))
    assert pools == {"default": {"pool_size": 0}, "simulation.ipynb": {"pool_size": 2}}

    assert _arg(dashboard_command(), "--PoolAwareKernelManager.max_kernels=") == str(
        DEFAULT_MAX_KERNELS
    )
    off = dashboard_command(pool_size=0)
    assert not any(a.startswith("--VoilaConfiguration.preheat_kernel") for a in off.argv)
    with pytest.raises(ParameterError, match="no app named nope"):
        dashboard_command(pool_sizes={"nope": 1})


def test_cli_reads_a_settings_file_and_its_options_win(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from circman_kernel.cli import main

    settings = tmp_path / "dashboard.json"
    settings.write_text(
        json.dumps({"pool_size": {"default": 0, "lca": 3}, "max_kernels": 12, "cull_interval": 7})
    )
    argv = ["dashboard", "--settings", str(settings), "--print-command"]
    assert main([*argv, "--pool-size", "line_monitor=4"]) == 0
    out = capsys.readouterr().out
    pools = json.loads(re.search(r"kernel_pools_config=(\{.*?\}\})", out.replace("'", "")).group(1))
    assert pools == {
        "default": {"pool_size": 0},
        "lca.ipynb": {"pool_size": 3},
        "line_monitor.ipynb": {"pool_size": 4},
    }
    assert "max_kernels=12" in out and "cull_interval=7" in out
    assert main([*argv, "--max-kernels", "5"]) == 0
    assert "max_kernels=5" in capsys.readouterr().out

    settings.write_text(json.dumps({"max_kernel": 3}))
    assert main(argv) != 0
    assert "unknown max_kernel; known: pool_size" in capsys.readouterr().err


def test_gallery_links_every_app_and_escapes_text() -> None:
    page = gallery_html(APPS, "/base/")
    for app in APPS:
        assert f'href="/base/voila/render/{app.notebook}"' in page
        assert app.title in page
    assert "<script" not in gallery_html(APPS, "/<script>/")


# -- a real server ----------------------------------------------------------------------


def _get(url: str, timeout: float = 120) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _kernels(pid: int) -> list:
    import psutil

    # one process per kernel the server manages: the kernel, or the stand-in of a kernel
    # forked from the fork server (the fork server and its forks show its command line)
    return [
        p
        for p in psutil.Process(pid).children(recursive=True)
        if "circman_kernel.apps.kernel" in (argv := p.cmdline()) and "-f" in argv
    ]


@contextmanager
def circman_dashboard(tmp: Path, *args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """``circman dashboard ARGS`` in a process group of its own, until it answers ``/``."""
    port = free_port()
    log = open(tmp / "circman.log", "wb")  # noqa: SIM115  # closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "circman_kernel.cli", "dashboard", "--port", str(port), *args],
        env=server_env(tmp),
        cwd=tmp,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp / "circman.log").read_text()[-3000:]
            try:
                if _get(url, timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "circman dashboard did not answer in 90 s"
            time.sleep(0.3)
        yield proc, url
    finally:
        stop_server(proc)
        log.close()


@pytest.mark.slow
@pytest.mark.xdist_group("jupyter-kernels")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_voila_and_every_kernel_within_10_s(tmp_path: Path, sig: int) -> None:
    import psutil

    with circman_dashboard(tmp_path, "--pool-size", "0", "--pool-size", "simulation=1") as (
        proc,
        url,
    ):
        status, page = _get(url + "voila/render/lca.ipynb")  # a page's own (cold) kernel
        assert status == 200 and WIDGET_VIEW in page
        deadline = time.monotonic() + 60
        while len(_kernels(proc.pid)) < 2:  # ... and the simulation pool's
            assert time.monotonic() < deadline, "pool kernel did not start"
            time.sleep(0.5)
        top = psutil.Process(proc.pid)
        watched = [top, *top.children(recursive=True)]
        assert len(watched) >= 4  # circman, Voila, two kernels
        os.kill(proc.pid, sig)
        start = time.monotonic()
        while leftovers(proc.pid, watched) and time.monotonic() - start < 10:
            time.sleep(0.1)
        left = leftovers(proc.pid, watched)
        assert left == [], f"still running {time.monotonic() - start:.1f} s after {sig!r}: {left}"
        assert proc.wait(1) == (0 if sig == signal.SIGINT else 128 + sig)


@pytest.mark.slow
@pytest.mark.xdist_group("jupyter-kernels")
def test_root_opens_the_gallery_with_a_link_to_every_app(tmp_path: Path) -> None:
    with circman_dashboard(tmp_path, "--no-preheat") as (_proc, url):
        status, page = _get(url)
        assert status == 200 and "<h1>circman dashboards</h1>" in page
        links = re.findall(r'href="(/voila/render/[^"]+)"', page)
        assert links == [a.url_path for a in APPS]
        for link in links:  # each link is a notebook the server has
            status, _ = _get(url + "voila/api/contents/" + link.rsplit("/", 1)[1], timeout=30)
            assert status == 200
        assert _get(url + "voila/tree")[0] == 200  # the file list is still there


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.xdist_group("jupyter-kernels")
def test_at_the_kernel_limit_a_page_says_busy_and_opens_when_a_kernel_frees(
    tmp_path: Path,
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    args = (
        "--no-preheat",
        "--max-kernels",
        "1",
        "--cull-idle-timeout",
        "6",
        "--cull-interval",
        "1",
    )
    with circman_dashboard(tmp_path, *args) as (proc, url):
        app = url + "voila/render/lca.ipynb"
        status, page = _get(app)  # takes the only kernel; never connects, culled after ~6 s
        assert status == 200 and WIDGET_VIEW in page
        status, busy = _get(app)
        assert status == 503 and "busy, retrying" in busy and "Traceback" not in busy
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                pg = browser.new_page()
                pg.goto(app)
                assert "busy, retrying" in pg.inner_text("body")
                pg.wait_for_selector(".circman-app", timeout=90_000)  # retried by itself
                assert "busy" not in pg.inner_text(".circman-app")
                assert len(_kernels(proc.pid)) == 1
            finally:
                browser.close()


def test_kernels_are_forked_unless_told_not_to(capsys: pytest.CaptureFixture) -> None:
    from circman_kernel.cli import main
    from circman_kernel.server.app import CircmanVoila

    assert CircmanVoila.fork_kernels.default_value is True
    assert main(["dashboard", "--print-command"]) == 0
    assert "fork_kernels" not in capsys.readouterr().out
    assert main(["dashboard", "--no-fork", "--print-command"]) == 0
    assert "--CircmanVoila.fork_kernels=False" in capsys.readouterr().out
