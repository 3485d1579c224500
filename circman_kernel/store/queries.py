"""Reading runs back from the store (mixed into ``RunStore``).

``query`` (read-only SQL with bound parameters), ``runs`` (the run list with filters),
``get_run``, ``trajectories``, ``kpis`` and ``compare``, and the filter the listing and
``RunStore.delete_runs`` share. The methods use ``RunStore``'s ``_read`` connection; kept
apart from :mod:`circman_kernel.store.run_store`, which opens the file and writes runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from circman_kernel.core.errors import ParameterError, StoreError
from circman_kernel.store.connection import check_read_statement
from circman_kernel.store.frames import as_list, from_json
from circman_kernel.store.schema import KINDS

_RUN_COLUMNS = (
    "id, kind, name, created_at, duration_s, status, seed, config_hash, "
    "package_version, parameters, tags"
)


class StoreQueries:
    """Queries over stored runs; see :class:`circman_kernel.store.run_store.RunStore`."""

    def query(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Return the result of ``sql`` as a DataFrame; values go in as bound ``params``.

        Use ``?`` (or ``$name`` with a mapping) placeholders, never string formatting.
        Only statements that read are accepted (see
        :func:`~circman_kernel.store.connection.check_read_statement`), however the connection
        was opened: a read shares a read-write connection this process already holds (a
        JupySQL ``%sql`` session), and the in-memory store has only one. The statement
        also runs in a transaction that is rolled back, so nothing it might change stays.

        Raises
        ------
        StoreError
            For a statement that writes (``DELETE``, ``DROP``, ``COPY``, ``SET``, ...),
            more than one statement, or SQL DuckDB rejects.
        """
        if not isinstance(sql, str) or not sql.strip():
            raise ParameterError("sql must be a non-empty string", name="sql")
        with self._read() as con:
            check_read_statement(con, sql)
            con.begin()
            try:
                return con.execute(sql, params if params is not None else []).df()
            except duckdb.Error as exc:
                raise StoreError(f"query failed: {exc}") from exc
            finally:
                con.rollback()

    def runs(
        self,
        kind: str | Iterable[str] | None = None,
        *,
        name: str | None = None,
        tags: str | Iterable[str] | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """List runs (newest first), optionally of some kinds, a name, or carrying all ``tags``."""
        where, params = self._filter(kind=kind, name=name, tags=tags)
        sql = f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY created_at DESC, id"
        if limit is not None:
            if int(limit) < 0:
                raise ParameterError("limit must be >= 0", name="limit", value=limit)
            sql += f" LIMIT {int(limit)}"
        df = self.query(sql, params)
        return self._decode_runs(df)

    @staticmethod
    def _decode_runs(df: pd.DataFrame) -> pd.DataFrame:
        df["parameters"] = pd.Series(
            [from_json(v) for v in df["parameters"]], index=df.index, dtype=object
        )
        df["tags"] = pd.Series(
            [list(v) if v is not None else [] for v in df["tags"]], index=df.index, dtype=object
        )
        return df

    def _filter(
        self,
        *,
        run_ids: str | Iterable[str] | None = None,
        kind: str | Iterable[str] | None = None,
        name: str | None = None,
        tags: str | Iterable[str] | None = None,
        before: datetime | str | None = None,
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        ids = as_list(run_ids, "run_ids")
        if ids is not None:
            clauses.append("list_contains(?::VARCHAR[], id)")
            params.append(ids)
        kinds = as_list(kind, "kind")
        if kinds is not None:
            bad = sorted(set(kinds) - set(KINDS))
            if bad:
                raise ParameterError(f"unknown run kind {bad}; valid: {list(KINDS)}", name="kind")
            clauses.append("list_contains(?::VARCHAR[], kind)")
            params.append(kinds)
        if name is not None:
            clauses.append("name = ?")
            params.append(name)
        tag_list = as_list(tags, "tags")
        if tag_list:
            clauses.append("list_has_all(tags, ?::VARCHAR[])")
            params.append(tag_list)
        if before is not None:
            clauses.append("created_at < ?::TIMESTAMP")
            params.append(
                pd.Timestamp(before).tz_localize(None).to_pydatetime()
                if pd.Timestamp(before).tzinfo
                else pd.Timestamp(before).to_pydatetime()
            )
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params

    def get_run(self, run_id: str) -> dict[str, Any]:
        """Return one run's ``runs`` row as a dict plus ``"kpis"`` (name -> value)."""
        df = self.query(
            f"SELECT {_RUN_COLUMNS}, (SELECT list(struct_pack(kpi, value) ORDER BY kpi) "
            "FROM run_kpis AS k WHERE k.run_id = runs.id) AS kpis FROM runs WHERE id = ?",
            [run_id],
        )
        if df.empty:
            raise StoreError(f"no run with id {run_id!r} in {self.path}")
        row = self._decode_runs(df).iloc[0].to_dict()
        row["created_at"] = pd.Timestamp(row["created_at"]).to_pydatetime()
        for key in ("duration_s", "seed"):
            if row[key] is not None and pd.isna(row[key]):
                row[key] = None
        if row["seed"] is not None:
            row["seed"] = int(row["seed"])
        kpis = row["kpis"] if row["kpis"] is not None else []
        row["kpis"] = {k["kpi"]: float(k["value"]) for k in kpis}
        return row

    def trajectories(self, run_id: str) -> pd.DataFrame:
        """Return a run's trajectories (iteration, step, variable, value) in stored order.

        ``variable`` comes back as a pandas Categorical of the stored names: a million
        rows decode several times faster than as a million Python strings.
        """
        with self._read() as con:
            if con.execute("SELECT count(*) FROM runs WHERE id = ?", [run_id]).fetchone()[0] == 0:
                raise StoreError(f"no run with id {run_id!r} in {self.path}")
            names = [
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT variable FROM trajectories WHERE run_id = ? ORDER BY 1",
                    [run_id],
                ).fetchall()
            ]
            df = con.execute(
                "SELECT iteration, step, "
                "CAST(list_position(?::VARCHAR[], variable) - 1 AS INTEGER) AS code, value "
                "FROM trajectories WHERE run_id = ?",
                [names, run_id],
            ).df()
        variable = pd.Categorical.from_codes(
            df.pop("code"), categories=pd.Index(names, dtype="str")
        )
        df.insert(2, "variable", variable)
        return df

    def kpis(self, run_ids: str | Iterable[str]) -> pd.DataFrame:
        """Return one row per run (index ``run_id``, in the given order) and one column per KPI."""
        ids = as_list(run_ids, "run_ids") or []
        long = self.query(
            "SELECT i.id AS run_id, r.id IS NOT NULL AS found, k.kpi, k.value "
            "FROM unnest(?::VARCHAR[]) AS i(id) LEFT JOIN runs AS r ON r.id = i.id "
            "LEFT JOIN run_kpis AS k ON k.run_id = i.id",
            [ids],
        )
        missing = sorted(set(long.loc[~long["found"], "run_id"]))
        if missing:
            raise StoreError(f"no run with id {missing} in {self.path}")
        long = long.dropna(subset=["kpi"])
        wide = long.pivot(index="run_id", columns="kpi", values="value")
        wide = wide.reindex(ids)
        wide.columns.name = None
        return wide

    def compare(self, run_ids: Iterable[str]) -> pd.DataFrame:
        """Return the KPIs of two or more runs side by side (rows: KPI, columns: run id)."""
        ids = as_list(run_ids, "run_ids") or []
        if len(ids) < 2:
            raise ParameterError("compare needs at least two run ids", name="run_ids", value=ids)
        return self.kpis(ids).T.rename_axis(index="kpi", columns="run_id")

    def _missing(self, ids: list[str]) -> list[str]:
        found = set(
            self.query("SELECT id FROM runs WHERE list_contains(?::VARCHAR[], id)", [ids])["id"]
        )
        return [i for i in ids if i not in found]
