"""Shared look and plumbing of the dashboards: title bar, KPI cards, messages, progress.

Every app is an :class:`AppView` (an ``ipywidgets.VBox``) that keeps handles on its
controls, figures and KPI cards so that tests can drive it without a browser. Callbacks
are wrapped by :meth:`AppView.safe`, which turns any error into a readable message in the
app (never a traceback) and leaves the app answering the next input. The dashboard mode,
the run store an app opens and the layout helpers (``kpi_row``, ``labelled``) are here too;
the palette and the plotly figure helpers are in :mod:`circman_kernel.apps._figures`.
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from circman_kernel.apps import MODE_ENV, MODES
from circman_kernel.apps._access import Access, identity_badge
from circman_kernel.apps._identity import Viewer
from circman_kernel.core.errors import CircmanError, ParameterError

if TYPE_CHECKING:
    from plotly.graph_objs._figurewidget import FigureWidget

log = logging.getLogger("circman.apps")


_CSS = """
<style>
.cm-title {background:#12355b;color:#fff;padding:10px 16px;border-radius:6px;
  font-family:sans-serif;margin-bottom:6px}
.cm-title h2 {margin:0;font-size:20px;color:#fff} .cm-title p {margin:2px 0 0 0;font-size:13px;opacity:.85}
.cm-badge {float:right;font-size:12px;background:#fff;color:#12355b;border-radius:10px;padding:2px 8px}
.cm-kpi {border:1px solid #d0d7de;border-radius:6px;padding:6px 10px;min-width:130px;
  font-family:sans-serif;background:#f8fafc}
.cm-kpi .lbl {font-size:12px;color:#555} .cm-kpi .val {font-size:20px;font-weight:600;color:#12355b}
.cm-kpi .unit {font-size:12px;color:#555;margin-left:3px} .cm-kpi .sub {font-size:11px;color:#777}
.cm-msg {font-family:sans-serif;font-size:13px;padding:6px 10px;border-radius:4px}
.cm-msg.error {background:#fdecea;color:#8a1c10;border:1px solid #f5c2bc}
.cm-msg.info {background:#e8f1fb;color:#0b3d6e;border:1px solid #bcd6f2}
.cm-msg.ok {background:#e9f7ef;color:#0d5a32;border:1px solid #b7e4c7}
</style>
"""


def dashboard_mode() -> str:
    """Return ``"published"`` or ``"edit"`` from ``$CIRCMAN_DASHBOARD_MODE`` (default edit).

    ``circman dashboard`` starts its kernels with ``published`` unless ``--edit`` is given;
    a researcher calling a builder in JupyterLab gets the edit mode.
    """
    mode = os.environ.get(MODE_ENV, "edit").strip().lower() or "edit"
    if mode not in MODES:
        raise ParameterError(
            f"{MODE_ENV}={mode!r} is not a dashboard mode; use one of {', '.join(MODES)}",
            name=MODE_ENV,
            value=mode,
        )
    return mode


def open_store(store: Any = None, *, published: bool | None = None) -> Any:
    """Return the run store a dashboard writes through: ``store`` or the default file, guarded.

    Writes go through :class:`~circman_kernel.apps._guard.GuardedStore`, which checks the
    viewer's role (:mod:`circman_kernel.apps._identity`) at each write and audits it.
    Without sign-in, ``published`` defaults to the dashboard mode: a published dashboard
    may save new runs but cannot delete or overwrite stored ones. With sign-in the role
    alone decides.
    """
    from circman_kernel.apps._guard import GuardedStore
    from circman_kernel.apps._identity import auth_required, current_viewer

    if isinstance(store, GuardedStore):
        return store
    if store is None:
        from circman_kernel.store.run_store import RunStore

        if published is None:
            published = dashboard_mode() == "published" and not auth_required()
        store = RunStore(None, published=published)
    return GuardedStore(store, lambda: current_viewer(dashboard_mode()))


def title_bar(
    title: str, subtitle: str = "", *, mode: str | None = None, badge: str | None = None
) -> widgets.HTML:
    """Return the title bar: app name, one-line purpose, and the mode (and viewer) badge.

    ``badge`` is trusted HTML (see :func:`~circman_kernel.apps._access.identity_badge`).
    """
    mode = mode or dashboard_mode()
    if badge is None:
        badge = "published (read-only)" if mode == "published" else "edit mode"
    return widgets.HTML(
        _CSS + f'<div class="cm-title"><span class="cm-badge">{badge}</span>'
        f"<h2>{html.escape(title)}</h2><p>{html.escape(subtitle)}</p></div>"
    )


@dataclass(frozen=True)
class KPIValue:
    """What a KPI card shows: its value, unit and an optional note (e.g. vs baseline)."""

    value: float | str
    unit: str = ""
    note: str = ""


class KPICard(widgets.HTML):
    """A headline number with its label and unit."""

    def __init__(self, label: str, unit: str = "", *, fmt: str = "{:,.2f}") -> None:
        super().__init__()
        self.label = label
        self.unit = unit
        self.fmt = fmt
        self.current: float | str | None = None
        self.set(None)

    def set(self, value: float | str | None, note: str = "") -> None:
        """Show ``value`` (``None`` shows a dash) with an optional note below it."""
        self.current = value
        if value is None:
            text = "–"
        elif isinstance(value, str):
            text = html.escape(value)
        else:
            text = self.fmt.format(value)
        self.value = (
            f'<div class="cm-kpi"><div class="lbl">{html.escape(self.label)}</div>'
            f'<span class="val">{text}</span><span class="unit">{html.escape(self.unit)}</span>'
            f'<div class="sub">{html.escape(note) or "&nbsp;"}</div></div>'
        )


def kpi_row(cards: Iterable[KPICard]) -> widgets.HBox:
    """Return the KPI cards laid out in one wrapping row."""
    return widgets.HBox(list(cards), layout=widgets.Layout(flex_flow="row wrap", grid_gap="8px"))


class Notice(widgets.HTML):
    """The app's message line: errors and confirmations as plain sentences."""

    def __init__(self) -> None:
        super().__init__(value="")
        self.kind = ""
        self.text = ""

    def show(self, text: str, kind: str = "info") -> None:
        self.kind, self.text = kind, text
        self.value = f'<div class="cm-msg {kind}">{html.escape(text)}</div>'

    def error(self, text: str) -> None:
        self.show(text, "error")

    def ok(self, text: str) -> None:
        self.show(text, "ok")

    def clear(self) -> None:
        self.kind, self.text, self.value = "", "", ""


def readable(exc: BaseException) -> str:
    """Return one sentence for a failed action: the error's message, never a traceback."""
    if isinstance(exc, CircmanError):
        return str(exc) or type(exc).__name__
    return f"Unexpected {type(exc).__name__}: {exc}. The app is still running; try again."


class Busy(widgets.HBox):
    """Progress indicator: a bar and a label; ``step()`` advances, ``done()`` hides it."""

    def __init__(self) -> None:
        self.bar = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="240px"))
        self.label = widgets.Label("")
        super().__init__([self.bar, self.label], layout=widgets.Layout(visibility="hidden"))

    def start(self, text: str, total: int = 1) -> None:
        self.bar.max, self.bar.value, self.bar.bar_style = max(int(total), 1), 0, "info"
        self.label.value = text
        self.layout.visibility = "visible"

    def step(self, text: str | None = None, n: int = 1) -> None:
        self.bar.value = min(self.bar.value + n, self.bar.max)
        if text is not None:
            self.label.value = text

    def done(self) -> None:
        self.bar.value = self.bar.max
        self.layout.visibility = "hidden"

    @property
    def active(self) -> bool:
        return self.layout.visibility == "visible"


class AppView(widgets.VBox):
    """An app: a VBox plus handles on its parts.

    Attributes
    ----------
    controls, figures, kpis : dict
        Named widgets, so tests (and notebooks) can drive the app without a browser.
    notice : Notice
        The message line. ``busy`` : the progress indicator.
    background : bool
        Run long work (:meth:`run`) on a worker thread so that the kernel keeps
        answering the page; ``False`` runs it inline (tests).
    """

    def __init__(self, title: str, subtitle: str, *, background: bool = True) -> None:
        super().__init__(layout=widgets.Layout(width="100%"))
        self.title = title
        self.mode = dashboard_mode()
        self.notice = Notice()
        self.busy = Busy()
        self.controls: dict[str, widgets.Widget] = {}
        self.figures: dict[str, FigureWidget] = {}
        self.kpis: dict[str, KPICard] = {}
        self.background = background
        self._job: threading.Thread | asyncio.Future | bool | None = None
        self._pending: tuple[Callable[[], Any], Callable[[Any], None], str] | None = None
        self.subtitle = subtitle
        self._header = widgets.HTML("")
        self.access = Access(self.mode, self._draw_header)
        self._draw_header(self.access.viewer)
        self.access.watch()
        self.add_class("circman-app")

    @property
    def viewer(self) -> Viewer | None:
        """Who this app serves (``None`` while the server has not said; see ``access``)."""
        return self.access.viewer

    def _draw_header(self, viewer: Viewer | None) -> None:
        badge = identity_badge(viewer, self.mode)
        self._header.value = title_bar(self.title, self.subtitle, mode=self.mode, badge=badge).value

    def layout_body(self, *parts: widgets.Widget) -> None:
        """Set the app's children: title bar, message, progress, then ``parts``."""
        self.children = (self._header, self.notice, self.busy, *parts)

    def safe(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a callback: errors become a message in the app and the app keeps going."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # a viewer's mistake must never break the app
                # The traceback goes to the log only (never into the page).
                log.info("callback %s failed", getattr(fn, "__name__", fn), exc_info=True)
                self.busy.done()
                self.notice.error(readable(exc))
                return None

        return wrapper

    def run(
        self,
        work: Callable[[], Any],
        on_done: Callable[[Any], None],
        *,
        text: str = "Working…",
    ) -> None:
        """Run ``work()`` (off the kernel's thread when ``background``) then ``on_done(result)``.

        In a kernel, ``work`` runs on a worker thread and ``on_done`` on the kernel's event
        loop: widgets are only ever touched from the thread that also handles the page's
        messages (ipywidgets are not thread-safe; a figure update sent while the kernel
        thread holds the widget's sync is lost). Errors in either step are shown as a
        message. A request made while one runs waits for it; only the newest waiting request
        is kept (a slider dragged across ten values runs twice, not ten times).
        """
        if self._job is not None:
            # Keep only the newest request; it starts when the running one ends.
            self._pending = (work, on_done, text)
            self.notice.show("Working on the previous request; yours is next.", "info")
            return
        self.busy.start(text, total=2)
        if not self.background:
            self._job = True
            self._finish(on_done, _outcome(work))
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a plain script): the worker draws as well
            loop = None
        if loop is None:
            thread = threading.Thread(
                target=lambda: self._finish(on_done, _outcome(work)),
                name=f"circman-{self.title}",
                daemon=True,
            )
            self._job = thread
            thread.start()
            return
        future = loop.run_in_executor(None, _outcome, work)
        self._job = future
        future.add_done_callback(
            lambda f: self._finish(
                on_done,
                (False, CircmanError("the work was cancelled")) if f.cancelled() else f.result(),
            )
        )

    def _finish(self, on_done: Callable[[Any], None], outcome: tuple[bool, Any]) -> None:
        ok, value = outcome
        try:
            if not ok:
                raise value
            self.busy.step("Drawing…")
            on_done(value)
        except Exception as exc:
            log.info("background work failed", exc_info=True)
            self.notice.error(readable(exc))
        finally:
            self.busy.done()
            self._job = None
            pending, self._pending = self._pending, None
            if pending is not None:
                self.run(pending[0], pending[1], text=pending[2])

    @property
    def working(self) -> bool:
        """Whether work started by :meth:`run` (or a request waiting for it) is unfinished."""
        return self._job is not None

    def wait(self, timeout: float | None = 60.0) -> None:
        """Block until work started by :meth:`run` on a worker thread has finished.

        For scripts and tests without an event loop; in a kernel, ``on_done`` runs on the
        loop, so await the loop instead of blocking it.
        """
        while isinstance(self._job, threading.Thread):
            self._job.join(timeout)


def _outcome(work: Callable[[], Any]) -> tuple[bool, Any]:
    """Return ``(True, work())`` or ``(False, the exception)``; never raises."""
    try:
        return True, work()
    except Exception as exc:
        return False, exc


def labelled(widget: widgets.Widget, text: str) -> widgets.VBox:
    """Return ``widget`` under a small caption."""
    return widgets.VBox([widgets.HTML(f"<b>{html.escape(text)}</b>"), widget])
