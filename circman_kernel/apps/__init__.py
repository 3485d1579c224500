"""Dashboard builders: each returns an ipywidgets container (an :class:`AppView`).

The notebooks in ``notebooks/apps/`` are thin shells, e.g.::

    from circman_kernel.apps import lca_app; lca_app()

Builders are imported on first use so that importing this package stays cheap.

Owns one module per dashboard (``simulation``, ``scenarios``, ``optimization``, ``lca``,
``line_monitor``, ``run_explorer``, ``discovery``) and their shared widgets (``_ui``, ``_figures``).
May import everything below ``server``: ``core``, ``twin``, ``simulation``, ``ai``, ``lca``,
``store``.
"""

from __future__ import annotations

import importlib
from typing import Any

MODE_ENV = "CIRCMAN_DASHBOARD_MODE"
MODES = ("published", "edit")
# Set by ``circman dashboard``: figures load plotly's widget code from this URL path (one
# module shared by every figure of the page) instead of each carrying its own copy.
FIGURE_ESM_ENV = "CIRCMAN_FIGURE_ESM"

# builder -> module
_BUILDERS: dict[str, str] = {
    "line_monitor_app": "line_monitor",
    "simulation_app": "simulation",
    "scenarios_app": "scenarios",
    "optimization_app": "optimization",
    "lca_app": "lca",
    "run_explorer_app": "run_explorer",
    "discovery_app": "discovery",
}

__all__ = ["FIGURE_ESM_ENV", "MODES", "MODE_ENV", *_BUILDERS]


def __getattr__(name: str) -> Any:
    module = _BUILDERS.get(name)
    if module is None:
        raise AttributeError(f"module 'circman_kernel.apps' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"circman_kernel.apps.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
