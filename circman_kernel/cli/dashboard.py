"""``circman dashboard``: the Voila apps, published by default (``circman lab`` is in
:mod:`circman_kernel.cli.lab`)."""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from circman_kernel.core.errors import ConfigError

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
    dash.add_argument(
        "--no-fork",
        action="store_true",
        help="start every kernel from scratch instead of forking it from a warm process",
    )
    dash.add_argument(
        "--pool-size",
        action="append",
        metavar="[APP=]N",
        help="preheated kernels: N for every app, APP=N for one (repeatable; default "
        "simulation=2 line_monitor=2, others 1)",
    )
    dash.add_argument(
        "--max-kernels",
        type=int,
        help="most kernels at once, pools included; beyond, pages show 'busy, retrying' "
        "(default 40, about 6 GB; 0 = no limit)",
    )
    dash.add_argument(
        "--cull-idle-timeout",
        type=int,
        help="seconds after which a closed page's idle kernel is shut down (default 600; 0 = never)",
    )
    dash.add_argument("--cull-interval", type=int, help="culler period [s] (default 60)")
    dash.add_argument(
        "--settings",
        type=Path,
        help='JSON file with any of pool_size ({APP: N, "default": N}), max_kernels, '
        "cull_idle_timeout, cull_interval; options on the command line win",
    )
    dash.add_argument(
        "--print-command", action="store_true", help="print the Voila command and exit"
    )
    team = dash.add_argument_group("publishing to a team")
    team.add_argument(
        "--auth",
        action="store_true",
        help="require sign-in (users: circman users add); needed to bind beyond 127.0.0.1",
    )
    team.add_argument(
        "--session-hours", type=float, default=8.0, help="sign-in lifetime [h] (default 8)"
    )
    team.add_argument(
        "--secure-cookie", action="store_true", help="HTTPS-only session cookie (TLS proxy)"
    )
    team.add_argument(
        "--twin",
        metavar="SOURCE",
        help="run the shared live twin beside the apps: csv:PATH or simulated[:SEED]",
    )
    team.add_argument("--twin-rate", type=float, help="readings per second of the shared twin")
    dash.set_defaults(func=_dashboard)


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
        print(shlex.join(cmd.argv))
        return 0
    print(f"serving on {cmd.url} (Ctrl+C to stop)", file=sys.stderr)
    if getattr(args, "func", None) is _dashboard:
        from circman_kernel.server.process import run_until_signalled

        return run_until_signalled(cmd.argv, env)
    return subprocess.call(list(cmd.argv), env=env)


SETTINGS_KEYS = ("pool_size", "max_kernels", "cull_idle_timeout", "cull_interval")


def read_settings(path: Path) -> dict[str, Any]:
    """Return the dashboard settings of a JSON file (keys :data:`SETTINGS_KEYS`)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read dashboard settings {path}: {exc}", file=str(path)) from exc
    unknown = (
        sorted(set(data) - set(SETTINGS_KEYS)) if isinstance(data, dict) else ["(not an object)"]
    )
    if unknown:
        raise ConfigError(
            f"dashboard settings {path}: unknown {', '.join(unknown)}; "
            f"known: {', '.join(SETTINGS_KEYS)}",
            file=str(path),
        )
    return data


def _dashboard(args: argparse.Namespace) -> int:
    from circman_kernel.server.dashboard import dashboard_command, parse_pool_sizes

    settings = read_settings(args.settings) if args.settings else {}
    pools = settings.get("pool_size", {})
    specs = (
        [f"{k}={v}" if k != "default" else str(v) for k, v in pools.items()]
        if isinstance(pools, dict)
        else [str(pools)]
    )
    every, per_app = parse_pool_sizes([*specs, *(args.pool_size or [])])

    def pick(name: str, default: int) -> int:
        given = getattr(args, name)
        return int(given if given is not None else settings.get(name, default))

    from circman_kernel.server.context import check_bind

    check_bind(args.host, args.auth)
    cmd = dashboard_command(
        host=args.host,
        port=args.port,
        edit=args.edit,
        root=args.root,
        preheat=not args.no_preheat,
        pool_size=every,
        pool_sizes=per_app,
        **(
            {"max_kernels": pick("max_kernels", 0)}
            if args.max_kernels is not None or "max_kernels" in settings
            else {}
        ),
        cull_idle_timeout_s=pick("cull_idle_timeout", 600),
        cull_interval_s=pick("cull_interval", 60),
        extra_args=team_args(args),
    )
    return _run(cmd, args.print_command, args)


def team_args(args: argparse.Namespace) -> tuple[str, ...]:
    """Return the team server's options (sign-in, shared twin) for the Voila command line."""
    from circman_kernel.server.twin_service import parse_source

    out = [f"--CircmanVoila.session_hours={args.session_hours:g}"] if args.auth else []
    if args.auth:
        out.insert(0, "--CircmanVoila.auth=True")
    if args.secure_cookie:
        out.append("--CircmanVoila.secure_cookie=True")
    if args.no_fork:
        out.append("--CircmanVoila.fork_kernels=False")
    if args.twin:
        source = parse_source(args.twin)  # a bad source fails here, not in the server
        out.append(f"--CircmanVoila.twin_source={source.label}")
        if args.twin_rate:
            out.append(f"--CircmanVoila.twin_rate={args.twin_rate:g}")
    return tuple(out)
