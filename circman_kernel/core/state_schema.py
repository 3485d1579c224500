"""The twin state's schema: fields, defaults, copying, dotted paths and validation.

A state is the plain nested dict of the manual (section 4.1; see :func:`default_state`).
The schema sits in core because three layers read it: the configuration (threshold
paths must exist), the simulation (it starts from a state dict) and the twin's
:class:`~circman_kernel.twin.state.StateManager`, which keeps states and their history.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from circman_kernel.core.errors import StateValidationError

__all__ = [
    "LINE_STATUSES",
    "SCHEMA",
    "SYSTEM_STATUSES",
    "copy_state",
    "default_state",
    "get_path",
    "parse_timestamp",
]

SYSTEM_STATUSES = frozenset({"running", "idle", "stopped", "maintenance", "error"})
LINE_STATUSES = SYSTEM_STATUSES

_BIG = 1.7976931348623157e308  # largest finite float: open bounds still reject infinity
_NUM, _ENUM, _TS, _OPTSTR = 0, 1, 2, 3


def _num(lo: float = -_BIG, hi: float = _BIG) -> tuple:
    return (_NUM, lo, hi)


_MATERIAL = {
    "inventory": _num(0.0),  # [kg]
    "quality": _num(0.0, 1.0),
    "consumption": _num(0.0),  # [kg]
    "waste": _num(0.0),  # [kg]
    "recycled": _num(0.0),  # [kg]
}
# Branches are dicts, leaves are tuples (kind, ...). "*" matches any key at that level.
# The ranges are physical limits, not operating bands (those are PARAMETER_THRESHOLDS).
SCHEMA: dict[str, Any] = {
    "timestamp": (_TS,),
    "system_status": (_ENUM, SYSTEM_STATUSES),
    "batch_id": (_OPTSTR,),
    "production_line": {
        "status": (_ENUM, LINE_STATUSES),
        "temperature": _num(-100.0, 500.0),  # [degC]
        "energy_consumption": _num(0.0),  # [kW]
        "production_rate": _num(0.0),  # [modules/h]
        "efficiency": _num(0.0, 1.0),
        "defect_rate": _num(0.0, 1.0),
        "cycle_time": _num(0.0),  # [s/module]
    },
    "materials": {"*": _MATERIAL},
    "environment": {
        "temperature": _num(-100.0, 100.0),  # [degC]
        "humidity": _num(0.0, 100.0),  # [% RH]
    },
}


def default_state(config: Any = None) -> dict[str, Any]:
    """Return a fresh default twin state (a new dict on every call).

    Parameters
    ----------
    config : CircmanConfig, optional
        When given, the line temperature starts at
        ``SIMULATION_PARAMETERS.target_temperature`` [degC].

    Returns
    -------
    dict
        ``timestamp`` (ISO 8601), ``system_status``, ``batch_id``, ``production_line``
        (temperature [degC], energy_consumption [kW], production_rate [modules/h],
        efficiency and defect_rate [0..1], cycle_time [s/module]), ``materials``
        (inventory [kg], quality [0..1], consumption/waste/recycled [kg]) and
        ``environment`` (temperature [degC], humidity [% RH]).
    """
    temperature = 22.5
    if config is not None:
        temperature = float(config.digital_twin.SIMULATION_PARAMETERS.target_temperature)
    return {
        "timestamp": datetime.now().isoformat(),
        "system_status": "running",
        "batch_id": "B-0001",
        "production_line": {
            "status": "running",
            "temperature": temperature,
            "energy_consumption": 120.5,
            "production_rate": 8.3,
            "efficiency": 0.92,
            "defect_rate": 0.02,
            "cycle_time": 30.0,
        },
        "materials": {
            "silicon_wafer": {
                "inventory": 850.0,
                "quality": 0.95,
                "consumption": 0.0,
                "waste": 0.0,
                "recycled": 0.0,
            },
            "solar_glass": {
                "inventory": 420.0,
                "quality": 0.98,
                "consumption": 0.0,
                "waste": 0.0,
                "recycled": 0.0,
            },
        },
        "environment": {"temperature": 22.0, "humidity": 45.0},
    }


def copy_state(state: Any) -> Any:
    """Return a deep copy of a state made of dicts, lists and immutable scalars."""
    t = type(state)
    if t is dict:
        out = state.copy()
        for k, v in out.items():
            tv = type(v)
            if tv is dict or tv is list:
                out[k] = copy_state(v)  # same keys: safe while iterating
        return out
    if t is list:
        return [copy_state(v) if type(v) in _CONTAINERS else v for v in state]
    return state


_CONTAINERS = frozenset({dict, list})
_SCALARS = frozenset({float, int, str, bool, type(None)})


_TOP_KEYS = frozenset(SCHEMA)
_LINE_KEYS = frozenset(SCHEMA["production_line"])
_ENV_KEYS = frozenset(SCHEMA["environment"])
_MATERIAL_KEYS = frozenset(_MATERIAL)


def _copy_stored(state: dict) -> dict:
    # Copy of a validated stored state. Known leaves are scalars, so a branch holding only
    # known keys needs one C-level dict.copy(); anything else takes the generic path.
    if not state.keys() <= _TOP_KEYS:
        return copy_state(state)
    out = state.copy()
    line = out.get("production_line")
    if line is not None:
        out["production_line"] = line.copy() if line.keys() <= _LINE_KEYS else copy_state(line)
    env = out.get("environment")
    if env is not None:
        out["environment"] = env.copy() if env.keys() <= _ENV_KEYS else copy_state(env)
    materials = out.get("materials")
    if materials is not None:
        materials = materials.copy()
        for name, m in materials.items():
            materials[name] = m.copy() if m.keys() <= _MATERIAL_KEYS else copy_state(m)
        out["materials"] = materials
    return out


def get_path(state: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """Return the value at a dotted path (``"production_line.temperature"``) or ``default``."""
    node: Any = state
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return copy_state(node)


def parse_timestamp(value: Any) -> datetime:
    """Return the naive datetime used to order states (aware times are converted to UTC).

    Raises
    ------
    StateValidationError
        If ``value`` is not an ISO 8601 string or a datetime.
    """
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise StateValidationError(
                f"timestamp: {value!r} is not ISO 8601 (e.g. '2025-02-24T14:30:22.123456')",
                path="timestamp",
                value=value,
            ) from None
    elif isinstance(value, datetime):
        dt = value
    else:
        raise StateValidationError(
            f"timestamp: expected an ISO 8601 string, got {type(value).__name__} {value!r}",
            path="timestamp",
            value=value,
        )
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


class _Invalid(Exception):
    """Internal: a bad value; ``keys`` grows while the error unwinds to the dotted path."""

    def __init__(self, key: str, value: Any, reason: str) -> None:
        self.keys = [key]
        self.value = value
        self.reason = reason

    def to_error(self) -> StateValidationError:
        path = ".".join(str(k) for k in self.keys)
        return StateValidationError(
            f"{path}: {self.reason} (got {self.value!r})", path=path, value=self.value
        )


def _coerce_number(key: str, value: Any) -> float | int:
    # Slow path: numpy scalars become Python numbers; bools and strings are refused.
    if isinstance(value, bool) or not hasattr(value, "__float__") or isinstance(value, str):
        raise _Invalid(key, value, f"expected a number, got {type(value).__name__}")
    try:
        import numpy as np

        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return float(value)
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    raise _Invalid(key, value, f"expected a number, got {type(value).__name__}")


def _check_leaf(key: str, value: Any, leaf: tuple) -> Any:
    kind = leaf[0]
    if kind == _NUM:
        t = type(value)
        if t is not float and t is not int:
            value = _coerce_number(key, value)
        if not (leaf[1] <= value <= leaf[2]):
            if value != value or value in (math.inf, -math.inf):
                raise _Invalid(key, value, "must be a finite number")
            lo = "" if leaf[1] == -_BIG else f"{leaf[1]:g}"
            hi = "" if leaf[2] == _BIG else f"{leaf[2]:g}"
            raise _Invalid(key, value, f"out of the physical range [{lo or '-inf'}, {hi or 'inf'}]")
        return value
    if kind == _ENUM:
        if type(value) is not str or value not in leaf[1]:
            raise _Invalid(key, value, f"must be one of {', '.join(sorted(leaf[1]))}")
        return value
    if kind == _TS:
        if isinstance(value, datetime):
            return value.isoformat()
        if type(value) is not str:
            raise _Invalid(key, value, "expected an ISO 8601 string")
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid(key, value, "not an ISO 8601 timestamp") from None
        return value
    # _OPTSTR
    if value is not None and type(value) is not str:
        raise _Invalid(key, value, "expected a string or None")
    return value


def _check_generic(key: str, value: Any) -> Any:
    # Keys outside the schema: any JSON value, numbers finite.
    t = type(value)
    if t is str or value is None or t is bool:
        return value
    if t is float or t is int:
        if t is float and not math.isfinite(value):
            raise _Invalid(key, value, "must be a finite number")
        return value
    if t is dict:
        return _merge({}, value, None)
    if t is list or t is tuple:
        out = []
        for i, item in enumerate(value):
            try:
                out.append(_check_generic(str(i), item))
            except _Invalid as exc:
                exc.keys.insert(0, key)
                raise
        return out
    value = _coerce_number(key, value)
    return _check_generic(key, value)


def _merge(base: dict, updates: Mapping, schema: dict | None) -> dict:
    """Return ``base`` with ``updates`` merged in; touched leaves validated, base untouched."""
    new = base.copy()
    for key, value in updates.items():
        node = None
        if schema is not None:
            node = schema.get(key)
            if node is None:
                node = schema.get("*")
        t = type(value)
        # Fast path: a float/int for a numeric leaf inside its physical range.
        if (
            (t is float or t is int)
            and type(node) is tuple
            and node[0] == _NUM
            and node[1] <= value <= node[2]
        ):
            new[key] = value
            continue
        if type(key) is not str:
            raise _Invalid(str(key), value, "state keys must be strings")
        if t is dict or (t not in _SCALARS and isinstance(value, Mapping)):
            if type(node) is tuple:
                raise _Invalid(key, value, "expected a value, got a mapping")
            old = base.get(key)
            try:
                new[key] = _merge(old if type(old) is dict else {}, value, node)
            except _Invalid as exc:
                exc.keys.insert(0, key)
                raise
        elif node is None:
            new[key] = _check_generic(key, value)
        elif type(node) is dict:
            raise _Invalid(key, value, "expected a mapping")
        else:
            new[key] = _check_leaf(key, value, node)
    return new


def validated_copy(state: Mapping[str, Any]) -> dict[str, Any]:
    """Return a validated deep copy of a complete state.

    Raises
    ------
    StateValidationError
        Naming the dotted path and value of the first problem.
    """
    if not isinstance(state, Mapping):
        raise StateValidationError(
            f"state must be a mapping, got {type(state).__name__}", path="", value=state
        )
    if "timestamp" not in state:
        raise StateValidationError(
            "timestamp: missing; a state needs an ISO 8601 'timestamp'", path="timestamp"
        )
    try:
        return _merge({}, state, SCHEMA)
    except _Invalid as exc:
        raise exc.to_error() from None
