"""Turning caller data (dicts, DataFrames, Event objects) into rows of the run store's tables.

Pure helpers: no connection, no I/O. Everything that goes into a JSON column passes
through :func:`to_json`, which refuses NaN, infinities and unknown objects with a
:class:`ParameterError` instead of storing something unreadable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.core.errors import ParameterError
from circman_kernel.store.schema import EVENT_COLUMNS, JSON_COLUMNS, RECORD_COLUMNS

TRAJECTORY_COLUMNS = ("iteration", "step", "variable", "value")
#: longest run or scenario name [characters], as for scenarios in the simulation
MAX_NAME_LENGTH = 200


def check_name_length(name: str, what: str) -> str:
    """Raise :class:`ParameterError` when ``name`` is longer than :data:`MAX_NAME_LENGTH`."""
    if len(name) > MAX_NAME_LENGTH:
        raise ParameterError(
            f"{what} is {len(name)} characters; at most {MAX_NAME_LENGTH}",
            name="name",
            value=name[:40] + "...",
        )
    return name


def check_text(value: str, what: str) -> str:
    """Refuse NUL characters and lone surrogates, which neither backend can keep."""
    if "\x00" in value:
        raise ParameterError(
            f"{what} holds a NUL character (\\x00), which the store cannot keep",
            name=what,
            value=value[:40],
        )
    return _encodable(value, what)


def _encodable(value: str, what: str) -> str:
    # a lone surrogate ('\ud800', from a bad decode) is not text: UTF-8 cannot encode it
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ParameterError(
                f"{what} holds {value[exc.start]!r} at position {exc.start}, a lone "
                "surrogate that is not text (decode the source with the right encoding)",
                name=what,
                value=value[:40],
            ) from None
    return value


def check_run_name(name: Any) -> str | None:
    """Return a valid run name (``None`` or a string of at most 200 characters)."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise ParameterError(f"name must be a string, got {name!r}", name="name", value=name)
    return check_text(check_name_length(name, "run name"), "name")


def check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not -(2**63) <= int(seed) < 2**63
    ):
        raise ParameterError(
            "seed must be an integer that fits 64 bits (store the seed, not a Generator)",
            name="seed",
            value=seed,
        )
    return int(seed)


def package_version() -> str:
    from circman_kernel.core.version import __version__

    return __version__


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, datetime | date | pd.Timestamp):
        return obj.isoformat()
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def to_json(value: Any, what: str) -> str | None:
    """Serialise ``value`` to JSON text (``None`` stays NULL); raise ParameterError if impossible."""
    if value is None:
        return None
    try:
        text = json.dumps(value, default=_json_default, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"{what} must be JSON-serialisable (no NaN/inf, no objects): {exc}", name=what
        ) from exc
    return _encodable(text, what)


def from_json(text: Any) -> Any:
    return json.loads(text) if isinstance(text, str) else None


def as_list(values: str | Iterable[str] | None, what: str) -> list[str] | None:
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    for v in items:
        if not isinstance(v, str):
            raise ParameterError(f"{what} must be strings, got {v!r}", name=what, value=v)
        check_text(v, what)
    return items


def records_frame(
    table: str, rows: Any, run_id: str, now: datetime, *, first: int = 0
) -> pd.DataFrame:
    """Return ``rows`` (DataFrame or list of dicts) as a frame with ``table``'s columns.

    Rows without an ``id`` get ``<run_id>:<table>:<n>``, ``n`` counting from ``first``.
    """
    columns = RECORD_COLUMNS[table]
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    unknown = sorted(set(map(str, frame.columns)) - set(columns))
    if unknown:
        raise ParameterError(
            f"records[{table!r}] has unknown columns {unknown}; valid: {list(columns)}",
            name=f"records.{table}",
        )
    n = len(frame)
    if "id" not in frame:
        frame["id"] = [f"{run_id}:{table}:{i}" for i in range(first, first + n)]
    frame["run_id"] = run_id
    if "timestamp" not in frame:
        frame["timestamp"] = now
    for col in columns:
        if col not in frame:
            frame[col] = None
        elif col in JSON_COLUMNS:
            frame[col] = [
                v if isinstance(v, str) or v is None else to_json(v, f"records.{table}.{col}")
                for v in frame[col].astype(object)
            ]
    return frame[list(columns)]


