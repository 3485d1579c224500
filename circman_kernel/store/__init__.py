"""The run store: every run, state and event persisted and queryable with SQL.

Owns ``run_store`` (``RunStore``: opening the file, connections, writing and deleting
runs), ``queries`` (reading runs back: SQL, the run list, KPIs, trajectories),
``extras`` (events, scenarios, export, import and Parquet), ``connection`` (short-lived
connections and the write lock), ``schema`` (tables, views and migrations) and
``frames`` (DataFrame conversion). May import ``core`` only.

``RunStore``, ``KINDS``, ``STATUSES`` and ``SCHEMA_VERSION`` are importable from here;
each is loaded on first use, so that importing a store module (the CLI reads
``schema.KINDS``) does not load DuckDB and pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "RunStore": "run_store",
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
