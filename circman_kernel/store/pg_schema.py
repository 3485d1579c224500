"""The run store's migrations for PostgreSQL: DuckDB's, translated statement by statement.

Same versions, tables, columns, views and ``compare_runs`` as
:data:`circman_kernel.store.schema.MIGRATIONS` (so a store pulled from one backend
into the other compares equal), with PostgreSQL's spelling (``DOUBLE PRECISION``; the
``compare_runs`` table macro becomes a SQL function) and the indexes a shared server
needs: runs are found by ``run_id`` in every table, listed by ``created_at``.
"""

from __future__ import annotations

import re

from circman_kernel.store.schema import MIGRATIONS, RUN_TABLES, Migration

__all__ = ["PG_MIGRATIONS"]

_COMPARE_RUNS = """CREATE FUNCTION compare_runs(ids VARCHAR[])
    RETURNS TABLE (kpi VARCHAR, run_id VARCHAR, name VARCHAR, kind VARCHAR, value DOUBLE PRECISION)
    LANGUAGE sql STABLE AS $$
    SELECT c.kpi, c.run_id, c.name, c.kind, c.value FROM run_comparison AS c
    WHERE c.run_id = ANY(ids)
    $$"""

#: extra statements (indexes) run after each version's own
_INDEXES: dict[int, tuple[str, ...]] = {
    1: tuple(
        f"CREATE INDEX {table}_run_id ON {table} (run_id)"
        for table in RUN_TABLES[2:]  # run_kpis has its primary key
    )
    + ("CREATE INDEX runs_created_at ON runs (created_at)",),
    3: ('CREATE INDEX audit_at ON audit ("at")',),
}


def _translate(sql: str) -> str:
    if sql.lstrip().upper().startswith("CREATE MACRO COMPARE_RUNS"):
        return _COMPARE_RUNS
    return re.sub(r"\bDOUBLE\b(?! PRECISION)", "DOUBLE PRECISION", sql)


PG_MIGRATIONS: tuple[Migration, ...] = tuple(
    Migration(
        m.version,
        m.description,
        tuple(_translate(s) for s in m.statements) + _INDEXES.get(m.version, ()),
    )
    for m in MIGRATIONS
)
