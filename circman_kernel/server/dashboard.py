"""Serving the dashboards: the app list and the Voila (or JupyterLab) command line.

``circman dashboard`` runs Voila (:mod:`circman_kernel.server.gallery`: the gallery at
``/``) in tree mode on ``notebooks/apps/`` (each app at ``/voila/render/<name>.ipynb``),
bound to 127.0.0.1, with pools of preheated kernels per app (a first view without kernel
start), at most ``max_kernels`` kernels (then a "busy, retrying" page), idle-kernel
culling (closed pages free their kernel), a fixed port (``port_retries=0``: a busy port
is an error, not a silent move), a template without CDN links (works offline) and the
dashboards' own kernel (:mod:`circman_kernel.apps.kernel`, starts in ~1 s instead of
~7 s). Kernels get ``CIRCMAN_DASHBOARD_MODE=published`` unless edit mode is asked for.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from circman_kernel.apps import FIGURE_ESM_ENV, MODE_ENV
from circman_kernel.core.errors import ConfigError, ParameterError
from circman_kernel.core.paths import cache_dir, project_root
from circman_kernel.server.kernels import KernelLimitReached, PoolAwareKernelManager

__all__ = [
    "APPS",
    "AppSpec",
    "DEFAULT_MAX_KERNELS",
    "DEFAULT_POOL_SIZES",
    "DashboardCommand",
    "KernelLimitReached",
    "PoolAwareKernelManager",
    "apps_dir",
    "dashboard_command",
    "figure_share_dir",
    "parse_pool_sizes",
    "template_share_dir",
]

TEMPLATE = "circman"
# Voila with the gallery at "/" (circman_kernel.server.gallery.DashboardVoila), sign-in,
# roles, the /api/v1 JSON API and the shared twin (circman_kernel.server.app.CircmanVoila)
VOILA_MODULE = "circman_kernel.server.app"
# Sized from measured memory, see the README's "Many viewers" section: a dashboard kernel
# holds about 150 MB (RSS) once its app is built, Voila itself about 150 MB.
DEFAULT_POOL_SIZES: dict[str, int] = {"simulation": 2, "line_monitor": 2}
DEFAULT_MAX_KERNELS = 40
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
    AppSpec(
        "discovery",
        "discovery_app",
        "Scenario discovery",
        "researchers",
        "Which inputs drive a KPI past a threshold: PRIM's peeling trajectory (coverage "
        "against density), the chosen box's limits and a pairs plot of the inputs.",
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


@dataclass(frozen=True)
class DashboardCommand:
    """A command line to run and the environment to run it with."""

    argv: tuple[str, ...]
    env: dict[str, str] = field(repr=False)
    url: str = ""

    def env_changes(self) -> dict[str, str]:
        """Return only the variables this command sets on top of ``os.environ``."""
        return {k: v for k, v in self.env.items() if os.environ.get(k) != v}


def parse_pool_sizes(specs: Iterable[str | int]) -> tuple[int | None, dict[str, int]]:
    """Read ``--pool-size`` values: ``N`` (every app) or ``APP=N`` (one app).

    Returns the size for every app (``None`` when not given) and the per-app sizes.
    """
    every: int | None = None
    per_app: dict[str, int] = {}
    for spec in specs:
        name, sep, value = str(spec).rpartition("=")
        try:
            size = int(value)
        except ValueError:
            raise ParameterError(
                f"pool size {spec!r} is not N or APP=N (e.g. simulation=4)", name="pool_size"
            ) from None
        if sep:
            per_app[name.strip()] = size
        else:
            every = size
    return every, per_app


def _pools_config(default: int, sizes: Mapping[str, int]) -> dict[str, dict[str, int]]:
    known = {a.name for a in APPS}
    unknown = sorted(set(sizes) - known)
    if unknown:
        raise ParameterError(
            f"no app named {', '.join(unknown)} for a pool size; apps: {', '.join(sorted(known))}",
            name="pool_size",
        )
    if default < 0 or any(n < 0 for n in sizes.values()):
        raise ParameterError("pool sizes must be >= 0", name="pool_size")
    config = {"default": {"pool_size": int(default)}}
    config.update({f"{name}.ipynb": {"pool_size": int(n)} for name, n in sizes.items()})
    return config


def dashboard_command(
    *,
    host: str = "127.0.0.1",
    port: int = 8866,
    edit: bool = False,
    root: str | os.PathLike[str] | None = None,
    preheat: bool = True,
    pool_size: int | None = None,
    pool_sizes: Mapping[str, int] | None = None,
    max_kernels: int = DEFAULT_MAX_KERNELS,
    cull_idle_timeout_s: int = 600,
    cull_interval_s: int = 60,
    show_tracebacks: bool = False,
    env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> DashboardCommand:
    """Return the command serving the apps in tree mode (Voila with the gallery at ``/``).

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
    preheat : bool
        Keep kernels per app executed and waiting (a first view without kernel start).
    pool_size, pool_sizes : int, mapping of app name to int, optional
        Preheated kernels for every app (default 1), and per app (they win); the
        defaults are :data:`DEFAULT_POOL_SIZES`.
    max_kernels : int
        Most kernels at once, pools included (0 = no limit); at the limit a page shows
        "busy, retrying" until a kernel is freed. Default :data:`DEFAULT_MAX_KERNELS`.
    cull_idle_timeout_s, cull_interval_s : int
        Shut down a closed page's kernel after this many idle seconds [s], checking every
        ``cull_interval_s`` [s]. 0 disables culling.
    extra_args : tuple of str
        More Voila options, appended last (they win).
    """
    if not 0 < int(port) < 65536:
        raise ParameterError(f"port must be 1..65535, got {port}", name="port", value=port)
    if cull_idle_timeout_s < 0 or cull_interval_s < 0 or max_kernels < 0:
        raise ParameterError("culling times and max kernels must be >= 0")
    every = 1 if pool_size is None else int(pool_size)
    sizes = dict(DEFAULT_POOL_SIZES) if pool_size is None else {}
    sizes.update(pool_sizes or {})
    pools = _pools_config(every, sizes)
    root_path = Path(root) if root is not None else apps_dir()
    if not root_path.is_dir():
        raise ConfigError(f"app folder {root_path} does not exist", file=str(root_path))
    argv = [
        sys.executable,
        "-m",
        VOILA_MODULE,
        str(root_path),
        "--no-browser",
        f"--Voila.ip={host}",
        f"--port={int(port)}",
        "--Voila.port_retries=0",
        f"--template={TEMPLATE}",
        "--theme=light",
        f"--VoilaConfiguration.show_tracebacks={show_tracebacks}",
        "--VoilaConfiguration.multi_kernel_manager_class="
        "circman_kernel.server.kernels.PoolAwareKernelManager",
        f"--PoolAwareKernelManager.max_kernels={int(max_kernels)}",
        # a stopping server asks each kernel to exit, then kills it after this [s]
        "--KernelManager.shutdown_wait_time=3",
        # Voila renders a page's outputs as the kernel sends them and skips a cell whose
        # outputs are more than iopub_timeout [s] late (nbclient's default 4 s): under
        # load (ten viewers at once on 2 cores) pages of cold kernels came up blank
        "--VoilaExecutor.iopub_timeout=60",
        # front-end plugins the apps do not use: jupysql's (notebook-only, fails in Voila)
        # and plotly's mime renderer (4.8 MB a page; the apps draw through FigureWidget)
        "--VoilaConfiguration.extension_denylist="
        + json.dumps(["jupysql-plugin", "jupyterlab-plotly"]),
    ]
    if preheat and any(p["pool_size"] > 0 for p in pools.values()):
        argv += [
            "--VoilaConfiguration.preheat_kernel=True",
            f"--VoilaConfiguration.default_pool_size={every}",
            "--VoilaKernelManager.kernel_pools_config=" + json.dumps(pools),
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
