"""``DuckTx``: a DuckDB connection inside one transaction, with the store's bulk helpers.

The object the DuckDB backend's ``_write()``/``_read()`` yield (and the scratch database
of :mod:`circman_kernel.store.bundle` uses): ``execute``/``fetchall``/``frame`` take the
shared methods' portable SQL as it is, DataFrames go in through DuckDB's DataFrame scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd

__all__ = ["DuckTx"]


class DuckTx:
    """A DuckDB connection inside one transaction (or one read), with the store's helpers."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.con.execute(sql, list(params or []))

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.con.execute(sql, list(params or [])).fetchall()

    def frame(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        return self.con.execute(sql, list(params or [])).df()

    def insert_frame(self, table: str, frame: pd.DataFrame, *, replace: bool = False) -> None:
        """Bulk-insert ``frame`` into ``table`` by column name (DuckDB's DataFrame scan)."""
        if frame.empty:
            return
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        self.con.register("_circman_frame", frame)
        try:
            self.con.execute(f"{verb} INTO {table} BY NAME SELECT * FROM _circman_frame")
        finally:
            self.con.unregister("_circman_frame")

    def insert_trajectories(self, run_id: str, traj: pd.DataFrame) -> None:
        """Bulk-insert a run's trajectory frame; ``seq`` is each row's position in it."""
        if "seq" not in traj:
            traj = traj.assign(seq=np.arange(len(traj), dtype=np.int32))
        self.con.register("_circman_traj", traj)
        try:
            self.con.execute(
                "INSERT INTO trajectories (run_id, iteration, step, variable, value, seq) "
                "SELECT ?, iteration, step, variable, value, seq FROM _circman_traj",
                [run_id],
            )
        finally:
            self.con.unregister("_circman_traj")

    def trajectories(self, run_id: str) -> pd.DataFrame:
        names = [
            r[0]
            for r in self.fetchall(
                "SELECT DISTINCT variable FROM trajectories WHERE run_id = ? ORDER BY 1", [run_id]
            )
        ]
        df = self.frame(
            "SELECT iteration, step, "
            "CAST(list_position(?::VARCHAR[], variable) - 1 AS INTEGER) AS code, value "
            "FROM trajectories WHERE run_id = ?",
            [names, run_id],
        )
        variable = pd.Categorical.from_codes(
            df.pop("code"), categories=pd.Index(names, dtype="str")
        )
        df.insert(2, "variable", variable)
        return df
