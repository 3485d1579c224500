"""Checking an optimisation problem before any work and building it in solver terms.

:func:`build_problem` turns a call's parameters and constraints into a
:class:`~circman_kernel.ai.problem._Problem` or raises before any solver work. A
constraint key naming a model input is a bound; a key naming an outcome (``energy_used``,
``defect_rate``, ...) is an inequality :math:`lo \\le \\hat y(\\theta) \\le hi`, or an
equality when given as one number (:func:`parse_constraint`). Bounds merge, in increasing
priority: ``AI_INTEGRATION.OPTIMIZATION_CONSTRAINTS``, ``optimization.json``
``DEFAULT_CONSTRAINTS`` and the call's ``constraints``; :func:`quality_floor` and
:func:`energy_cap` are the outcome constraints the manual's single objectives add.
:func:`split_current` takes the manual's parameter sets as they are: what the model
cannot move is held and reported (``OptimizationResult.held``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from circman_kernel.ai.model_parts import _unknown_message
from circman_kernel.ai.problem import _Problem
from circman_kernel.core.config import _unknown_key_message
from circman_kernel.core.config_schema import PARAMETER_NAMES
from circman_kernel.core.errors import ConfigError, OptimizationError, ParameterError

__all__ = ["build_problem", "energy_cap", "parse_constraint", "quality_floor", "split_current"]

_OBJECTIVES = {"weighted": None, "efficiency": "efficiency", "quality": "defect_rate"}


def parse_constraint(name: str, value: Any) -> tuple[float, float]:
    """Return ``(lo, hi)`` from a constraint value; one number means ``lo == hi``.

    Accepts a number, a ``(lo, hi)`` pair (``None`` for an open side) or a mapping with
    ``min``/``max``. NaN, a non-number or ``lo > hi`` raise :class:`ParameterError`.

    >>> parse_constraint("cycle_time", (20, None))
    (20.0, inf)
    """
    if isinstance(value, Mapping):
        unknown = set(value) - {"min", "max"}
        if unknown:
            raise ParameterError(
                f"constraint {name!r}: keys must be 'min'/'max', got {sorted(unknown)}",
                name=name,
                value=value,
            )
        value = (value.get("min"), value.get("max"))
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        v = _number(name, value, None)
        return (v, v)
    if isinstance(value, list | tuple | np.ndarray) and len(value) == 2:
        lo = _number(name, value[0], -math.inf)
        hi = _number(name, value[1], math.inf)
        if lo > hi:
            raise ParameterError(
                f"constraint {name!r}: min {lo} > max {hi}; give (min, max) with min <= max",
                name=name,
                value=tuple(value),
            )
        return (lo, hi)
    raise ParameterError(
        f"constraint {name!r} must be a number (equality), a (min, max) pair "
        f"or {{'min': .., 'max': ..}}, got {value!r}",
        name=name,
        value=value,
    )


def _number(name: str, value: Any, open_side: float | None) -> float:
    if value is None and open_side is not None:
        return open_side
    if isinstance(value, bool):
        raise ParameterError(f"{name}: expected a number, got {value!r}", name=name, value=value)
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{name}: expected a number, got {value!r}", name=name, value=value
        ) from None
    if math.isnan(out) or (open_side is None and math.isinf(out)):
        raise ParameterError(
            f"{name}: value must be a finite number, got {value!r}", name=name, value=value
        )
    return out


def _params(
    kind: str, values: Any, features: tuple[str, ...], targets: tuple[str, ...]
) -> dict[str, float]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ParameterError(
            f"{kind} must be a dict of parameter -> value, got {type(values).__name__}", name=kind
        )
    out = {}
    for name, value in values.items():
        if name not in features:
            if name in targets:
                raise ParameterError(
                    f"{kind}: {name!r} is an outcome the model predicts, not an input; "
                    f"constrain it instead, e.g. constraints={{{name!r}: (min, max)}}",
                    name=name,
                    value=value,
                )
            raise ParameterError(
                f"{kind}: " + _unknown_message(name, features), name=name, value=value
            )
        out[name] = _number(name, value, None)
    return out


def split_current(
    values: Any, features: tuple[str, ...], targets: tuple[str, ...]
) -> tuple[dict[str, float], dict[str, float]]:
    """Return ``(to optimise, held)`` of a call's ``current_params``.

    The model's inputs are optimised. Names the model cannot move but the manual uses
    (its outcomes such as ``efficiency``, its ``DEFAULT_PARAMETERS`` such as
    ``input_amount``; see :data:`~circman_kernel.core.config_schema.PARAMETER_NAMES`)
    are held at the value given; any other name is a typo (did-you-mean).
    """
    if values is None:
        return {}, {}
    if not isinstance(values, Mapping):
        raise ParameterError(
            f"current_params must be a dict of parameter -> value, got {type(values).__name__}",
            name="current_params",
        )
    move: dict[str, float] = {}
    held: dict[str, float] = {}
    for name, value in values.items():
        if name in features:
            move[name] = _number(name, value, None)
        elif name in targets or name in PARAMETER_NAMES:
            held[name] = _number(name, value, None)
        else:
            raise ParameterError(
                "current_params: " + _unknown_message(name, features), name=name, value=value
            )
    if held and not move:
        outcomes = [n for n in held if n in targets]
        why = (
            f"{outcomes[0]!r} is an outcome the model predicts, not an input"
            if outcomes
            else f"{sorted(held)} are not inputs of this model"
        )
        raise ParameterError(
            f"current_params: nothing to optimise: {why}; name at least one of the model's "
            f"inputs ({', '.join(features)})",
            name="current_params",
        )
    return move, held


def build_problem(
    opt: Any,
    objective: str,
    current_params: Any,
    constraints: Any,
    fixed: Any,
    extra: Any,
) -> _Problem:
    """Validate inputs and return a ``_Problem``; raise before any solver work.

    ``opt`` is the :class:`~circman_kernel.ai.optimize.ProcessOptimizer` asking: its
    trained ``model`` and configuration define the names, ranges and constraints.
    """
    if objective not in _OBJECTIVES:
        raise ParameterError(
            f"unknown objective {objective!r}; use {', '.join(_OBJECTIVES)}",
            name="objective",
            value=objective,
        )
    model = opt.model
    features, targets = model.feature_names_, model.target_names_
    cfg = opt._cfg()
    needed = _OBJECTIVES[objective]
    weights = dict(cfg.optimization.OBJECTIVE_WEIGHTS) if objective == "weighted" else {}
    for name in [needed] if needed else list(weights):
        if name not in targets:
            raise ParameterError(
                f"objective {objective!r} needs the outcome {name!r}, which "
                f"the model does not predict (it predicts {', '.join(targets)})",
                name=name,
            )
    params, held_names = split_current(current_params, features, targets)
    if not params:
        raise ParameterError(
            "current_params is empty: name the parameters to optimise with their current values",
            name="current_params",
        )
    held = _params("fixed", fixed, features, targets)
    both = set(params) & set(held)
    if both:
        raise ParameterError(f"{sorted(both)} given both to optimise and as fixed", name="fixed")

    merged: dict[str, tuple[float, float]] = {}
    configured = {
        **cfg.digital_twin.AI_INTEGRATION.OPTIMIZATION_CONSTRAINTS,
        **cfg.optimization.DEFAULT_CONSTRAINTS,
    }
    for name, value in configured.items():
        if name in features or name in targets:
            merged[name] = parse_constraint(name, value)
        elif name not in PARAMETER_NAMES:
            # load_config rejects such keys; a config built without validation
            # (model_construct) must not lose a constraint silently either
            raise ConfigError(
                _unknown_key_message(
                    cfg.source, "constraints", name, dict.fromkeys(sorted(PARAMETER_NAMES))
                ),
                file=cfg.source,
                key=name,
                value=value,
            )
        # else: a known parameter this model does not use (e.g. input_amount); it does not apply
    if constraints is not None and not isinstance(constraints, Mapping):
        raise ParameterError(
            "constraints must be a dict of name -> (min, max) or value", name="constraints"
        )
    for name, value in (constraints or {}).items():
        if name not in features and name not in targets:
            raise ParameterError(
                "constraints: " + _unknown_message(name, (*features, *targets)),
                name=name,
                value=value,
            )
        merged[name] = parse_constraint(name, value)

    outcome: dict[str, tuple[float, float]] = {k: v for k, v in merged.items() if k in targets}
    for name, (lo, hi) in (extra or {}).items():
        if name not in targets:
            raise ParameterError(f"the model does not predict {name!r}", name=name)
        old_lo, old_hi = outcome.get(name, (-math.inf, math.inf))
        new = (max(lo, old_lo), min(hi, old_hi))
        if new[0] > new[1]:
            raise ParameterError(
                f"constraint on {name!r} is empty: this call requires [{lo}, {hi}] and the "
                f"other constraints [{old_lo}, {old_hi}]",
                name=name,
                value=(lo, hi),
            )
        outcome[name] = new

    defaults = {f: model.feature_defaults_[f] for f in features if f not in params}
    fixed_all = {**defaults, **held}
    for name, value in fixed_all.items():
        if name in merged and not merged[name][0] <= value <= merged[name][1]:
            raise OptimizationError(
                f"{name} is held at {value:g} (not optimised), outside its constraint "
                f"{merged[name]}; optimise it (put it in current_params) or relax the constraint"
            )
    lower, upper = [], []
    for name in params:
        t_lo, t_hi = model.feature_ranges_[name]
        lo, hi = merged.get(name, (-math.inf, math.inf))
        lo = lo if math.isfinite(lo) else min(t_lo, hi)
        hi = hi if math.isfinite(hi) else max(t_hi, lo)
        lower.append(lo)
        upper.append(hi)
    return _Problem(
        objective=objective,
        variables=tuple(params),
        lower=np.array(lower),
        upper=np.array(upper),
        start=np.array(list(params.values())),
        fixed=fixed_all,
        outcome_bounds=outcome,
        weights=weights,
        constraints={k: list(v) for k, v in merged.items()},
        held=held_names,
    )


def _finite(name: str, value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{name} must be a number, got {value!r}", name=name, value=value
        ) from None
    if not math.isfinite(out):
        raise ParameterError(
            f"{name} must be a finite number, got {value!r}", name=name, value=value
        )
    return out


def quality_floor(min_quality: Any) -> dict[str, tuple[float, float]]:
    """Return the outcome constraint quality = 1 - defect_rate >= ``min_quality``.

    >>> quality_floor(0.9)
    {'defect_rate': (-inf, 0.09999999999999998)}
    """
    q = _finite("min_quality", min_quality)
    if not 0.0 <= q <= 1.0:
        raise ParameterError(
            f"min_quality must lie in [0, 1], got {q}", name="min_quality", value=min_quality
        )
    return {"defect_rate": (-math.inf, 1.0 - q)}


def energy_cap(max_energy: Any) -> dict[str, tuple[float, float]]:
    """Return the outcome constraint energy_used <= ``max_energy`` [kW] (none for ``None``)."""
    if max_energy is None:
        return {}
    return {"energy_used": (-math.inf, _finite("max_energy", max_energy))}


def _checked_extra(extra: Any) -> dict[str, tuple[float, float]]:
    """Return the call's extra outcome constraints as ``(lo, hi)``; NaN, lo > hi raise."""
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise ParameterError(
            f"extra must be a dict of outcome -> (min, max), got {type(extra).__name__}",
            name="extra",
        )
    return {name: parse_constraint(name, value) for name, value in extra.items()}
