"""The Voila application ``circman dashboard`` runs: Voila plus the gallery at ``/``.

``python -m circman_kernel.server.gallery`` takes Voila's command line. The only change
to Voila is the root page: instead of the file list, the gallery links every app of
:data:`circman_kernel.server.dashboard.APPS` with its audience and description (the file
list stays at ``/voila/tree``). Subclass :class:`DashboardVoila` to add more handlers.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from typing import Any

import tornado.web
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from voila.app import Voila

from circman_kernel.apps import MODE_ENV
from circman_kernel.server.dashboard import APPS, AppSpec

__all__ = ["DashboardVoila", "GalleryHandler", "gallery_html", "main"]

_STYLE = """
body { font-family: sans-serif; margin: 0; background: #f5f7fa; color: #1d2733; }
header { background: #12355b; color: #fff; padding: 18px 32px; }
header h1 { margin: 0; font-size: 22px; }
header p { margin: 4px 0 0; opacity: 0.85; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr));
       gap: 16px; padding: 24px 32px; }
a.app { display: block; background: #fff; border: 1px solid #d5dbe3; border-radius: 6px;
        padding: 16px; color: inherit; text-decoration: none; }
a.app:hover { border-color: #0072B2; box-shadow: 0 1px 4px rgba(0,0,0,0.12); }
a.app h2 { margin: 0 0 4px; font-size: 17px; color: #0072B2; }
.audience { font-size: 12px; color: #7f7f7f; margin-bottom: 8px; }
footer { padding: 0 32px 24px; font-size: 13px; color: #555; }
"""

_MODE_TEXT = {
    "published": "Published mode: you can run what-ifs and save new runs; stored runs "
    "cannot be deleted or overwritten here.",
    "edit": "Edit mode: the apps may delete and overwrite stored runs.",
}


def gallery_html(apps: Sequence[AppSpec], base_url: str = "/", mode: str = "published") -> str:
    """Return the gallery page: one link per app to ``<base_url>voila/render/<app>.ipynb``."""
    cards = "\n".join(
        f'<a class="app" id="app-{html.escape(a.name)}" '
        f'href="{html.escape(url_path_join(base_url, a.url_path))}">'
        f"<h2>{html.escape(a.title)}</h2>"
        f'<div class="audience">for {html.escape(a.audience)}</div>'
        f"<div>{html.escape(a.description)}</div></a>"
        for a in apps
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>circman dashboards</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:;base64,="><style>{_STYLE}</style></head>'
        "<body><header><h1>circman dashboards</h1>"
        "<p>PV module production line: digital twin, simulation and analysis.</p></header>"
        f'<main class="gallery">\n{cards}\n</main>'
        f"<footer>{html.escape(_MODE_TEXT.get(mode, _MODE_TEXT['published']))}</footer>"
        "</body></html>\n"
    )


class GalleryHandler(JupyterHandler):
    """``/``: the dashboard gallery."""

    def initialize(self, apps: Sequence[AppSpec]) -> None:
        self.apps = apps

    @tornado.web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.write(gallery_html(self.apps, self.base_url, os.environ.get(MODE_ENV, "published")))


class DashboardVoila(Voila):
    """Voila serving the circman apps, with the gallery at the root."""

    def init_handlers(self) -> list[Any]:
        handlers = super().init_handlers()
        # first match wins in tornado: the gallery shadows Voila's tree page at the root
        return [(url_path_join(self.server_url, "/"), GalleryHandler, {"apps": APPS}), *handlers]


def main() -> None:
    """Run :class:`DashboardVoila` with the command-line arguments."""
    DashboardVoila.launch_instance()


if __name__ == "__main__":
    main()
