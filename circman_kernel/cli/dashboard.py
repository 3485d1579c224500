"""``circman dashboard`` (Voila apps, published by default) and ``circman lab``."""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the Voila/Jupyter server imports cost ~2 s; load them only to serve
    from circman_kernel.server.dashboard import DashboardCommand


def register(sub: argparse._SubParsersAction) -> None:
    dash = sub.add_parser(
        "dashboard",
        help="serve the Voila dashboards (published, read-only by default)",
        description="Serve notebooks/apps/ with Voila in tree mode: each app at "
        "/voila/render/<name>.ipynb. Published mode lets viewers run what-ifs but not "
        "delete or overwrite stored runs; --edit is for researchers.",
    )
    dash.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    dash.add_argument("--port", type=int, default=8866, help="port (default 8866; busy = error)")
    dash.add_argument("--edit", action="store_true", help="edit mode: apps may delete runs")
    dash.add_argument("--root", help="folder of app notebooks (default notebooks/apps)")
    dash.add_argument("--no-preheat", action="store_true", help="no pool of preheated kernels")
    dash.add_argument("--pool-size", type=int, default=1, help="preheated kernels per app")
    dash.add_argument(
        "--cull-idle-timeout",
        type=int,
        default=600,
        help="seconds after which a closed page's idle kernel is shut down (0 = never)",
    )
    dash.add_argument("--cull-interval", type=int, default=60, help="culler period [s]")
    dash.add_argument(
        "--print-command", action="store_true", help="print the Voila command and exit"
    )
    dash.set_defaults(func=_dashboard)

    lab = sub.add_parser("lab", help="open JupyterLab on the notebooks (edit mode)")
    lab.add_argument("--host", default="127.0.0.1")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--print-command", action="store_true", help="print the command and exit")
    lab.set_defaults(func=_lab)


def _run(cmd: DashboardCommand, print_only: bool, args: argparse.Namespace) -> int:
    env = dict(cmd.env)
    if args.config_dir:
        env["CIRCMAN_CONFIG_DIR"] = str(args.config_dir)
    if args.db:
        env["CIRCMAN_DB"] = str(args.db)
    if print_only:
        for key, value in sorted(
            {**cmd.env_changes(), **{k: env[k] for k in env if k.startswith("CIRCMAN_")}}.items()
        ):
            print(f"{key}={value}")
        print(" ".join(cmd.argv))
        return 0
    print(f"serving on {cmd.url} (Ctrl+C to stop)", file=sys.stderr)
    return subprocess.call(list(cmd.argv), env=env)


def _dashboard(args: argparse.Namespace) -> int:
    from circman_kernel.server.dashboard import dashboard_command

    cmd = dashboard_command(
        host=args.host,
        port=args.port,
        edit=args.edit,
        root=args.root,
        preheat=not args.no_preheat,
        pool_size=args.pool_size,
        cull_idle_timeout_s=args.cull_idle_timeout,
        cull_interval_s=args.cull_interval,
    )
    return _run(cmd, args.print_command, args)


def _lab(args: argparse.Namespace) -> int:
    from circman_kernel.server.dashboard import lab_command

    return _run(lab_command(host=args.host, port=args.port), args.print_command, args)
