"""A run's ``parameters``: the model's settings and overrides of the initial state.

The manual's ``_apply_parameters(current_state, parameters)`` (section 5.2) changes the
state a run starts from; the package's parameters are the process model's settings
(:data:`~circman_kernel.simulation.process.PARAMETERS`). A run takes both in one mapping:
:func:`split_parameters` tells them apart; the overrides are applied by
:func:`~circman_kernel.core.state_merge.merge_state`, the path resolution twin updates use.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from circman_kernel.core.errors import ParameterError
from circman_kernel.core.state_schema import SCHEMA
from circman_kernel.simulation import process as pm

__all__ = ["split_parameters"]


def split_parameters(
    parameters: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(model parameters, state overrides)`` of a run's ``parameters``.

    A model parameter (:data:`~circman_kernel.simulation.process.PARAMETERS`) or
    ``status`` is a setting; a nested mapping, a dotted path or a top-level state field
    (``"production_line"``, ``"production_line.temperature"``, ``"batch_id"``) overrides
    the initial state. Anything else raises :class:`ParameterError` with a did-you-mean.

    >>> split_parameters({"cycle_time": 25.0, "production_line.temperature": 25.5})
    ({'cycle_time': 25.0}, {'production_line.temperature': 25.5})
    """
    model: dict[str, Any] = {}
    overrides: dict[str, Any] = {}
    for name, value in (parameters or {}).items():
        if name in pm.PARAMETERS or name == "status":
            model[name] = value
        elif isinstance(name, str) and (name in SCHEMA or "." in name):
            overrides[name] = value
        else:
            valid = (*pm.PARAMETERS, "status", *SCHEMA)
            hint = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.6)
            raise ParameterError(
                f"unknown parameter {name!r}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + f"; valid names: {', '.join(sorted(pm.PARAMETERS))}, status, or a state "
                "path such as 'production_line.temperature'",
                name=str(name),
                value=value,
            )
    return model, overrides


def _flat_overrides(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the state overrides of ``parameters`` as dotted paths (as a run stores them)."""
    _, overrides = split_parameters(parameters)
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and value:
            for k, v in value.items():
                walk(f"{prefix}.{k}", v)
        else:
            out[prefix] = value

    for name, value in overrides.items():
        walk(name, value)
    return out
