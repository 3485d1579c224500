"""A dashboard kernel from cold: forked from the fork server against started from scratch.

Each sample starts the dashboards' kernel spec through jupyter_client (as Voila does),
waits until it answers, builds the simulation app in it and shuts it down. Reported:
wall time to a built app, CPU seconds of every process involved (kernel, stand-in; for
the forked kernel not the fork server's one-off warm-up) and the kernel's unique memory
(USS; a forked kernel shares the warm pages with the fork server). The reference is the
same kernel started from scratch, measured alternately in this process.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Figure, bench

REPEAT = 7
CODE = "from circman_kernel.apps import simulation_app\napp = simulation_app()"


def _sample(sock: str | None) -> tuple[float, float, float]:
    import psutil
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpec

    from circman_kernel.apps.forkserver import FORKSERVER_ENV

    me = psutil.Process()
    before = {p.pid: sum(p.cpu_times()[:2]) for p in me.children(recursive=True)}
    km = KernelManager()
    km._kernel_spec = KernelSpec(
        argv=[sys.executable, "-m", "circman_kernel.apps.kernel", "-f", "{connection_file}"],
        language="python",
        display_name="circman dashboards",
    )
    env = {k: v for k, v in os.environ.items() if k != FORKSERVER_ENV}
    if sock:
        env[FORKSERVER_ENV] = sock
    start = time.perf_counter()
    km.start_kernel(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(120)
        reply = kc.execute_interactive(CODE, timeout=120)
        assert reply["content"]["status"] == "ok"
        wall = time.perf_counter() - start
        cpu, uss = 0.0, 0.0
        for p in me.children(recursive=True):
            try:
                cpu += sum(p.cpu_times()[:2]) - before.get(p.pid, 0.0)
                if p.pid not in before:
                    uss = max(uss, p.memory_full_info().uss / 2**20)
            except psutil.Error:
                continue
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return wall, cpu, uss


@bench("kernels")
def forked_kernel_start() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="circman-bench-") as tmp:
        sock = str(Path(tmp) / "kernels.sock")
        server = subprocess.Popen(
            [sys.executable, "-m", "circman_kernel.apps.kernel", "--fork-server", sock],
            stdout=subprocess.DEVNULL,
        )
        try:
            while not Path(sock).exists():
                if server.poll() is not None:
                    raise RuntimeError("the fork server did not start")
                time.sleep(0.05)
            _sample(sock), _sample(None)  # warm-up: files in the page cache
            forked, plain = [], []
            for _ in range(REPEAT):  # alternately, so that load hits both alike
                forked.append(_sample(sock))
                plain.append(_sample(None))
        finally:
            server.terminate()
            server.wait(10)

    def med(rows: list[tuple[float, float, float]], i: int) -> float:
        return statistics.median(r[i] for r in rows)

    return [
        Figure("kernel ready with the simulation app, forked: wall", med(forked, 0),
               target=0.7 * med(plain, 0), reference=med(plain, 0),
               reference_name="started from scratch", samples=tuple(r[0] for r in forked)),
        Figure("kernel ready with the simulation app, forked: CPU", med(forked, 1),
               target=0.7 * med(plain, 1), reference=med(plain, 1),
               reference_name="started from scratch", samples=tuple(r[1] for r in forked)),
        Figure("kernel unique memory (USS), forked", med(forked, 2), unit="MiB",
               reference=med(plain, 2), reference_name="started from scratch"),
    ]  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    for f in forked_kernel_start():
        print(f.to_dict())
