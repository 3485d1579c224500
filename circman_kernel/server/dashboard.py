"""Serving the dashboards: the app list and the Voila (or JupyterLab) command line.

``circman dashboard`` runs Voila in tree mode on ``notebooks/apps/`` (each app at
``/voila/render/<name>.ipynb``), bound to 127.0.0.1, with a pool of preheated kernels
(fast first view), idle-kernel culling (closed pages free their kernel), a fixed port
(``port_retries=0``: a busy port is an error, not a silent move) and a template without
CDN links (works offline). Kernels get ``CIRCMAN_DASHBOARD_MODE=published`` unless edit
mode is asked for explicitly.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

from circman_kernel.apps import FIGURE_ESM_ENV, MODE_ENV
from circman_kernel.core.errors import ConfigError, ParameterError
from circman_kernel.core.paths import cache_dir, project_root

__all__ = [
    "APPS",
    "AppSpec",
    "DashboardCommand",
    "PoolAwareKernelManager",
    "apps_dir",
    "dashboard_command",
    "figure_share_dir",
    "lab_command",
    "template_share_dir",
]

TEMPLATE = "circman"
# plotly's widget code as a static file of the template, relative to Voila's base URL
FIGURE_ESM_PATH = f"templates/{TEMPLATE}/static/plotly-widget.js"


@dataclass(frozen=True)
class AppSpec:
    """One dashboard: notebook stem, builder name in :mod:`circman_kernel.apps`, title."""

    name: str
    builder: str
    title: str
    audience: str
    description: str

    @property
    def notebook(self) -> str:
        return f"{self.name}.ipynb"

    @property
    def url_path(self) -> str:
        """Path of the app under the server root."""
        return f"/voila/render/{self.notebook}"


APPS: tuple[AppSpec, ...] = (
    AppSpec(
        "line_monitor",
        "line_monitor_app",
        "Line monitor",
        "managers, operators",
        "Live twin fed by a sensor replay or simulated sensors: KPIs, process charts, "
        "status and the alert panel with acknowledgement.",
    ),
    AppSpec(
        "simulation",
        "simulation_app",
        "Simulation",
        "researchers",
        "Set process parameters and see the Monte Carlo fan chart (P5-P50-P95) per variable.",
    ),
    AppSpec(
        "scenarios",
        "scenarios_app",
        "What-if scenarios",
        "managers, researchers",
        "Define scenarios, run them and compare each against the baseline side by side.",
    ),
    AppSpec(
        "optimization",
        "optimization_app",
        "Optimisation",
        "researchers",
        "Objective and constraints to optimised parameters: before/after, honesty check, "
        "Pareto front, applied to a what-if twin.",
    ),
    AppSpec(
        "lca",
        "lca_app",
        "Life-cycle assessment",
        "managers, researchers",
        "Impact by life-cycle phase as a waterfall, impact-factor profile and grid region, "
        "uncertainty band, per kWp and per kWh.",
    ),
    AppSpec(
        "run_explorer",
        "run_explorer_app",
        "Run explorer",
        "researchers",
        "Stored runs: filter, compare two or more, download as CSV or Parquet.",
    ),
)


def apps_dir() -> Path:
    """Return the folder with the app notebooks (``notebooks/apps`` of the checkout)."""
    root = project_root()
    if root is None:
        raise ConfigError(
            "the dashboards are served from a source checkout (notebooks/apps/); "
            "run circman dashboard from the repository or pass --root"
        )
    return root / "notebooks" / "apps"


def template_share_dir() -> Path:
    """Return the ``share/jupyter``-like folder holding the offline ``circman`` Voila template."""
    return Path(__file__).resolve().parents[1] / "apps" / "share"


def figure_share_dir(cache: Path | None = None) -> Path:
    """Return a ``share/jupyter``-like folder that serves plotly's widget code to the pages.

    The template's static folder gets a copy of the ``FigureWidget`` bundle of the
    installed plotly (refreshed when plotly changes), under ``cache`` (default: the user
    cache folder), so that every figure of a page imports one module.
    """
    import plotly

    source = Path(plotly.__file__).resolve().parent / "package_data" / "widgetbundle.js"
    if not source.is_file():
        raise ConfigError(f"plotly's widget bundle is missing ({source}); reinstall plotly")
    root = (cache if cache is not None else cache_dir()) / "voila-share"
    target = root / "voila" / FIGURE_ESM_PATH
    stat = source.stat()
    if not (
        target.is_file()
        and target.stat().st_size == stat.st_size
        and target.stat().st_mtime_ns == stat.st_mtime_ns
    ):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(f".{os.getpid()}.part")
            shutil.copy2(source, partial)
            os.replace(partial, target)  # never a half-written module for a page to load
        except OSError as exc:
            raise ConfigError(
                f"cannot write the dashboards' static files under {root}: {exc}; "
                "set CIRCMAN_CACHE_DIR to a writable folder"
            ) from exc
    return root


class PoolAwareKernelManager(AsyncMappingKernelManager):
    """Kernel manager whose idle culler spares preheated kernels until a page has used them.

    Voila's pool keeps kernels nobody is connected to yet; the stock culler treats them
    as abandoned. It also culls a kernel just taken from the pool (idle since it was
    preheated, no connection yet) before the viewer's page connects, and that page then
    fails. So a kernel is spared while it waits in the pool, and after leaving it until
    it has been seen connected or ``cull_idle_timeout`` [s] has passed since it left.
    Kernels of closed pages are culled as usual.
    """

    def _pooled_kernel_ids(self) -> set[str]:
        ids: set[str] = set()
        for pool in getattr(self, "_pools", {}).values():
            for task in pool:
                if task.done() and not task.cancelled() and task.exception() is None:
                    kid = task.result().get("kernel_id")
                    if kid:
                        ids.add(kid)
        return ids

    def _spare(self, kernel_id: str) -> bool:
        # per-instance bookkeeping, created on first use (traitlets owns __init__)
        state = self.__dict__.setdefault("_circman_cull", {"connected": set(), "released": {}})
        if kernel_id in self._pooled_kernel_ids():
            return True
        if self._kernel_connections.get(kernel_id, 0) > 0:
            state["connected"].add(kernel_id)
            return False
        if kernel_id in state["connected"]:
            return False
        released = state["released"].setdefault(kernel_id, time.monotonic())
        return time.monotonic() - released < self.cull_idle_timeout

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        if self._spare(kernel_id):
            return
        await super().cull_kernel_if_idle(kernel_id)


@dataclass(frozen=True)
class DashboardCommand:
    """A command line to run and the environment to run it with."""

    argv: tuple[str, ...]
    env: dict[str, str] = field(repr=False)
    url: str = ""

    def env_changes(self) -> dict[str, str]:
        """Return only the variables this command sets on top of ``os.environ``."""
        return {k: v for k, v in self.env.items() if os.environ.get(k) != v}


def dashboard_command(
    *,
    host: str = "127.0.0.1",
    port: int = 8866,
    edit: bool = False,
    root: str | os.PathLike[str] | None = None,
    preheat: bool = True,
    pool_size: int = 1,
    cull_idle_timeout_s: int = 600,
    cull_interval_s: int = 60,
    show_tracebacks: bool = False,
    env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> DashboardCommand:
    """Return the Voila command serving the apps in tree mode.

    Parameters
    ----------
    host, port : str, int
        Address to bind; 127.0.0.1 by default (publish through an authenticating
        reverse proxy, never by binding a public address).
    edit : bool
        Edit mode (researchers): apps may delete and overwrite stored runs. The
        default, published mode, only lets viewers run what-ifs and save new runs.
    root : path, optional
        Folder of app notebooks (default ``notebooks/apps``).
    preheat, pool_size : bool, int
        Keep ``pool_size`` kernels per app executed and waiting (first view ~2x faster).
    cull_idle_timeout_s, cull_interval_s : int
        Shut down a closed page's kernel after this many idle seconds [s], checking every
        ``cull_interval_s`` [s]. 0 disables culling.
    extra_args : tuple of str
        More Voila options, appended last (they win).
    """
    if not 0 < int(port) < 65536:
        raise ParameterError(f"port must be 1..65535, got {port}", name="port", value=port)
    if pool_size < 0 or cull_idle_timeout_s < 0 or cull_interval_s < 0:
        raise ParameterError("pool size and culling times must be >= 0")
    root_path = Path(root) if root is not None else apps_dir()
    if not root_path.is_dir():
        raise ConfigError(f"app folder {root_path} does not exist", file=str(root_path))
    argv = [
        sys.executable,
        "-m",
        "voila",
        str(root_path),
        "--no-browser",
        f"--Voila.ip={host}",
        f"--port={int(port)}",
        "--Voila.port_retries=0",
        f"--template={TEMPLATE}",
        "--theme=light",
        f"--VoilaConfiguration.show_tracebacks={show_tracebacks}",
        "--VoilaConfiguration.multi_kernel_manager_class="
        "circman_kernel.server.dashboard.PoolAwareKernelManager",
        # front-end plugins the apps do not use: jupysql's (notebook-only, fails in Voila)
        # and plotly's mime renderer (4.8 MB a page; the apps draw through FigureWidget)
        "--VoilaConfiguration.extension_denylist="
        + json.dumps(["jupysql-plugin", "jupyterlab-plotly"]),
    ]
    if preheat and pool_size > 0:
        argv += [
            "--VoilaConfiguration.preheat_kernel=True",
            f"--VoilaConfiguration.default_pool_size={int(pool_size)}",
            "--VoilaKernelManager.preheat_denylist=" + json.dumps(["index.ipynb"]),
        ]
    if cull_idle_timeout_s > 0:
        argv += [
            f"--MappingKernelManager.cull_idle_timeout={int(cull_idle_timeout_s)}",
            f"--MappingKernelManager.cull_interval={max(int(cull_interval_s), 1)}",
        ]
    argv += list(extra_args)
    run_env = dict(os.environ if env is None else env)
    run_env[MODE_ENV] = "edit" if edit else "published"
    cache = run_env.get("CIRCMAN_CACHE_DIR")
    shares = [str(template_share_dir()), str(figure_share_dir(Path(cache) if cache else None))]
    prior = run_env.get("JUPYTER_PATH", "")
    run_env["JUPYTER_PATH"] = os.pathsep.join(shares + ([prior] if prior else []))
    run_env[FIGURE_ESM_ENV] = FIGURE_ESM_PATH
    return DashboardCommand(tuple(argv), run_env, url=f"http://{host}:{int(port)}/")


def lab_command(
    *,
    host: str = "127.0.0.1",
    port: int = 8888,
    root: str | os.PathLike[str] | None = None,
) -> DashboardCommand:
    """Return the JupyterLab command opening the notebooks folder (edit mode)."""
    if root is None:
        root = apps_dir().parent
    argv = (
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={Path(root)}",
        f"--ServerApp.ip={host}",
        f"--ServerApp.port={int(port)}",
        "--ServerApp.port_retries=0",
        "--no-browser",
    )
    env = dict(os.environ)
    env[MODE_ENV] = "edit"
    return DashboardCommand(argv, env, url=f"http://{host}:{int(port)}/lab")
