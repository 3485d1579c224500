"""``RunStore(url)``: open the run store a location names, on either backend.

A path, ``duckdb:///path`` or ``":memory:"`` opens the embedded DuckDB file
(:class:`~circman_kernel.store.duck.DuckDBStore`); ``postgresql://user@host:port/db`` or
a libpq keyword string the team store on PostgreSQL
(:class:`~circman_kernel.store.pg.PostgresStore`); ``None`` reads ``$CIRCMAN_DB``
(:mod:`circman_kernel.store.urls`). Both implement
:class:`~circman_kernel.store.base.AbstractRunStore`, and both count as ``RunStore`` in
``isinstance`` checks. The backend module is imported when first used, so that the
DuckDB store never loads psycopg.
"""

from __future__ import annotations

import os
from typing import Any

from circman_kernel.store.base import KINDS, STATUSES, AbstractRunStore
from circman_kernel.store.urls import parse_location

__all__ = ["KINDS", "STATUSES", "RunStore"]


class RunStore(AbstractRunStore):
    """The run store at ``url`` (see :class:`AbstractRunStore` for the parameters).

    ``RunStore(url, published=..., lock_timeout_s=..., query_timeout_s=...)`` returns a
    :class:`DuckDBStore` or a :class:`PostgresStore`; ``isinstance(store, RunStore)``
    holds for both.

    Raises
    ------
    ParameterError
        ``url`` is empty or has an unknown scheme.
    StoreError
        The store cannot be opened (see the backends).
    """

    def __new__(cls, url: str | os.PathLike[str] | None = None, **settings: Any) -> Any:
        if parse_location(url).backend == "postgresql":
            from circman_kernel.store.pg import PostgresStore

            return PostgresStore(url, **settings)
        from circman_kernel.store.duck import DuckDBStore

        return DuckDBStore(url, **settings)

    @classmethod
    def __subclasshook__(cls, other: type) -> bool:
        # every backend is a RunStore for isinstance/issubclass, without importing them here
        if cls is RunStore and issubclass(other, AbstractRunStore):
            return True
        return NotImplemented
