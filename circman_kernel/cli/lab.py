"""``circman lab``: JupyterLab on the guided notebooks, for a student or a lab machine.

JupyterLab starts in a process group of its own with a fresh access token, and the URL
printed first (on stdout) carries that token, so it opens as it is. As root (a container,
a lab image) ``--allow-root`` is added, which JupyterLab otherwise demands. SIGTERM,
SIGINT (Ctrl+C) or SIGHUP to ``circman lab`` stops JupyterLab and its kernels
(:func:`circman_kernel.server.process.run_until_signalled`), so the port is free for the
next start.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from circman_kernel.core.errors import ConfigError
from circman_kernel.core.paths import project_root

__all__ = ["LabCommand", "lab_command", "register"]

MODE_ENV = "CIRCMAN_DASHBOARD_MODE"  # the apps' edit/published switch (apps.MODE_ENV)


@dataclass(frozen=True)
class LabCommand:
    """The JupyterLab command line, its environment and the URL (with token) it serves."""

    argv: tuple[str, ...]
    env: dict[str, str] = field(repr=False)
    url: str
    token: str = field(repr=False)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(
    *,
    host: str = "127.0.0.1",
    port: int = 8888,
    root: str | os.PathLike[str] | None = None,
    token: str | None = None,
    as_root: bool | None = None,
    env: dict[str, str] | None = None,
) -> LabCommand:
    """Return the command that serves JupyterLab on ``root`` (default ``notebooks/``).

    ``token`` defaults to a new random one; ``as_root`` (default: whether this process
    runs as root) adds ``--allow-root``.
    """
    if root is None:
        checkout = project_root()
        root = checkout / "notebooks" if checkout is not None else Path.cwd()
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"circman lab: no notebooks folder {root}", file=str(root))
    token = token or secrets.token_urlsafe(24)
    argv = [
        sys.executable, "-m", "jupyterlab",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.ip={host}",
        f"--ServerApp.port={int(port)}",
        "--ServerApp.port_retries=0",  # a busy port is an error, not another port
        f"--IdentityProvider.token={token}",
        "--no-browser",
    ]  # fmt: skip
    if _is_root() if as_root is None else as_root:
        argv.append("--allow-root")
    environ = dict(os.environ if env is None else env)
    environ[MODE_ENV] = "edit"
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    url = f"http://{shown}:{int(port)}/lab?token={token}"
    return LabCommand(tuple(argv), environ, url, token)


def register(sub: argparse._SubParsersAction) -> None:
    lab = sub.add_parser(
        "lab",
        help="open JupyterLab on the guided notebooks (edit mode)",
        description="Serve JupyterLab on notebooks/ and print its URL with the access token. "
        "Works as root (adds --allow-root) and as a normal user; Ctrl+C or SIGTERM stops "
        "JupyterLab and its kernels.",
    )
    lab.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    lab.add_argument("--port", type=int, default=8888, help="port (default 8888; busy = error)")
    lab.add_argument("--root", help="folder to open (default notebooks/)")
    lab.add_argument("--print-command", action="store_true", help="print the command and exit")
    lab.set_defaults(func=_lab)


def _lab(args: argparse.Namespace) -> int:
    from circman_kernel.server.process import run_until_signalled

    cmd = lab_command(host=args.host, port=args.port, root=args.root)
    env: dict[str, Any] = cmd.env
    if args.config_dir:
        env["CIRCMAN_CONFIG_DIR"] = str(args.config_dir)
    if args.db:
        env["CIRCMAN_DB"] = str(args.db)
    if args.print_command:
        for key in sorted(k for k in env if k.startswith("CIRCMAN_")):
            print(f"{key}={env[key]}")
        print(shlex.join(cmd.argv))
        return 0
    print(f"JupyterLab: {cmd.url}", flush=True)
    print("(open the URL above; Ctrl+C stops JupyterLab and its kernels)", file=sys.stderr)
    return run_until_signalled(cmd.argv, env)
