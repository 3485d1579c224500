"""The run store: every run, state and event persisted and queryable with SQL.

``RunStore(url)`` opens the embedded DuckDB file (a path, ``duckdb:///path``) or the team
store on PostgreSQL (``postgresql://...`` or a libpq keyword string); both implement one
interface. Owns ``run_store`` (``RunStore``: choosing the backend), ``base`` (the
interface both implement: writing and deleting runs), ``queries`` (reading runs back: SQL, the run list, KPIs,
trajectories), ``extras`` (events, scenarios), ``users`` (users and audit),
``transfer`` and ``bundle`` (pull/push between stores, Parquet export/import), ``urls``
(locations, password redaction), ``sandbox`` (bounded, interruptible queries), ``duck``,
``duck_tx`` and ``connection`` (the DuckDB file: short-lived connections, the write lock,
query snapshots), ``pg``, ``pg_tx``, ``pg_copy``, ``pg_frames``, ``pg_errors`` and
``pg_schema`` (the PostgreSQL backend), ``schema`` (tables, views and migrations),
``configs`` (each run's configuration snapshot, ``RunStore.rerun`` and its report),
``failures`` (root causes of failed writes) and
``frames`` (DataFrame conversion). May import ``core`` only.

``RunStore``, ``DuckDBStore``, ``PostgresStore``, ``parse_location``, ``redact``,
``KINDS``, ``STATUSES`` and ``SCHEMA_VERSION`` are importable from here;
each is loaded on first use, so that importing a store module (the CLI reads
``schema.KINDS``) does not load DuckDB and pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "RunStore": "run_store",
    "DuckDBStore": "duck",
    "PostgresStore": "pg",
    "parse_location": "urls",
    "redact": "urls",
    "KINDS": "schema",
    "STATUSES": "schema",
    "SCHEMA_VERSION": "schema",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'circman_kernel.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"circman_kernel.store.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
