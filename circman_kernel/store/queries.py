"""Reading runs back from the store (mixed into ``RunStore``, both backends).

``query`` (read-only SQL with bound parameters and a time limit), ``runs`` (the run list
with filters), ``get_run``, ``trajectories``, ``kpis``, ``compare``, ``variables`` and
``step_medians`` (what the run explorer draws), and the filter the
listing and ``RunStore.delete_runs`` share. The SQL here is portable between DuckDB and
PostgreSQL (``?`` placeholders, ``= ANY(?::VARCHAR[])``, ``@>``); the backends provide
``_read()`` and the sandboxed ``_run_query``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from circman_kernel.core.errors import ParameterError, StoreError
from circman_kernel.store.frames import as_list, from_json
from circman_kernel.store.sandbox import check_timeout
from circman_kernel.store.schema import KINDS

_RUN_COLUMNS = (
    "id, kind, name, created_at, duration_s, status, seed, config_hash, "
    "package_version, parameters, tags"
)
QUERY_TIMEOUT_ENV = "CIRCMAN_QUERY_TIMEOUT"
DEFAULT_QUERY_TIMEOUT_S = 60.0


def in_list(column: str) -> str:
    """Portable ``column IN (the list bound to ?)`` for DuckDB and PostgreSQL."""
    return f"{column} = ANY(?::VARCHAR[])"


def default_query_timeout(value: Any) -> float | None:
    """Return the default :meth:`StoreQueries.query` limit [s]: ``value``, the env, or 60."""
    if value is None:
        env = os.environ.get(QUERY_TIMEOUT_ENV, "").strip()
        if not env:
            return DEFAULT_QUERY_TIMEOUT_S
        try:
            value = float(env)
        except ValueError as exc:
            raise ParameterError(
                f"${QUERY_TIMEOUT_ENV}={env!r} is not a number of seconds",
                name=QUERY_TIMEOUT_ENV,
                value=env,
            ) from exc
    return check_timeout(value)


class StoreQueries:
    """Queries over stored runs; see :class:`circman_kernel.store.run_store.RunStore`."""

    def query(
        self,
        sql: str,
        params: Sequence[Any] | Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> pd.DataFrame:
        """Return the result of one read-only ``sql`` statement as a DataFrame.

        Values go in as bound ``params``: ``?`` placeholders with a sequence, ``$name``
        with a mapping, the same on both backends (never string formatting). Only one
        statement that reads is accepted. It sees the store and nothing else, and runs
        for at most ``timeout_s`` seconds (default: the store's ``query_timeout_s``; 0:
        no limit); Ctrl-C cancels it. On DuckDB it runs on a private snapshot of the file
        with external access disabled (no ``read_csv``, ``read_blob``, ``glob``, network
        or settings), so a long query never keeps writers out; on PostgreSQL in a
        read-only transaction with ``statement_timeout``, without superuser rights.

        Raises
        ------
        StoreError
            A statement that writes (``DELETE``, ``DROP``, ``COPY``, ``SET``, ...), more
            than one statement, SQL the database rejects, access outside the store.
        QueryTimeout
            (a ``StoreError``) the time limit passed; the statement was cancelled.
        """
        if not isinstance(sql, str) or not sql.strip():
            raise ParameterError("sql must be a non-empty string", name="sql")
        limit = self.query_timeout_s if timeout_s is None else check_timeout(timeout_s)
        return self._run_query(sql, params, limit)

    def _frame(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Internal read of trusted SQL (no sandbox, no time limit)."""
        with self._read() as rx:
            return rx.frame(sql, list(params or []))

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
        runs = self._decode_runs(self._frame(sql, params))
        runs["name"] = runs["name"].fillna("")  # unnamed runs list blank, not as NaN
        return runs

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
            clauses.append(in_list("id"))
            params.append(ids)
        kinds = as_list(kind, "kind")
        if kinds is not None:
            bad = sorted(set(kinds) - set(KINDS))
            if bad:
                raise ParameterError(f"unknown run kind {bad}; valid: {list(KINDS)}", name="kind")
            clauses.append(in_list("kind"))
            params.append(kinds)
        if name is not None:
            clauses.append("name = ?")
            params.append(name)
        tag_list = as_list(tags, "tags")
        if tag_list:
            clauses.append("tags @> ?::VARCHAR[]")
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
        with self._read() as rx:
            df = rx.frame(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", [run_id])
            kpis = rx.fetchall(
                "SELECT kpi, value FROM run_kpis WHERE run_id = ? ORDER BY kpi", [run_id]
            )
        if df.empty:
            raise StoreError(f"no run with id {run_id!r} in {self.path}")
        row = self._decode_runs(df).iloc[0].to_dict()
        row["created_at"] = pd.Timestamp(row["created_at"]).to_pydatetime()
        for key in ("name", "duration_s", "seed", "config_hash", "package_version"):
            if row[key] is not None and not isinstance(row[key], list) and pd.isna(row[key]):
                row[key] = None
        if row["seed"] is not None:
            row["seed"] = int(row["seed"])
        if row["duration_s"] is not None:
            row["duration_s"] = float(row["duration_s"])
        row["kpis"] = {k: float("nan") if v is None else float(v) for k, v in kpis}
        return row

    def trajectories(self, run_id: str) -> pd.DataFrame:
        """Return a run's trajectories (iteration, step, variable, value) in stored order.

        ``variable`` comes back as a pandas Categorical of the stored names: a million
        rows decode several times faster than as a million Python strings.
        """
        with self._read() as rx:
            if not rx.fetchall("SELECT 1 FROM runs WHERE id = ?", [run_id]):
                raise StoreError(f"no run with id {run_id!r} in {self.path}")
            return rx.trajectories(run_id)

    def kpis(self, run_ids: str | Iterable[str]) -> pd.DataFrame:
        """Return one row per run (index ``run_id``, in the given order) and one column per KPI."""
        ids = as_list(run_ids, "run_ids") or []
        long = self._frame(
            "SELECT i.id AS run_id, r.id IS NOT NULL AS found, k.kpi, k.value "
            "FROM unnest(?::VARCHAR[]) AS i(id) LEFT JOIN runs AS r ON r.id = i.id "
            "LEFT JOIN run_kpis AS k ON k.run_id = i.id",
            [ids],
        )
        missing = sorted(set(long.loc[~long["found"].astype(bool), "run_id"]))
        if missing:
            raise StoreError(f"no run with id {missing} in {self.path}")
        long = long.dropna(subset=["kpi"])
        wide = long.pivot(index="run_id", columns="kpi", values="value")
        wide = wide.reindex(ids)
        wide.columns.name = None
        return wide.astype("float64")

    def variables(self, run_ids: str | Iterable[str]) -> list[str]:
        """Return the names of the trajectory variables the runs hold, sorted."""
        sql = f"SELECT DISTINCT variable FROM trajectories WHERE {in_list('run_id')} ORDER BY 1"
        return [str(v) for v in self._frame_of_runs(run_ids, sql)["variable"]]

    def step_medians(self, run_ids: str | Iterable[str], variable: str) -> pd.DataFrame:
        """Return ``variable``'s median over iterations per run and step.

        One row per (``run_id``, ``step``) with the median in ``value``, ordered by run id
        and step; computed by the database, so a Monte Carlo run of millions of rows comes
        back as one row per step. A single run's trajectory is its own median.
        """
        if not isinstance(variable, str):
            raise ParameterError("variable must be a string", name="variable", value=variable)
        return self._frame_of_runs(
            run_ids,
            "SELECT run_id, step, percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS value "
            f"FROM trajectories WHERE variable = ? AND {in_list('run_id')} "
            "GROUP BY run_id, step ORDER BY run_id, step",
            [variable],
        )

    def _frame_of_runs(
        self, run_ids: str | Iterable[str], sql: str, params: Sequence[Any] = ()
    ) -> pd.DataFrame:
        """Read trusted ``sql`` (``params`` then the id list) in the read that checks the ids.

        Raises ``StoreError`` naming any id the store does not hold.
        """
        ids = as_list(run_ids, "run_ids") or []
        with self._read() as rx:
            missing = _absent(rx, ids)
            if missing:
                raise StoreError(f"no run with id {missing} in {self.path}")
            return rx.frame(sql, [*params, ids])

    def compare(self, run_ids: Iterable[str]) -> pd.DataFrame:
        """Return the KPIs of two or more runs side by side (rows: KPI, columns: run id)."""
        ids = as_list(run_ids, "run_ids") or []
        if len(ids) < 2:
            raise ParameterError("compare needs at least two run ids", name="run_ids", value=ids)
        return self.kpis(ids).T.rename_axis(index="kpi", columns="run_id")

    def _missing(self, ids: list[str]) -> list[str]:
        with self._read() as rx:
            return _absent(rx, ids)


def _absent(rx: Any, ids: list[str]) -> list[str]:
    """The ids of ``ids`` that no run of the store has, in order (inside the read ``rx``)."""
    found = {r[0] for r in rx.fetchall(f"SELECT id FROM runs WHERE {in_list('id')}", [ids])}
    return [i for i in ids if i not in found]
