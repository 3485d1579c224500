"""The twin state's schema: fields, defaults, copying, dotted paths and update limits.

A state is the plain nested dict of the manual (section 4.1; see :func:`default_state`).
The schema sits in core because three layers read it: the configuration (threshold
paths must exist), the simulation (it starts from a state dict) and the twin's
:class:`~circman_kernel.twin.state.StateManager`, which keeps states and their history.

Updates and simulation overrides go through one function,
:func:`~circman_kernel.core.state_merge.merge_state`: a key may be a dotted path (``"production_line.temperature": 23``), an unknown field is an
error with a did-you-mean hint (free-form data belongs under ``"extra"``), numbers must
be finite doubles, and nesting and size are bounded (:data:`MAX_DEPTH`,
:data:`MAX_ITEMS`, :data:`MAX_TEXT`), so that a hostile update ends in a
:class:`~circman_kernel.core.errors.StateValidationError`, never a ``RecursionError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from circman_kernel.core.errors import StateValidationError

__all__ = [
    "EXTRA",
    "LINE_STATUSES",
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MAX_TEXT",
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
_NUM, _ENUM, _TS, _OPTSTR, _FREE = 0, 1, 2, 3, 4

#: The state's free-form area: any JSON-like data (within the limits below) may go here.
EXTRA = "extra"
#: Deepest nesting of an update or state [levels] (the schema itself is 3 deep).
MAX_DEPTH = 32
#: Most keys plus list items in one update or state.
MAX_ITEMS = 100_000
#: Longest text value or key [characters].
MAX_TEXT = 10_000


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
    # Free-form data (operator notes, plant-specific readings): any JSON value; a mapping
    # there merges key by key like the rest of the state.
    EXTRA: (_FREE,),
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


_TOP_KEYS = frozenset(SCHEMA) - {EXTRA}  # a state with extra data takes the generic copy
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


#: ISO 8601 as the stores read it: date, optionally "T" or " ", time, fraction, offset
#: (``datetime.fromisoformat`` alone also takes any separator, "2025-02-24\x0006:00").
ISO_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?"
    r"(?:Z|[+-]\d{2}:\d{2}(?::\d{2})?)?)?",
    re.ASCII,
)


def iso_datetime(value: str) -> datetime:
    """Return ``value`` parsed as ISO 8601 (extended format); ``ValueError`` if it is not."""
    if not ISO_TIMESTAMP.fullmatch(value):
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}")
    return datetime.fromisoformat(value)


def parse_timestamp(value: Any) -> datetime:
    """Return the naive datetime used to order states (aware times are converted to UTC).

    Raises
    ------
    StateValidationError
        If ``value`` is not an ISO 8601 string or a datetime.
    """
    if isinstance(value, str):
        try:
            dt = iso_datetime(value)
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
