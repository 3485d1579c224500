"""The run store's events, scenarios and Parquet export/import (mixed into ``RunStore``).

Kept apart from :mod:`circman_kernel.store.run_store` only to keep each module readable; the
methods use ``RunStore``'s ``_read``/``_write`` connections and its ``published`` guard.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from circman_kernel.core.errors import ParameterError, StoreError
from circman_kernel.store.frames import (
    as_list,
    events_frame,
    from_json,
    insert_frame,
    package_version,
    to_json,
    utcnow,
)
from circman_kernel.store.schema import RUN_TABLES, SCHEMA_VERSION

EXPORT_FORMAT = "circman-runs"
MANIFEST = "manifest.json"


def _sql_path(path: Path) -> str:
    # COPY ... TO takes no bound parameter for its target; quote it as a SQL string literal
    return "'" + str(path).replace("'", "''") + "'"


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
        with self._write() as con:
            insert_frame(con, "events", frame, replace=True)
        return len(frame)

    def acknowledge_event(self, event_id: str) -> bool:
        """Mark a stored event acknowledged; return False if no event has that id."""
        with self._write() as con:
            rows = con.execute(
                "UPDATE events SET acknowledged = true WHERE id = ? RETURNING id", [event_id]
            ).fetchall()
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
        df = self.query(sql, params)
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
        if not isinstance(parameters, Mapping):
            raise ParameterError("scenario parameters must be a mapping", name="parameters")
        if overwrite:
            self._deny("overwriting a scenario")
        params_json = to_json(dict(parameters), "parameters")
        now = utcnow()
        with self._write() as con:
            existing = con.execute("SELECT id FROM scenarios WHERE name = ?", [name]).fetchone()
            if existing and not overwrite:
                raise StoreError(
                    f"scenario {name!r} already exists; pass overwrite=True to replace it"
                )
            if existing:
                con.execute(
                    "UPDATE scenarios SET description = ?, parameters = ?, updated_at = ? "
                    "WHERE id = ?",
                    [description, params_json, now, existing[0]],
                )
            else:
                con.execute(
                    "INSERT INTO scenarios VALUES (?, ?, ?, ?, ?, ?)",
                    [uuid.uuid4().hex, name, description, params_json, now, now],
                )

    def get_scenario(self, name: str) -> dict[str, Any] | None:
        """Return a stored scenario as a dict, or None if there is none of that name."""
        df = self.list_scenarios(name=name)
        return None if df.empty else df.iloc[0].to_dict()

    def list_scenarios(self, *, name: str | None = None) -> pd.DataFrame:
        """Return stored scenarios (name, description, parameters, created_at, updated_at)."""
        where, params = ("WHERE name = ?", [name]) if name is not None else ("", [])
        df = self.query(
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
        with self._write() as con:
            rows = con.execute(
                "DELETE FROM scenarios WHERE name = ? RETURNING id", [name]
            ).fetchall()
        return bool(rows)

    # -- Parquet export / import -------------------------------------------------------

    def export_runs(self, run_ids: str | Iterable[str], directory: str | Path) -> Path:
        """Write the given runs and all their rows as Parquet files into ``directory``.

        One file per table (``runs.parquet``, ``trajectories.parquet``, ...) plus
        ``manifest.json``; :meth:`import_runs` reads the folder back exactly.
        """
        ids = as_list(run_ids, "run_ids") or []
        if not ids:
            raise ParameterError("export_runs needs at least one run id", name="run_ids")
        missing = self._missing(ids)
        if missing:
            raise StoreError(f"no run with id {missing} in {self.path}")
        out = Path(directory)
        if (out / MANIFEST).exists():
            raise StoreError(f"{out} already holds an export; choose an empty folder")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{out}: cannot create the export folder: {exc}") from exc
        counts = {}
        with self._read() as con:
            for table in RUN_TABLES:
                key = "id" if table == "runs" else "run_id"
                sel = f"SELECT * FROM {table} WHERE list_contains(?::VARCHAR[], {key})"
                con.execute(
                    f"COPY ({sel}) TO {_sql_path(out / f'{table}.parquet')} (FORMAT parquet)",
                    [ids],
                )
                counts[table] = con.execute(f"SELECT count(*) FROM ({sel})", [ids]).fetchone()[0]
        manifest = {
            "format": EXPORT_FORMAT,
            "schema_version": SCHEMA_VERSION,
            "package_version": package_version(),
            "run_ids": ids,
            "rows": counts,
        }
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        return out

    def import_runs(self, directory: str | Path) -> list[str]:
        """Add the runs of an :meth:`export_runs` folder; return their ids.

        All or nothing: a run id that already exists here raises :class:`StoreError`
        and nothing is imported.
        """
        self._deny("importing runs")
        folder = Path(directory)
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreError(f"{folder}: not a circman run export ({MANIFEST}: {exc})") from exc
        if manifest.get("format") != EXPORT_FORMAT:
            raise StoreError(f"{folder}: {MANIFEST} is not a circman run export")
        if int(manifest.get("schema_version", 0)) > SCHEMA_VERSION:
            raise StoreError(
                f"{folder}: exported with schema {manifest['schema_version']}, newer than "
                f"this circman ({SCHEMA_VERSION}); upgrade circman"
            )
        ids = [str(i) for i in manifest.get("run_ids", [])]
        with self._write() as con:
            clash = [
                r[0]
                for r in con.execute(
                    "SELECT id FROM runs WHERE list_contains(?::VARCHAR[], id) ORDER BY id", [ids]
                ).fetchall()
            ]
            if clash:
                raise StoreError(
                    f"run ids {clash} already exist in {self.path}; delete them first "
                    "(imports never overwrite)"
                )
            for table in RUN_TABLES:
                file = folder / f"{table}.parquet"
                if not file.is_file():
                    raise StoreError(f"{folder}: missing {file.name}")
                key = "id" if table == "runs" else "run_id"
                src = "read_parquet(?)"
                (stray,) = con.execute(
                    f"SELECT count(*) FROM {src} WHERE NOT list_contains(?::VARCHAR[], {key})",
                    [str(file), ids],
                ).fetchone()
                if stray:
                    raise StoreError(f"{file}: {stray} rows belong to runs not in {MANIFEST}")
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {src}", [str(file)])
        return ids
