"""The run store as a dashboard kernel sees it: reads pass, writes checked against the role.

Every change a dashboard makes goes through :class:`GuardedStore`, in the kernel, at the
moment of the write: the viewer's role (:mod:`circman_kernel.apps._identity`) must allow the
action (:mod:`circman_kernel.core.roles`), whatever the page's widgets say, so a button
re-enabled or a message sent by hand changes nothing. For a signed-in viewer the role is
read again from the store's ``users`` table at each write: a user removed or demoted since
the page opened can no longer write. Each write is recorded in the store's audit log with
the viewer's name. Methods that are neither a known read nor a guarded write are refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from circman_kernel.core.errors import PermissionDeniedError
from circman_kernel.core.roles import require

__all__ = ["GuardedStore"]

#: methods and attributes of the store a viewer may use freely (they change nothing)
READS = frozenset(
    {
        "path",
        "backend",
        "published",
        "schema_version",
        "query",
        "runs",
        "get_run",
        "trajectories",
        "kpis",
        "compare",
        "variables",
        "step_medians",
        "events",
        "list_scenarios",
        "get_scenario",
    }
)


class GuardedStore:
    """A run store whose writes need the viewer's role and leave an audit record.

    Parameters
    ----------
    store : RunStore
        The store written to.
    viewer : callable
        Returns the current :class:`~circman_kernel.apps._identity.Viewer` (or ``None``
        while nobody is signed in to this kernel).
    """

    def __init__(self, store: Any, viewer: Callable[[], Any]) -> None:
        self._store = store
        self._viewer = viewer

    def __repr__(self) -> str:
        return f"GuardedStore({self._store!r})"

    def __getattr__(self, name: str) -> Any:
        if name in READS:
            return getattr(self._store, name)
        raise PermissionDeniedError(f"a dashboard cannot call {name} on the run store")

    @property
    def inner(self) -> Any:
        """The store behind the guard (for reads the guard does not list)."""
        return self._store

    def connect(self, *, read_only: bool = True) -> Any:
        """A read-only connection; a dashboard never gets a read-write one."""
        if not read_only:
            raise PermissionDeniedError("a dashboard cannot open a read-write connection")
        return self._store.connect(read_only=True)

    def check(self, action: str) -> str:
        """Return the viewer's name if their current role allows ``action``; raise if not."""
        viewer = self._viewer()
        if viewer is None:
            require(None, action)
        role = viewer.role
        if viewer.signed_in:
            row = self._store.get_user(viewer.name)
            if row is None:
                raise PermissionDeniedError(
                    f"user {viewer.name!r} no longer exists; nothing was changed"
                )
            role = row["role"]
        require(role, action)
        return viewer.name

    def _audit(self, user: str, action: str, target: str | None, details: dict) -> None:
        self._store.record_audit(user, action, target, details)

    def save_run(self, kind: str, **kwargs: Any) -> str:
        """Store a run (engineer and above)."""
        user = self.check("run.save")
        run_id = self._store.save_run(kind, **kwargs)
        self._audit(user, "run.save", run_id, {"kind": kind, "name": kwargs.get("name")})
        return run_id

    def delete_runs(self, run_ids: str | Iterable[str] | None = None, **filters: Any) -> int:
        """Delete runs (manager and above)."""
        user = self.check("run.delete")
        ids = [run_ids] if isinstance(run_ids, str) else list(run_ids or [])
        n = self._store.delete_runs(run_ids, **filters)
        target = ids[0] if len(ids) == 1 else None
        self._audit(user, "run.delete", target, {"run_ids": ids, "deleted": n, **filters})
        return n

    def save_scenario(self, name: str, parameters: Any, description: str = "", **kw: Any) -> None:
        """Store a scenario (engineer; replacing one needs the manager role)."""
        user = self.check("scenario.delete" if kw.get("overwrite") else "scenario.save")
        self._store.save_scenario(name, parameters, description, **kw)
        self._audit(user, "scenario.save", name, {"overwrite": bool(kw.get("overwrite"))})

    def delete_scenario(self, name: str) -> bool:
        """Delete a scenario (manager and above)."""
        user = self.check("scenario.delete")
        found = self._store.delete_scenario(name)
        self._audit(user, "scenario.delete", name, {"found": found})
        return found

    def acknowledge_event(self, event_id: str) -> bool:
        """Acknowledge a stored event (operator and above)."""
        user = self.check("event.ack")
        found = self._store.acknowledge_event(event_id)
        self._audit(user, "event.ack", event_id, {"found": found})
        return found

    def export_runs(self, run_ids: Any, directory: Any) -> Any:
        """Export runs as Parquet (manager and above)."""
        user = self.check("data.export")
        out = self._store.export_runs(run_ids, directory)
        self._audit(user, "data.export", None, {"directory": str(out)})
        return out
