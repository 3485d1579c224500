"""The field types every configuration section is built from, and their value checks.

Holds the constrained numbers (``NonNegative``, ``NonPositive``, ``Fraction``), ``Bounds``
(an ordered ``[lower, upper]`` pair), ``FrozenMap`` (a read-only mapping field),
``ThresholdMap`` (threshold bands keyed by the twin state's numeric paths, checked against
:data:`~circman_kernel.core.state_schema.SCHEMA`) and ``_Section``, the strict, frozen base of
every section. The sections themselves are in :mod:`circman_kernel.core.config_schema`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
)
from pydantic_core import PydanticCustomError

from circman_kernel.core.state_schema import _NUM as _STATE_NUMBER
from circman_kernel.core.state_schema import SCHEMA as STATE_SCHEMA

__all__ = [
    "DOTTED_PATH_PATTERN",
    "Bounds",
    "DottedPath",
    "MAX_MAP_KEYS",
    "FewKeys",
    "Fraction",
    "FrozenMap",
    "NonNegative",
    "NonPositive",
    "ThresholdMap",
]


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _ordered_bounds(bounds: tuple[float, float]) -> tuple[float, float]:
    lower, upper = bounds
    if lower > upper:
        raise ValueError(f"lower bound {lower} > upper bound {upper}")
    return bounds


def _frozen_mapping(value: dict) -> Mapping:
    return MappingProxyType(dict(value))


_as_dict = PlainSerializer(lambda m: dict(m), when_used="always")

Bounds = Annotated[tuple[float, float], BeforeValidator(_as_tuple), AfterValidator(_ordered_bounds)]
NonNegative = Annotated[float, Field(ge=0.0)]
NonPositive = Annotated[float, Field(le=0.0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
DOTTED_PATH_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
DottedPath = Annotated[str, Field(pattern=DOTTED_PATH_PATTERN)]


#: most keys a mapping section may hold (impact factors, thresholds, weights, ...); a
#: section is a handful of named entries, so more is a mistake, refused before any work
MAX_MAP_KEYS = 1_000


def _few_keys(value: Any) -> Any:
    # before item validation, so that a 2.5-million-key section costs a len() only
    if isinstance(value, Mapping) and len(value) > MAX_MAP_KEYS:
        raise PydanticCustomError(
            "too_many_keys",
            "has {n} keys; at most {limit} (a section names a handful of entries)",
            {"n": len(value), "limit": MAX_MAP_KEYS},
        )
    return value


FewKeys = BeforeValidator(_few_keys)


def FrozenMap(key: Any, value: Any) -> Any:
    """A read-only mapping field of at most :data:`MAX_MAP_KEYS` keys, stored as a proxy."""
    return Annotated[dict[key, value], FewKeys, AfterValidator(_frozen_mapping), _as_dict]


def _unknown_map_key(key: str, known: list[str]) -> PydanticCustomError:
    # _format_errors turns this into "<file>: <section>.<key>: unknown key ...; did you mean"
    return PydanticCustomError(
        "unknown_map_key", "unknown key {key}", {"key": key, "known": tuple(known)}
    )


def _threshold_paths(key: str) -> list[str]:
    """Return every numeric field of the twin state as a dotted path.

    ``"*"`` levels (the materials) take the name ``key`` gives at that level, so
    ``materials.glass.inventory`` is valid and a typo is matched against its own material.
    """
    given = key.split(".")
    out: list[str] = []

    def walk(node: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
        for name, child in node.items():
            if name == "*":
                depth = len(prefix)
                name = given[depth] if depth < len(given) - 1 else "<name>"
            path = (*prefix, name)
            if isinstance(child, Mapping):
                walk(child, path)
            elif child[0] == _STATE_NUMBER:
                out.append(".".join(path))

    walk(STATE_SCHEMA, ())
    return out


def _known_threshold_paths(value: dict[str, Any]) -> dict[str, Any]:
    # A threshold on a path the twin state does not have would never be checked.
    for key in value:
        known = _threshold_paths(key)
        if key not in known:
            raise _unknown_map_key(key, known)
    return value


ThresholdMap = Annotated[
    dict[DottedPath, Bounds],
    FewKeys,
    AfterValidator(_known_threshold_paths),
    AfterValidator(_frozen_mapping),
    _as_dict,
]


class _Section(BaseModel):
    """Base of every config section: strict types, frozen, unknown keys rejected."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid", allow_inf_nan=False)
