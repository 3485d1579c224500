"""The manual's roles (section 12.2) and what each may do: one table for the server and kernels.

Roles form a ladder, each level adding to the ones below it::

    viewer 20 < operator 40 < engineer 60 < manager 80 < admin 100

An *action* names a kind of change (``"run.save"``, ``"event.ack"``, ...) and the lowest
role allowed to make it. The server checks API calls against this table and a dashboard
kernel checks its viewer's writes against it (the kernel learns the role from the server,
never from the page), so both refuse with the same sentence. It lives in ``core`` because
both the apps (kernel side) and the server (API side) need it and neither may import the
other's layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from circman_kernel.core.errors import ParameterError, PermissionDeniedError

__all__ = [
    "ACTIONS",
    "ROLES",
    "Action",
    "allows",
    "check_role",
    "refusal",
    "require",
    "role_level",
]

#: role name -> level; a higher level may do everything a lower one may
ROLES: dict[str, int] = {
    "viewer": 20,
    "operator": 40,
    "engineer": 60,
    "manager": 80,
    "admin": 100,
}


@dataclass(frozen=True)
class Action:
    """A kind of change, the lowest role allowed to make it, and its name in words."""

    name: str
    role: str
    words: str


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("dashboard.open", "viewer", "open dashboards"),
        Action("runs.read", "viewer", "read stored runs"),
        Action("whatif.run", "viewer", "run what-ifs that are not saved"),
        Action("event.ack", "operator", "acknowledge alerts"),
        Action("twin.input", "operator", "enter manual readings into the shared twin"),
        Action("run.save", "engineer", "save runs"),
        Action("scenario.save", "engineer", "save scenarios"),
        Action("simulation.store", "engineer", "run stored simulations, sweeps and optimisations"),
        Action("run.delete", "manager", "delete runs"),
        Action("scenario.delete", "manager", "delete or overwrite scenarios"),
        Action("data.export", "manager", "export data (CSV, Parquet)"),
        Action("user.manage", "admin", "manage users"),
        Action("token.create", "admin", "create API tokens"),
    )
}


def check_role(role: object) -> str:
    """Return ``role`` if it is one of :data:`ROLES`; raise :class:`ParameterError` if not."""
    if not isinstance(role, str) or role not in ROLES:
        raise ParameterError(
            f"unknown role {role!r}; use one of {', '.join(ROLES)}", name="role", value=role
        )
    return role


def role_level(role: str | None) -> int:
    """Return the level of ``role`` (0 for ``None``: nobody signed in, allowed nothing)."""
    return 0 if role is None else ROLES[check_role(role)]


def _action(action: str) -> Action:
    try:
        return ACTIONS[action]
    except KeyError:
        raise ParameterError(
            f"unknown action {action!r}; known: {', '.join(ACTIONS)}", name="action", value=action
        ) from None


def allows(role: str | None, action: str) -> bool:
    """Return whether ``role`` may perform ``action``."""
    return role_level(role) >= ROLES[_action(action).role]


def refusal(role: str | None, action: str) -> str | None:
    """Return why ``role`` may not perform ``action`` (one sentence), or ``None`` if it may."""
    if allows(role, action):
        return None
    a = _action(action)
    who = "nobody signed in" if role is None else f"the {role} role"
    return f"To {a.words} you need the {a.role} role or higher; this session has {who}."


def require(role: str | None, action: str) -> None:
    """Raise :class:`PermissionDeniedError` (saying which role is needed) unless allowed."""
    reason = refusal(role, action)
    if reason is not None:
        raise PermissionDeniedError(reason)
