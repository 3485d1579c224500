"""Who is looking at this dashboard: the viewer a kernel serves, as the server verified it.

With sign-in on (``circman dashboard --auth``) the server starts every kernel with
``CIRCMAN_AUTH=on`` and a private folder ``CIRCMAN_IDENTITY_DIR``. When it hands a kernel
to a signed-in page (a preheated one or a fresh one) it writes ``<kernel id>.json`` there:
the user name, the role and a token for the server's API. The kernel reads that record
and nothing else: not the page's widgets, query string, headers or Voila's unauthenticated
``/voila/query`` channel, which a browser could drive. Until the record exists (a
preheated kernel waiting in the pool) the kernel has no viewer and may change nothing.

Without sign-in (``make demo``, ``circman dashboard`` on this machine, JupyterLab) the
viewer is the local user with the ``manager`` role; in published mode the store itself
still refuses deleting and overwriting (``RunStore(published=True)``), as before sign-in
existed.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from circman_kernel.core.errors import ParameterError
from circman_kernel.core.roles import check_role

__all__ = [
    "AUTH_ENV",
    "IDENTITY_DIR_ENV",
    "TWIN_API_ENV",
    "Viewer",
    "auth_required",
    "current_viewer",
    "local_viewer",
    "read_record",
    "record_path",
    "this_kernel_id",
    "write_record",
]

AUTH_ENV = "CIRCMAN_AUTH"
IDENTITY_DIR_ENV = "CIRCMAN_IDENTITY_DIR"
#: base URL of the API serving the shared live twin (``.../api/v1``), set by the server
TWIN_API_ENV = "CIRCMAN_TWIN_API"
LOCAL_USER = "local"
_KERNEL_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class Viewer:
    """The person a dashboard kernel serves.

    Attributes
    ----------
    name, role : str
        User name and role (see :mod:`circman_kernel.core.roles`).
    signed_in : bool
        ``True`` when the server verified a sign-in; ``False`` for the local user of a
        server without sign-in.
    token : str
        Bearer token the kernel uses for the server's API on the viewer's behalf.
    """

    name: str
    role: str
    signed_in: bool = False
    token: str = field(default="", repr=False)


def auth_required() -> bool:
    """Return whether this kernel must learn its viewer from the server (sign-in is on)."""
    return os.environ.get(AUTH_ENV, "").strip().lower() in ("on", "1", "true")


def local_viewer(mode: str) -> Viewer:
    """Return the local user of a server without sign-in (the same in either ``mode``)."""
    return Viewer(LOCAL_USER, "manager")


def this_kernel_id() -> str | None:
    """Return the id the server knows this kernel by, or ``None`` outside a kernel."""
    try:
        from ipykernel.connect import get_connection_file

        name = Path(get_connection_file()).name
    except Exception:  # not running in a kernel (a script, a test)
        return None
    match = re.match(r"^kernel-(.+)\.json$", name)
    return match.group(1) if match and _KERNEL_ID.match(match.group(1)) else None


def record_path(directory: str | os.PathLike[str], kernel_id: str) -> Path:
    """Return the identity record file of ``kernel_id`` in ``directory``."""
    if not isinstance(kernel_id, str) or not _KERNEL_ID.match(kernel_id):
        raise ParameterError(f"not a kernel id: {kernel_id!r}", name="kernel_id")
    return Path(directory) / f"{kernel_id}.json"


def write_record(directory: str | os.PathLike[str], kernel_id: str, viewer: Viewer) -> Path:
    """Write the record telling kernel ``kernel_id`` who its viewer is (owner-only, atomic)."""
    check_role(viewer.role)
    path = record_path(directory, kernel_id)
    body = json.dumps({"name": viewer.name, "role": viewer.role, "token": viewer.token})
    partial = path.with_suffix(".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, body.encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(partial, path)
    return path


def read_record(directory: str | os.PathLike[str], kernel_id: str) -> Viewer | None:
    """Return the viewer recorded for ``kernel_id``, or ``None`` if there is no record yet."""
    try:
        raw = record_path(directory, kernel_id).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    data = json.loads(raw)
    return Viewer(str(data["name"]), check_role(data["role"]), True, str(data.get("token", "")))


def current_viewer(mode: str) -> Viewer | None:
    """Return this kernel's viewer: the server's record with sign-in on, else the local user.

    ``None`` means sign-in is on and the server has not handed this kernel to anyone yet
    (or the kernel cannot tell which it is): nothing may be changed.
    """
    if not auth_required():
        return local_viewer(mode)
    directory = os.environ.get(IDENTITY_DIR_ENV)
    kernel_id = this_kernel_id()
    if not directory or kernel_id is None:
        return None
    return read_record(directory, kernel_id)
