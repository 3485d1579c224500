"""The run store's events and scenarios (mixed into ``RunStore``, both backends).

Kept apart from :mod:`circman_kernel.store.run_store` only to keep each module readable; the
methods use ``RunStore``'s ``_read``/``_write`` transactions (portable SQL) and its
``published`` guard.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import pandas as pd

from circman_kernel.core.errors import ParameterError, StoreError
from circman_kernel.store.frames import check_name_length, events_frame, from_json, to_json, utcnow


class StoreExtras:
    """Events, scenarios and Parquet transfer; see :class:`circman_kernel.store.run_store.RunStore`."""

    # -- events ------------------------------------------------------------------------

    def save_events(self, events: Any) -> int:
        """Store events (dicts, Event objects or a DataFrame); an existing id is replaced.

        Returns the number of events written.
        """
        frame = events_frame(events)
        if frame.empty:
            return 0
        with self._write() as tx:
            tx.insert_frame("events", frame, replace=True)
        return len(frame)

    def acknowledge_event(self, event_id: str) -> bool:
        """Mark a stored event acknowledged; return False if no event has that id."""
        with self._write() as tx:
            rows = tx.fetchall(
                "UPDATE events SET acknowledged = true WHERE id = ? RETURNING id", [event_id]
            )
        return bool(rows)

    def events(
        self,
        *,
        category: str | None = None,
        severity: str | None = None,
        acknowledged: bool | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Return stored events, newest first, optionally filtered."""
        clauses, params = [], []
        for col, val in (
            ("category", category),
            ("severity", severity),
            ("acknowledged", acknowledged),
        ):
            if val is not None:
                clauses.append(f"{col} = ?")
                params.append(val)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        sql = f"SELECT * FROM events {where} ORDER BY timestamp DESC, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        df = self._frame(sql, params)
        df["details"] = pd.Series(
            [from_json(v) for v in df["details"]], index=df.index, dtype=object
        )
        return df

    # -- scenarios ---------------------------------------------------------------------

    def save_scenario(
        self,
        name: str,
        parameters: Mapping[str, Any],
        description: str = "",
        *,
        overwrite: bool = False,
    ) -> None:
        """Store a named scenario; replacing an existing name needs ``overwrite=True``."""
        if not isinstance(name, str) or not name:
            raise ParameterError(
                "scenario name must be a non-empty string", name="name", value=name
            )
        check_name_length(name, "scenario name")
        if not isinstance(parameters, Mapping):
            raise ParameterError("scenario parameters must be a mapping", name="parameters")
        if overwrite:
            self._deny("overwriting a scenario")
        params_json = to_json(dict(parameters), "parameters")
        now = utcnow()
        with self._write() as tx:
            found = tx.fetchall("SELECT id FROM scenarios WHERE name = ?", [name])
            existing = found[0] if found else None
            if existing and not overwrite:
                raise StoreError(
                    f"scenario {name!r} already exists; pass overwrite=True to replace it"
                )
            if existing:
                tx.execute(
                    "UPDATE scenarios SET description = ?, parameters = ?::JSON, updated_at = ? "
                    "WHERE id = ?",
                    [description, params_json, now, existing[0]],
                )
            else:
                tx.execute(
                    "INSERT INTO scenarios (id, name, description, parameters, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?::JSON, ?, ?)",
                    [uuid.uuid4().hex, name, description, params_json, now, now],
                )

    def get_scenario(self, name: str) -> dict[str, Any] | None:
        """Return a stored scenario as a dict, or None if there is none of that name."""
        df = self.list_scenarios(name=name)
        return None if df.empty else df.iloc[0].to_dict()

    def list_scenarios(self, *, name: str | None = None) -> pd.DataFrame:
        """Return stored scenarios (name, description, parameters, created_at, updated_at)."""
        where, params = ("WHERE name = ?", [name]) if name is not None else ("", [])
        df = self._frame(
            "SELECT name, description, parameters, created_at, updated_at "
            f"FROM scenarios {where} ORDER BY name",
            params,
        )
        df["parameters"] = pd.Series(
            [from_json(v) for v in df["parameters"]], index=df.index, dtype=object
        )
        return df

    def delete_scenario(self, name: str) -> bool:
        """Delete a stored scenario; return False if there was none of that name."""
        self._deny("deleting a scenario")
        with self._write() as tx:
            rows = tx.fetchall("DELETE FROM scenarios WHERE name = ? RETURNING id", [name])
        return bool(rows)
