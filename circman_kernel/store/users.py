"""Users and the audit log of the run store (mixed into ``RunStore``, both backends).

The contract the team server codes against (``/work/notes/store_users_interface.md``):
``users(name, role, password_hash, created_at, updated_at)`` and ``audit(id, at,
user_name, action, target, details)``, added by schema migration 3. The store keeps
password hashes, never passwords, and checks only that names and roles are short
non-empty strings; which roles exist is the server's business.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import pandas as pd

from circman_kernel.core.errors import ParameterError, StoreError
from circman_kernel.store.frames import from_json, to_json, utcnow

__all__ = ["StoreUsers"]

MAX_USER_NAME = 200
MAX_ROLE = 64


def _text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(f"{what} must be a non-empty string", name=what, value=value)
    if len(value) > limit:
        raise ParameterError(
            f"{what} is {len(value)} characters; at most {limit}", name=what, value=value[:40]
        )
    return value


class StoreUsers:
    """User accounts and audit records; see :class:`circman_kernel.store.run_store.RunStore`."""

    def add_user(self, name: str, role: str, password_hash: str) -> None:
        """Add a user; raise :class:`StoreError` if the name exists."""
        _text(name, "name", MAX_USER_NAME)
        _text(role, "role", MAX_ROLE)
        _text(password_hash, "password_hash", 10_000)
        now = utcnow()
        with self._write() as tx:
            if tx.fetchall("SELECT 1 FROM users WHERE name = ?", [name]):
                raise StoreError(f"user {name!r} already exists in {self.path}")
            tx.execute(
                "INSERT INTO users (name, role, password_hash, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [name, role, password_hash, now, now],
            )

    def get_user(self, name: str) -> dict[str, Any] | None:
        """Return a user's row (with ``password_hash``), or None."""
        df = self._frame(
            "SELECT name, role, password_hash, created_at, updated_at FROM users WHERE name = ?",
            [name],
        )
        if df.empty:
            return None
        row = df.iloc[0].to_dict()
        for key in ("created_at", "updated_at"):
            row[key] = pd.Timestamp(row[key]).to_pydatetime()
        return row

    def list_users(self) -> pd.DataFrame:
        """Return every user (name, role, created_at, updated_at), never the hashes."""
        return self._frame("SELECT name, role, created_at, updated_at FROM users ORDER BY name")

    def _update_user(self, name: str, column: str, value: str) -> None:
        with self._write() as tx:
            rows = tx.fetchall(
                f"UPDATE users SET {column} = ?, updated_at = ? WHERE name = ? RETURNING name",
                [value, utcnow(), name],
            )
        if not rows:
            raise StoreError(f"no user {name!r} in {self.path}")

    def set_user_role(self, name: str, role: str) -> None:
        """Change a user's role; raise :class:`StoreError` for an unknown user."""
        self._update_user(name, "role", _text(role, "role", MAX_ROLE))

    def set_user_password(self, name: str, password_hash: str) -> None:
        """Replace a user's password hash; raise :class:`StoreError` for an unknown user."""
        self._update_user(name, "password_hash", _text(password_hash, "password_hash", 10_000))

    def remove_user(self, name: str) -> bool:
        """Remove a user; return False if there was none of that name."""
        with self._write() as tx:
            rows = tx.fetchall("DELETE FROM users WHERE name = ? RETURNING name", [name])
        return bool(rows)

    def record_audit(
        self,
        user: str,
        action: str,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> str:
        """Append one audit record and return its id."""
        _text(user, "user", MAX_USER_NAME)
        _text(action, "action", MAX_ROLE)
        if target is not None and not isinstance(target, str):
            raise ParameterError("target must be a string or None", name="target", value=target)
        if details is not None and not isinstance(details, Mapping):
            raise ParameterError("details must be a mapping or None", name="details")
        audit_id = uuid.uuid4().hex
        with self._write() as tx:
            tx.execute(
                'INSERT INTO audit (id, "at", user_name, action, target, details) '
                "VALUES (?, ?, ?, ?, ?, ?::JSON)",
                [audit_id, utcnow(), user, action, target,
                 to_json(dict(details), "details") if details is not None else None],
            )  # fmt: skip
        return audit_id

    def audit_log(
        self, *, user: str | None = None, action: str | None = None, limit: int = 100
    ) -> pd.DataFrame:
        """Return audit records, newest first (``details`` decoded), optionally filtered."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ParameterError("limit must be an int >= 0", name="limit", value=limit)
        clauses, params = [], []
        for column, value in (("user_name", user), ("action", action)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        df = self._frame(
            f'SELECT id, "at", user_name, action, target, details FROM audit {where} '
            f'ORDER BY "at" DESC, id LIMIT {limit}',
            params,
        )
        df["details"] = pd.Series(
            [from_json(v) for v in df["details"]], index=df.index, dtype=object
        )
        return df
