"""The dashboards' kernel: ipykernel without the notebook-file stack.

``circman dashboard`` puts ``share/kernels/python3`` first on the Voila server's
``JUPYTER_PATH``, so the apps' notebooks (kernel ``python3``) run in this launcher there;
JupyterLab and every other Jupyter server keep the stock kernel.

Why: plotly's ``FigureWidget`` imports ``plotly.io._renderers``, which imports nbformat as
an optional module for MIME rendering (``fig.show()``). nbformat imports jsonschema, whose
format checker imports rfc3987_syntax, which builds 39 lark parsers at import: 6.5 s of
a 6.8 s cold ``from circman_kernel.apps import simulation_app`` on the 2-core machine,
repeated by every kernel. A dashboard kernel never reads or writes notebook files (Voila
does that in the server process, with nbformat and its validation unchanged) and never
renders a figure as a MIME bundle (the apps display ``FigureWidget`` s), so the kernel
declares nbformat absent: plotly then skips it as it does when nbformat is not
installed, and no plotly, jsonschema or nbformat code is changed. A ``fig.show()`` in a
dashboard kernel raises plotly's own "requires nbformat" error instead of rendering.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from circman_kernel.apps.forkserver import FORKSERVER_ENV, run_forked, serve

# Modules a dashboard kernel has no use for, declared missing before anything imports them.
ABSENT_MODULES = ("nbformat",)


def main() -> None:
    """Start an IPython kernel (``ipykernel_launcher``'s steps) without :data:`ABSENT_MODULES`.

    Under ``circman dashboard`` the kernel is forked from the warm fork server when one
    answers (:mod:`circman_kernel.apps.forkserver`; this process then stands in for it).
    """
    if sys.argv[1:2] == ["--fork-server"] and len(sys.argv) == 3:
        drop_cwd_from_path()
        _declare_absent()
        serve(sys.argv[2])  # the warm process kernels are forked from
        return
    socket_path = os.environ.get(FORKSERVER_ENV)
    if socket_path:
        status = run_forked(socket_path, sys.argv[1:])
        if status is not None:
            sys.exit(status)
    drop_cwd_from_path()
    _declare_absent()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def _declare_absent() -> None:
    for name in ABSENT_MODULES:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError


def drop_cwd_from_path() -> None:
    """Remove the script's folder from ``sys.path`` (as ``ipykernel_launcher``: the kernel
    adds the working folder back itself)."""
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]


if __name__ == "__main__":
    main()
