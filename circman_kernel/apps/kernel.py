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

import sys
from pathlib import Path

# Modules a dashboard kernel has no use for, declared missing before anything imports them.
ABSENT_MODULES = ("nbformat",)


def main() -> None:
    """Start an IPython kernel (``ipykernel_launcher``'s steps) without :data:`ABSENT_MODULES`."""
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]  # as ipykernel_launcher: the kernel adds the cwd back itself
    for name in ABSENT_MODULES:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
