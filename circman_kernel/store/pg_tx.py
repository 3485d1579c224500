"""``PgTx``: a psycopg connection in one transaction, taking the store's portable SQL.

The object the PostgreSQL backend's ``_write()``/``_read()`` yield: ``execute``,
``fetchall`` and ``frame`` rewrite ``?`` placeholders to ``$1, $2, ...``; frames go in
with binary ``COPY`` (an upsert through a staging table for events); a run's trajectories
go in as one binary COPY stream and come back as one row of binary arrays
(:mod:`circman_kernel.store.pg_copy`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql as pgsql
from psycopg.types.string import TextBinaryLoader, TextLoader

from circman_kernel.store.pg_copy import (
    COPY_IN_COLUMNS,
    decode_trajectory_arrays,
    encode_trajectories,
)
from circman_kernel.store.pg_frames import copy_rows, result_frame
from circman_kernel.store.sandbox import numbered_placeholders

__all__ = ["PgTx", "configure"]

_INT4_ARRAY, _FLOAT8_ARRAY = 1007, 1022
# the columns of one run as arrays; the variable as its index in the run's sorted names
_TRAJECTORY_ARRAYS = """
WITH n AS MATERIALIZED (
    SELECT array_agg(DISTINCT variable COLLATE "C" ORDER BY variable COLLATE "C") AS names
    FROM trajectories WHERE run_id = $1
)
SELECT (SELECT names FROM n),
       array_agg(coalesce(t.seq, 0)), array_agg(t.iteration), array_agg(t.step),
       array_agg(array_position((SELECT names FROM n), t.variable) - 1),
       array_agg(coalesce(t.value, 'NaN'::DOUBLE PRECISION))
FROM trajectories AS t WHERE t.run_id = $1
HAVING count(*) > 0
"""


class _RawBytes(psycopg.adapt.Loader):
    """Hand over a binary value as bytes (numpy parses the arrays)."""

    format = psycopg.pq.Format.BINARY

    def load(self, data: Any) -> bytes:
        return bytes(data)


def configure(conn: psycopg.Connection) -> None:
    # JSON columns come back as their text, as DuckDB returns them
    for name in ("json", "jsonb"):
        conn.adapters.register_loader(name, TextLoader)
        conn.adapters.register_loader(name, TextBinaryLoader)


class PgTx:
    """A psycopg connection in one transaction, taking the store's portable SQL."""

    def __init__(self, conn: psycopg.Connection, store: Any) -> None:
        self.connection = conn
        self.cur = psycopg.RawCursor(conn)
        self._store = store

    def execute(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> psycopg.RawCursor:
        query, values = numbered_placeholders(sql, params)
        return self.cur.execute(query, values)

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.execute(sql, params).fetchall()

    def frame(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        cur = self.execute(sql, params)
        return result_frame(cur.description, cur.fetchall())

    def insert_frame(self, table: str, frame: pd.DataFrame, *, replace: bool = False) -> None:
        """COPY ``frame`` into ``table`` (``replace``: upsert on ``id`` through a staging table)."""
        if frame.empty:
            return
        columns, types = self._store._columns(self, table, list(map(str, frame.columns)))
        target = table
        if replace:
            target = "_circman_stage"
            self.cur.execute(
                pgsql.SQL("CREATE TEMP TABLE {} (LIKE {}) ON COMMIT DROP").format(
                    pgsql.Identifier(target), pgsql.Identifier(table)
                )
            )
        stmt = pgsql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
            pgsql.Identifier(target), pgsql.SQL(", ").join(map(pgsql.Identifier, columns))
        )
        with self.cur.copy(stmt) as copy:
            copy.set_types(types)
            for row in copy_rows(frame[columns], types):
                copy.write_row(row)
        if replace:
            cols = pgsql.SQL(", ").join(map(pgsql.Identifier, columns))
            sets = pgsql.SQL(", ").join(
                pgsql.SQL("{0} = EXCLUDED.{0}").format(pgsql.Identifier(c))
                for c in columns
                if c != "id"
            )
            self.cur.execute(
                pgsql.SQL(
                    "INSERT INTO {t} ({c}) SELECT {c} FROM {s} ON CONFLICT (id) DO UPDATE SET {u}"
                ).format(t=pgsql.Identifier(table), c=cols, s=pgsql.Identifier(target), u=sets)
            )
            self.cur.execute(pgsql.SQL("DROP TABLE {}").format(pgsql.Identifier(target)))

    def insert_trajectories(self, run_id: str, traj: pd.DataFrame) -> None:
        """Binary COPY of a run's trajectory frame (one stream, no per-row Python)."""
        stmt = pgsql.SQL("COPY trajectories ({}) FROM STDIN (FORMAT binary)").format(
            pgsql.SQL(", ").join(map(pgsql.Identifier, COPY_IN_COLUMNS))
        )
        with self.cur.copy(stmt) as copy:
            for block in encode_trajectories(run_id, traj):
                copy.write(block)

    def trajectories(self, run_id: str) -> pd.DataFrame:
        """A run's trajectory frame: one row of binary arrays, parsed by numpy."""
        cur = psycopg.RawCursor(self.connection)
        for oid in (_INT4_ARRAY, _FLOAT8_ARRAY):
            cur.adapters.register_loader(oid, _RawBytes)
        cur.execute(_TRAJECTORY_ARRAYS, [run_id], binary=True)
        row = cur.fetchone()
        if row is None:
            return decode_trajectory_arrays([], None, None, None, None, None)
        names, *arrays = row
        return decode_trajectory_arrays(list(names), *arrays)
