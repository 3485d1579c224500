"""Between psycopg rows and DataFrames shaped as DuckDB's ``.df()`` shapes them.

So that the shared methods (and a user's code) see the same columns on both backends:
integers as ``int32``/``int64`` (nullable ``Int32``/``Int64`` when a value is NULL),
text and JSON as ``str``, ``TIMESTAMP`` as ``datetime64[us]``, arrays as numpy object arrays. The other
way, :func:`copy_rows` turns a frame's cells into the Python values a binary ``COPY``
takes (NaN and missing values as NULL).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["copy_rows", "result_frame"]

_INT32 = {21, 23}  # int2, int4
_INT64 = {20}
_FLOAT = {700, 701, 1700}  # float4, float8, numeric
_BOOL = {16}
_TEXT = {18, 19, 25, 114, 1042, 1043, 3802}  # char, name, text, json, bpchar, varchar, jsonb
_TIMESTAMP = {1114}


def _column(values: list[Any], oid: int) -> Any:
    has_null = any(v is None for v in values)
    if oid in _INT32 or oid in _INT64:
        bits = "32" if oid in _INT32 else "64"
        return pd.array(values, dtype=f"Int{bits}") if has_null else np.array(values, f"int{bits}")
    if oid in _FLOAT:
        return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    if oid in _BOOL:
        return pd.array(values, dtype="boolean") if has_null else np.array(values, dtype=bool)
    if oid in _TEXT:
        if all(v is None for v in values):  # as DuckDB: no text at all stays object/None
            return np.array(values, dtype=object)
        return pd.array(values, dtype="str")
    if oid in _TIMESTAMP:
        return pd.array([pd.NaT if v is None else v for v in values], dtype="datetime64[us]")
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):  # arrays as numpy object arrays, as DuckDB gives lists
        out[i] = float(v) if isinstance(v, Decimal) else _array(v) if isinstance(v, list) else v
    return out


def _array(items: list[Any]) -> np.ndarray:
    arr = np.empty(len(items), dtype=object)
    arr[:] = items
    return arr


def result_frame(description: Sequence[Any] | None, rows: list[tuple]) -> pd.DataFrame:
    """Return psycopg ``rows`` with their cursor ``description`` as a DataFrame."""
    if not description:
        return pd.DataFrame()
    names = [d.name for d in description]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    frame = pd.DataFrame(
        {
            i: _column(list(col), d.type_code)
            for i, (col, d) in enumerate(zip(columns, description, strict=True))
        }
    )
    frame.columns = names
    return frame


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float | np.floating) and math.isnan(v)


def _cell(v: Any, kind: str) -> Any:
    if isinstance(v, list | tuple | np.ndarray):
        return [None if _missing(x) else x for x in v]
    if _missing(v):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if kind == "timestamp" and isinstance(v, pd.Timestamp | np.datetime64):
        return pd.Timestamp(v).to_pydatetime()
    if kind.startswith(("int", "float")) and isinstance(v, bool):
        return int(v)
    if kind == "timestamp" and isinstance(v, str):
        return dt.datetime.fromisoformat(v)
    return v


def copy_rows(frame: pd.DataFrame, types: Sequence[str]) -> Iterator[list[Any]]:
    """Yield each row of ``frame`` as Python values for a binary COPY of ``types``."""
    columns = [frame.iloc[:, i].astype(object).tolist() for i in range(frame.shape[1])]
    for row in zip(*columns, strict=True):
        yield [_cell(v, kind) for v, kind in zip(row, types, strict=True)]
