"""Many viewers at once: 1, 5, 10 and 20 simultaneous viewers of the simulation app.

Each viewer is its own Chromium context (own cookies, own kernel), all opened at the same
moment against one ``circman dashboard`` server with its default pools. Per round:
seconds from the start to each page's first widget (the app container visible) and first
drawn figure, read in the page (``performance.timeOrigin`` + the page's clock at that
frame, so a page that reloaded while busy counts from the first attempt); median, P95 and
max; how many pages drew their figure; the CPU seconds spent by the server (Voila and its
kernels) and by the browser (the browser's share of the machine). Server RSS is sampled
every 0.5 s (peak per round) and compared after all pages closed and their kernels were
culled with the start (idle timeout 120 s: under load a page can take tens of seconds
to connect to the kernel it was handed, and a shorter timeout culls it first). A PNG
plots first-figure time against viewers.

Run: ``python -m benchmarks -k viewers`` (needs ``/usr/bin/chromium``). ``CIRCMAN_BENCH_VIEWERS``
(e.g. ``1,5,10``) picks other rounds; ``CIRCMAN_BENCH_TAG`` names the JSON/PNG (``before``).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from contextlib import suppress
from pathlib import Path

from benchmarks.harness import Figure, bench

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from voila_server import CHROMIUM, CHROMIUM_ARGS, voila_server

from benchmarks.bench_dashboard import _tree_rss_mb, _wait_idle

APP = "simulation"
PAGE_TIMEOUT_S = 240.0
RESULTS = Path(__file__).resolve().parent / "results"
# As bench_dashboard's, but polled every 50 ms instead of every frame: twenty pages
# polling at 60 Hz for a minute would add their own load to what is measured.
SEEN_SCRIPT = """(() => {
  const shown = (sel) => { const e = document.querySelector(sel);
    return e !== null && e.checkVisibility() && e.getClientRects().length > 0; };
  const poll = () => {
    if (window.__appSeen === undefined && shown('.circman-app')) window.__appSeen = performance.now();
    if (window.__plotSeen === undefined && shown('.js-plotly-plot .main-svg')) window.__plotSeen = performance.now();
    if (window.__plotSeen === undefined) setTimeout(poll, 50);
  };
  poll();
})();"""
READ_SEEN = (
    "() => [window.__appSeen === undefined ? null : performance.timeOrigin + window.__appSeen,"
    " window.__plotSeen === undefined ? null : performance.timeOrigin + window.__plotSeen]"
)


def _viewer_counts() -> list[int]:
    raw = os.environ.get("CIRCMAN_BENCH_VIEWERS", "1,5,10,20")
    return [int(x) for x in raw.split(",") if x.strip()]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered) + 0.5) - 1))]


def _kernel_count(pid: int) -> int:
    import psutil

    count = 0
    for child in psutil.Process(pid).children():
        with suppress(psutil.Error):  # gone, or a culled kernel not yet reaped
            argv = child.cmdline()
            count += any(part.endswith(".json") and "kernel-" in part for part in argv)
    return count


class _Sampler(threading.Thread):
    """Every 0.5 s: peak RSS [MB] of the server's tree, CPU [s] of each process.

    A page's renderer (or a culled kernel) exits taking its CPU times along, so CPU is
    the sum of the last value seen per process (its last < 0.5 s lost), minus the value
    at the start for processes that were already running.
    """

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.browser_cpu: dict[int, float] = {}
        self.server_cpu: dict[int, float] = {}
        self.server_start = self._server()
        self.stop = threading.Event()

    def _server(self) -> dict[int, float]:
        import psutil

        top = psutil.Process(self.pid)
        out = {}
        for proc in [top, *top.children(recursive=True)]:
            with suppress(psutil.NoSuchProcess):
                out[proc.pid] = sum(proc.cpu_times()[:2])
        return out

    def _browser(self) -> None:
        import psutil

        for proc in psutil.Process().children(recursive=True):
            with suppress(psutil.NoSuchProcess):
                if "chrom" in proc.name().lower():
                    self.browser_cpu[proc.pid] = sum(proc.cpu_times()[:2])

    def server_cpu_s(self) -> float:
        return sum(v - self.server_start.get(pid, 0.0) for pid, v in self.server_cpu.items())

    def run(self) -> None:
        while not self.stop.is_set():
            with suppress(Exception):
                self.peak = max(self.peak, _tree_rss_mb(self.pid))
                self._browser()
                self.server_cpu.update(self._server())
            self.stop.wait(0.5)


async def _viewer(browser, url: str, start_ms: float) -> tuple[float | None, float | None]:
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    console: list[str] = []
    try:
        page = await ctx.new_page()
        # errors only: every console message would cross to Playwright through the
        # browser's main process, which all pages share (and add to what is measured)
        page.on("pageerror", lambda e: console.append(f"page error: {e}"))
        await page.add_init_script(SEEN_SCRIPT)
        deadline = time.monotonic() + PAGE_TIMEOUT_S
        with suppress(Exception):
            await page.goto(url, timeout=PAGE_TIMEOUT_S * 1000)
        app_ms = plot_ms = None
        while time.monotonic() < deadline:
            with suppress(Exception):  # a page reloading while busy has no context for a moment
                app_ms, plot_ms = await page.evaluate(READ_SEEN)
                if plot_ms is not None:
                    break
            await asyncio.sleep(0.5)
        if plot_ms is None:  # kept for a look: what the page showed and said
            RESULTS.mkdir(exist_ok=True)
            stem = RESULTS / f"viewers-failed-{int(start_ms)}-{id(ctx)}"
            with suppress(Exception):
                await page.screenshot(path=f"{stem}.png")
            stem.with_suffix(".log").write_text("\n".join(console))
        return (
            None if app_ms is None else (app_ms - start_ms) / 1000,
            None if plot_ms is None else (plot_ms - start_ms) / 1000,
        )
    finally:
        await ctx.close()


async def _round(url: str, n: int) -> list[tuple]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            start_ms = time.time() * 1000
            return await asyncio.gather(*(_viewer(browser, url, start_ms) for _ in range(n)))
        finally:
            await browser.close()


def _summary(values: list[float | None], n: int) -> dict[str, float]:
    seen = [v for v in values if v is not None]
    if not seen:
        return {"median": float("inf"), "p95": float("inf"), "max": float("inf"), "seen": 0}
    full = seen + [float("inf")] * (n - len(seen))
    return {
        "median": statistics.median(full),
        "p95": _p95(full),
        "max": max(full),
        "seen": len(seen),
    }


def _plot(rounds: list[dict], path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no plot: matplotlib is not installed"
    xs = [r["viewers"] for r in rounds]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, style in (("median", "o-"), ("p95", "s--"), ("max", "^:")):
        ax.plot(xs, [r["figure"][key] for r in rounds], style, label=key)
    for r in rounds:  # how many pages drew their figure (P95/max are infinite otherwise)
        ax.annotate(
            f"{r['figure']['seen']}/{r['viewers']} drawn",
            (r["viewers"], r["figure"]["median"]),
            textcoords="offset points",
            xytext=(4, -12),
            fontsize=8,
        )
    ax.axhline(15, color="#7f7f7f", lw=0.8)
    ax.axhline(25, color="#7f7f7f", lw=0.8, ls="--")
    ax.set_xlabel("simultaneous viewers [-]")
    ax.set_ylabel("navigation -> first figure [s]")
    ax.set_title(f"simulation app, {os.environ.get('CIRCMAN_BENCH_TAG', 'current')}")
    ax.set_xticks(xs)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def _wait_culled(pid: int, kernels: int, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _kernel_count(pid) > kernels:
        time.sleep(1.0)


@bench("viewers")
def simultaneous_viewers() -> list[Figure]:
    counts = _viewer_counts()
    tag = os.environ.get("CIRCMAN_BENCH_TAG", "current")
    rounds: list[dict] = []
    figures: list[Figure] = []
    with (
        tempfile.TemporaryDirectory(prefix="circman-bench-") as tmp,
        voila_server(Path(tmp), cull_idle_timeout_s=120, cull_interval_s=5, timeout_s=180) as srv,
    ):
        pid = srv.proc.pid
        _wait_idle(pid, timeout_s=600)
        pooled = _kernel_count(pid)
        start_mb = _tree_rss_mb(pid)
        for n in counts:
            sampler = _Sampler(pid)
            sampler.start()
            wall0 = time.monotonic()
            results = asyncio.run(_round(srv.app_url(APP), n))
            wall = time.monotonic() - wall0
            sampler.stop.set()
            sampler.join()
            server_cpu = sampler.server_cpu_s()
            widget = _summary([r[0] for r in results], n)
            figure = _summary([r[1] for r in results], n)
            rounds.append(
                {
                    "viewers": n,
                    "widget": widget,
                    "figure": figure,
                    "peak_rss_mb": sampler.peak,
                    "server_cpu_s": server_cpu,
                    "browser_cpu_s": sum(sampler.browser_cpu.values()),
                    "wall_s": wall,
                    "samples_figure_s": [r[1] for r in results],
                }
            )
            print(json.dumps(rounds[-1]), file=sys.stderr, flush=True)
            _wait_culled(pid, pooled)
            _wait_idle(pid, timeout_s=600)  # pools refilled and warm before the next round
        time.sleep(3.0)
        end_mb = _tree_rss_mb(pid)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"viewers-{tag}-voila.log").write_bytes(srv.log.read_bytes())
    RESULTS.mkdir(exist_ok=True)
    summary = {"tag": tag, "start_rss_mb": start_mb, "end_rss_mb": end_mb, "rounds": rounds}
    (RESULTS / f"viewers-{tag}.json").write_text(json.dumps(summary, indent=2))
    plot = _plot(rounds, RESULTS / f"viewers-{tag}.png")
    print(f"viewers plot: {plot}", file=sys.stderr)
    for r in rounds:
        n = r["viewers"]
        fw, ff = r["widget"], r["figure"]
        big = n == max(counts)
        figures += [
            Figure(f"{n} viewers: first widget, median", fw["median"]),
            Figure(
                f"{n} viewers: first figure, median",
                ff["median"],
                target=3.0 if n == 1 else (15.0 if big and n >= 20 else None),
            ),
            Figure(
                f"{n} viewers: first figure, P95",
                ff["p95"],
                target=25.0 if big and n >= 20 else None,
            ),
            Figure(f"{n} viewers: first figure, max", ff["max"]),
            Figure(
                f"{n} viewers: pages that drew their figure",
                ff["seen"],
                unit="pages",
                target=n,
                higher_is_better=True,
            ),
            Figure(
                f"{n} viewers: server RSS at peak", r["peak_rss_mb"] / 1024, unit="GB", target=6.0
            ),
            Figure(f"{n} viewers: server CPU (Voila + kernels)", r["server_cpu_s"], unit="s"),
            Figure(f"{n} viewers: browser CPU (all pages)", r["browser_cpu_s"], unit="s"),
            Figure(
                f"{n} viewers: browser's share of the CPU used",
                100 * r["browser_cpu_s"] / max(r["browser_cpu_s"] + r["server_cpu_s"], 1e-9),
                unit="%",
            ),
        ]
    figures.append(
        Figure(
            f"server RSS after pages closed + culled / at start ({start_mb:.0f} -> {end_mb:.0f} MB)",
            end_mb / start_mb,
            unit="x",
            target=1.2,
            samples=(start_mb, end_mb),
        )
    )
    return figures
