"""What the viewer of an app may do, shown on the page: their name and role, and the
controls their role does not allow disabled with the reason beside them.

This is the page's courtesy only; the refusal that counts happens at the write
(:class:`~circman_kernel.apps._guard.GuardedStore`, the server's API). A preheated kernel is
built before anyone opens it: its controls start disabled and :meth:`Access.watch` polls
for the server's identity record, applying the viewer's role once it appears.
"""

from __future__ import annotations

import asyncio
import html
import os
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from circman_kernel.apps._identity import Viewer, auth_required, current_viewer
from circman_kernel.core.roles import allows, refusal

__all__ = ["Access", "identity_badge", "reason_html"]

POLL_S = 0.25  # how often a kernel waiting for its viewer looks for the record [s]
WAIT_TEXT = "Waiting for the server to confirm who is signed in; nothing can be changed yet."


class Access:
    """The viewer of one app and the controls gated by their role.

    Parameters
    ----------
    mode : str
        Dashboard mode (``published`` or ``edit``).
    on_change : callable
        Called with the new viewer whenever it changes (redraws the title bar).
    """

    def __init__(self, mode: str, on_change: Callable[[Viewer | None], None]) -> None:
        self.mode = mode
        self._on_change = on_change
        self._viewer: Viewer | None = None
        self._gates: list[tuple[widgets.Widget, str, widgets.HTML]] = []
        self._watching = False
        self._listeners: list[Callable[[Viewer | None], Any]] = []
        self._viewer = current_viewer(mode)

    @property
    def viewer(self) -> Viewer | None:
        """The viewer (``None`` while the server has not said who it is)."""
        if self._viewer is None:
            self.resolve()
        return self._viewer

    @property
    def role(self) -> str | None:
        return self.viewer.role if self.viewer is not None else None

    def resolve(self) -> bool:
        """Look for the viewer again; apply their role if it changed. Return whether known."""
        viewer = current_viewer(self.mode)
        if viewer != self._viewer:
            self._viewer = viewer
            self.apply()
        return viewer is not None

    def allows(self, action: str) -> bool:
        """Return whether the current viewer's role allows ``action``."""
        return allows(self.role, action)

    def reason(self, action: str) -> str | None:
        """Return why the viewer may not perform ``action`` (``None`` if they may)."""
        if self.viewer is None and auth_required():
            return WAIT_TEXT
        return refusal(self.role, action)

    def gate(self, widget: widgets.Widget, action: str) -> widgets.Widget:
        """Enable ``widget`` only for roles allowing ``action``; return it with its reason."""
        note = widgets.HTML("")
        note.add_class("cm-reason")
        self._gates.append((widget, action, note))
        self._apply_one(widget, action, note)
        return widgets.HBox([widget, note], layout=widgets.Layout(align_items="center"))

    def _apply_one(self, widget: widgets.Widget, action: str, note: widgets.HTML) -> None:
        why = self.reason(action)
        widget.disabled = why is not None
        if hasattr(widget, "tooltip"):
            widget.tooltip = why or ""
        note.value = reason_html(why)

    def on_viewer(self, callback: Callable[[Viewer | None], Any]) -> None:
        """Call ``callback(viewer)`` whenever the viewer changes (controls drawn by the app)."""
        self._listeners.append(callback)

    def apply(self) -> None:
        """Re-apply the current role to every gated control, the title bar and listeners."""
        for widget, action, note in self._gates:
            self._apply_one(widget, action, note)
        self._on_change(self._viewer)
        for callback in self._listeners:
            callback(self._viewer)

    def watch(self) -> None:
        """Poll for the server's identity record on the kernel's loop until it appears."""
        if self._viewer is not None or self._watching or not auth_required():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a script): the next write looks again anyway
            return
        self._watching = True

        def poll() -> None:
            if self.resolve():
                self._watching = False
                return
            loop.call_later(POLL_S, poll)

        loop.call_later(POLL_S, poll)


def reason_html(text: str | None) -> str:
    """Return why a control is disabled as a small note (empty when it is not)."""
    if text is None:
        return ""
    return f'<span class="cm-msg info cm-reason" style="padding:2px 6px">{html.escape(text)}</span>'


def identity_badge(viewer: Viewer | None, mode: str) -> str:
    """Return the title bar's badge text (HTML): mode, and who is signed in with which role."""
    badge = "published (read-only)" if mode == "published" else "edit mode"
    if viewer is None:
        return html.escape(badge + (" · signing in…" if auth_required() else ""))
    who = f"{viewer.name} ({viewer.role})"
    text = html.escape(f"{badge} · {who}")
    if viewer.signed_in:
        base = os.environ.get("VOILA_BASE_URL", "/") or "/"
        href = html.escape(base.rstrip("/") + "/logout", quote=True)
        text += f' · <a href="{href}" target="_top">Sign out</a>'
    return text


def viewer_of(access: Access) -> Callable[[], Any]:
    """Return a callable giving ``access``'s current viewer (for the guarded store)."""
    return lambda: access.viewer
