"""What scenario discovery reads: the cases of interest and the inputs, in PRIM's dtypes.

:func:`cases_of_interest` turns a condition (``"defect_rate > 0.06"``, ``"defect_rate >
p90"``, a callable or a boolean array) into one boolean per experiment; :func:`input_frame`
picks the input columns (every column but the experiment ids) with the dtypes PRIM
expects, and :func:`input_codes` gives them to tree models as numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.core.errors import ParameterError

__all__ = ["ID_COLUMNS", "Condition", "cases_of_interest", "input_codes", "input_frame"]

#: Columns that identify an experiment rather than describe an input.
ID_COLUMNS = ("policy", "scenario", "experiment", "model")
_CONDITION = re.compile(
    r"^\s*([A-Za-z_]\w*)\s*(>=|<=|>|<)\s*(p\d+(?:\.\d+)?|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)
_OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    ">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal,
}  # fmt: skip

Condition = str | Callable[[pd.DataFrame, Mapping[str, np.ndarray]], Any] | np.ndarray


def cases_of_interest(
    experiments: pd.DataFrame, outcomes: Mapping[str, np.ndarray], condition: Condition
) -> tuple[np.ndarray, str]:
    """Return (boolean array of the cases of interest, the condition as text).

    ``condition`` is ``"<outcome> <op> <value>"`` with ``op`` one of ``> >= < <=`` and
    ``value`` a number or ``pNN``, the NN-th percentile of that outcome; or a callable
    ``f(experiments, outcomes) -> bool array``; or a boolean array. NaN outcomes (e.g. a
    defect rate without output) are never of interest.
    """
    n = len(experiments)
    if isinstance(condition, str):
        m = _CONDITION.match(condition)
        if m is None:
            raise ParameterError(
                f"condition {condition!r}: write '<outcome> <op> <number or pNN>', "
                "e.g. 'defect_rate > 0.06' or 'defect_rate > p90'",
                name="condition",
            )
        kpi, op, value = m.groups()
        if kpi not in outcomes:
            raise ParameterError(
                f"unknown outcome {kpi!r}; known: {', '.join(outcomes)}", name="condition"
            )
        y = np.asarray(outcomes[kpi], dtype=float)
        if value.startswith("p"):
            q = float(value[1:])
            if not 0.0 <= q <= 100.0:
                raise ParameterError(f"percentile {value} must lie in p0..p100", name="condition")
            finite = y[np.isfinite(y)]
            if finite.size == 0:
                raise ParameterError(f"outcome {kpi!r} has no finite value", name="condition")
            level = float(np.percentile(finite, q))
            text = f"{kpi} {op} {level:.6g} ({value} of {kpi})"
        else:
            level, text = float(value), f"{kpi} {op} {value}"
        with np.errstate(invalid="ignore"):
            mask = _OPS[op](y, level) & np.isfinite(y)
    elif callable(condition):
        mask = np.asarray(condition(experiments, outcomes))
        text = getattr(condition, "__name__", "callable")
    else:
        mask, text = np.asarray(condition), "given cases"
    if mask.shape != (n,) or mask.dtype != bool:
        raise ParameterError(
            f"the condition must give {n} booleans, one per experiment, got {mask.dtype} {mask.shape}",
            name="condition",
        )
    return mask, text


def input_frame(experiments: pd.DataFrame, inputs: Any = None) -> pd.DataFrame:
    """Return the input columns (all but :data:`ID_COLUMNS` unless named) as PRIM reads them.

    Text and boolean columns become categorical, integers int64, other numbers float64.
    """
    names = (
        [c for c in experiments.columns if c not in ID_COLUMNS] if inputs is None else list(inputs)
    )
    missing = [c for c in names if c not in experiments.columns]
    if missing or not names:
        raise ParameterError(
            f"inputs {missing or names} are not columns of the experiments", name="inputs"
        )
    x = experiments[names].reset_index(drop=True).copy()
    for c in names:
        col = x[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            continue
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            x[c] = col.astype("str").astype("category")
        elif pd.api.types.is_integer_dtype(col):
            x[c] = col.astype(np.int64)  # EMA's paste step fails on int32 columns
        else:
            x[c] = col.astype(np.float64)  # PRIM skips float32 columns
    return x


def input_codes(x: pd.DataFrame) -> pd.DataFrame:
    """Return :func:`input_frame` output as floats, categories by their codes (for trees)."""
    return x.apply(
        lambda c: (
            c.cat.codes.astype(float)
            if isinstance(c.dtype, pd.CategoricalDtype)
            else c.astype(float)
        )
    )