def trajectory_frame(traj: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(traj, pd.DataFrame):
        raise ParameterError("trajectories must be a pandas DataFrame", name="trajectories")
    cols = set(map(str, traj.columns))
    if "iteration" not in cols:  # a single simulation: iteration 0
        traj = traj.assign(iteration=np.int32(0))
        cols.add("iteration")
    if cols != set(TRAJECTORY_COLUMNS):
        raise ParameterError(
            f"trajectories must have columns {list(TRAJECTORY_COLUMNS)} (iteration optional), "
            f"got {sorted(cols)}",
            name="trajectories",
        )
    out = {}
    for col in ("iteration", "step"):
        s = traj[col]
        if not pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            s = _whole_numbers(s, col)
        out[col] = s
    out["variable"] = traj["variable"]
    v = traj["value"]
    out["value"] = v if v.dtype == np.float64 else v.astype("float64")
    return pd.DataFrame(out, copy=False)


def _whole_numbers(s: pd.Series, col: str) -> pd.Series:
    """Return ``s`` as int64 if every value is a whole number; else raise, naming one."""
    if pd.api.types.is_bool_dtype(s.dtype):
        raise ParameterError(
            f"trajectories.{col} holds booleans; give whole numbers (0, 1, 2, ...)", name=col
        )
    if s.isna().any():
        raise ParameterError(f"trajectories.{col} has missing values", name=col)
    try:
        v = s.to_numpy(dtype="float64")
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"trajectories.{col} must hold whole numbers, got {_first_non_number(s)!r}",
            name=col,
            value=_first_non_number(s),
        ) from exc
    # a cast would silently truncate 0.5 and 1.7 to 0 and 1: refuse instead
    wrong = ~np.isfinite(v) | (v != np.trunc(v)) | (np.abs(v) > 2.0**53)
    if wrong.any():
        bad = s.iloc[int(np.argmax(wrong))]
        bad = bad.item() if isinstance(bad, np.generic) else bad
        raise ParameterError(
            f"trajectories.{col} must hold whole numbers, got {bad!r} "
            f"({int(wrong.sum())} such value(s)); round or fix the {col} column",
            name=col,
            value=bad,
        )
    return pd.Series(v.astype("int64"), index=s.index, name=s.name)


def _first_non_number(s: pd.Series) -> Any:
    for x in s:
        try:
            float(x)
        except (TypeError, ValueError):
            return x
    return s.iloc[0]


def kpi_frame(run_id: str, kpis: Mapping[str, float] | None) -> pd.DataFrame:
    """Return ``kpis`` as ``run_kpis`` rows (run_id, kpi, value)."""
    names, values = [], []
    for k, v in (kpis or {}).items():
        if not isinstance(k, str):
            raise ParameterError(f"KPI names must be strings, got {k!r}", name="kpis")
        check_text(k, "kpis")
        try:
            values.append(float(v))
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"KPI {k!r} must be a number, got {v!r}", name="kpis", value=v
            ) from exc
        names.append(k)
    return pd.DataFrame({"run_id": [run_id] * len(names), "kpi": names, "value": values})


def _event_row(ev: Any) -> dict[str, Any]:
    if isinstance(ev, Mapping):
        return dict(ev)
    if hasattr(ev, "to_dict"):
        return dict(ev.to_dict())
    if is_dataclass(ev) and not isinstance(ev, type):
        return asdict(ev)
    raise ParameterError(f"cannot store event {ev!r}: give dicts or Event objects", name="events")


def events_frame(events: Any) -> pd.DataFrame:
    """Return events (dicts, Event objects or a DataFrame) as ``events`` table rows."""
    rows = (
        events.to_dict("records")
        if isinstance(events, pd.DataFrame)
        else [_event_row(e) for e in events]
    )
    clean = []
    for row in rows:
        unknown = sorted(set(row) - set(EVENT_COLUMNS))
        if unknown:
            raise ParameterError(
                f"event has unknown fields {unknown}; valid: {list(EVENT_COLUMNS)}", name="events"
            )
        if not row.get("id"):
            raise ParameterError("every event needs an 'id'", name="events.id")
        out = {}
        for col in EVENT_COLUMNS:
            v = row.get(col)
            if isinstance(v, Enum):
                v = v.value
            if col == "details" and v is not None and not isinstance(v, str):
                v = to_json(v, "events.details")
            if col == "acknowledged":
                v = bool(v) if v is not None else False
            out[col] = v
        clean.append(out)
    frame = pd.DataFrame(clean, columns=list(EVENT_COLUMNS))
    try:
        ts = pd.to_datetime(frame["timestamp"], format="ISO8601", utc=True)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"event timestamps must be ISO 8601: {exc}", name="events.timestamp"
        ) from exc
    frame["timestamp"] = ts.dt.tz_localize(None)
    text = ("id", "run_id", "category", "severity", "source", "message", "details")
    return frame.astype(dict.fromkeys(text, object))
