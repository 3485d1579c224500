"""PostgreSQL's binary ``COPY`` format for trajectories, built and parsed with numpy.

A 10^6-row trajectory goes to the server as one ``COPY ... FROM STDIN (FORMAT binary)``
and comes back as one ``COPY (SELECT ...) TO STDOUT (FORMAT binary)``, without a Python
object per row. Every row of a binary COPY is a field count and, per field, a length
and the big-endian value, so rows whose variable name has the same length have the same
layout: rows are written grouped by variable (and by NULL value), each group as one numpy
structured array, and the ``seq`` column keeps their order in the caller's frame.
Reading fetches each column as one binary array (the variable as its index in the run's
sorted names): one row of a few large values, which numpy parses with ``frombuffer``
(a ``COPY TO`` would hand Python one message per row).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np
import pandas as pd

from circman_kernel.core.errors import ParameterError

__all__ = ["COPY_IN_COLUMNS", "decode_trajectory_arrays", "encode_trajectories"]

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)
#: column order of :func:`encode_trajectories`' rows
COPY_IN_COLUMNS = ("run_id", "iteration", "step", "variable", "value", "seq")
_CHUNK_ROWS = 131_072


def _int32(values: np.ndarray, column: str) -> np.ndarray:
    if values.size and (values.min() < -(2**31) or values.max() >= 2**31):
        raise ParameterError(
            f"trajectories.{column} must fit 32-bit integers (|value| < 2**31)", name=column
        )
    return values.astype(">i4", copy=False)


def _layout(run_bytes: int, var_bytes: int, null: bool) -> np.dtype:
    fields: list[tuple[str, str]] = [("n", ">i2"), ("l_run", ">i4")]
    if run_bytes:
        fields.append(("run", f"S{run_bytes}"))
    fields += [("l_it", ">i4"), ("it", ">i4"), ("l_st", ">i4"), ("st", ">i4"), ("l_var", ">i4")]
    if var_bytes:
        fields.append(("var", f"S{var_bytes}"))
    fields.append(("l_val", ">i4"))
    if not null:
        fields.append(("val", ">f8"))
    fields += [("l_seq", ">i4"), ("seq", ">i4")]
    return np.dtype(fields)


def encode_trajectories(run_id: str, traj: pd.DataFrame) -> Iterator[bytes]:
    """Yield the binary COPY stream of ``traj`` (iteration, step, variable, value[, seq]).

    NaN values go in as NULL, as DuckDB stores a frame's NaN.
    """
    n = len(traj)
    it = _int32(np.asarray(traj["iteration"], dtype=np.int64), "iteration")
    st = _int32(np.asarray(traj["step"], dtype=np.int64), "step")
    seq = (
        _int32(np.asarray(traj["seq"], dtype=np.int64), "seq")
        if "seq" in traj
        else np.arange(n, dtype=">i4")
    )
    value = np.asarray(traj["value"], dtype=np.float64)
    variable = traj["variable"]
    if isinstance(variable.dtype, pd.CategoricalDtype):
        codes = variable.cat.codes.to_numpy()
        names = [str(c) for c in variable.cat.categories]
        if (codes < 0).any():
            raise ParameterError("trajectories.variable has missing names", name="variable")
    else:
        codes, uniques = pd.factorize(variable, use_na_sentinel=True)
        if (codes < 0).any():
            raise ParameterError("trajectories.variable has missing names", name="variable")
        names = [str(u) for u in uniques]
    rid = run_id.encode("utf-8")
    null = np.isnan(value)
    yield HEADER
    for code, name in enumerate(names):
        vb = name.encode("utf-8")
        if b"\x00" in vb:
            raise ParameterError(
                "trajectory variable names cannot hold NUL characters", name="variable"
            )
        of_code = codes == code
        for is_null in (False, True):
            idx = np.flatnonzero(of_code & (null == is_null))
            for lo in range(0, idx.size, _CHUNK_ROWS):
                part = idx[lo : lo + _CHUNK_ROWS]
                rows = np.empty(part.size, dtype=_layout(len(rid), len(vb), is_null))
                rows["n"] = len(COPY_IN_COLUMNS)
                rows["l_run"] = len(rid)
                if rid:
                    rows["run"] = rid
                rows["l_it"], rows["it"] = 4, it[part]
                rows["l_st"], rows["st"] = 4, st[part]
                rows["l_var"] = len(vb)
                if vb:
                    rows["var"] = vb
                if is_null:
                    rows["l_val"] = -1
                else:
                    rows["l_val"], rows["val"] = 8, value[part]
                rows["l_seq"], rows["seq"] = 4, seq[part]
                yield rows.tobytes()
    yield TRAILER


def _array(data: bytes | None, value: str) -> np.ndarray:
    """Values of a PostgreSQL binary 1-D array without NULLs (``>i4`` or ``>f8`` elements)."""
    if data is None:
        return np.empty(0, dtype=value)
    ndim, _, _ = struct.unpack_from("!iii", data, 0)
    if ndim == 0:
        return np.empty(0, dtype=value)
    if ndim != 1:
        raise ValueError(f"expected a 1-D array, got {ndim} dimensions")
    n, _ = struct.unpack_from("!ii", data, 12)
    items = np.frombuffer(data, dtype=np.dtype([("n", ">i4"), ("v", value)]), count=n, offset=20)
    if (items["n"] != np.dtype(value).itemsize).any():
        raise ValueError("array holds NULL or mis-sized elements")
    return items["v"]


def decode_trajectory_arrays(
    names: list[str], seq: bytes, iteration: bytes, step: bytes, code: bytes, value: bytes
) -> pd.DataFrame:
    """The frame of a run's trajectory columns fetched as binary arrays, in ``seq`` order."""
    order_key = _array(seq, ">i4")
    cols = {
        "iteration": _array(iteration, ">i4"),
        "step": _array(step, ">i4"),
        "code": _array(code, ">i4"),
        "value": _array(value, ">f8"),
    }
    sorted_already = order_key.size < 2 or bool(np.all(order_key[1:] > order_key[:-1]))
    order = None if sorted_already else np.argsort(order_key, kind="stable")

    def column(name: str, dtype: str) -> np.ndarray:
        col = cols[name] if order is None else cols[name][order]
        return col.astype(dtype)

    return pd.DataFrame(
        {
            "iteration": column("iteration", "int32"),
            "step": column("step", "int32"),
            "variable": pd.Categorical.from_codes(
                column("code", "int32"), categories=pd.Index(names, dtype="str")
            ),
            "value": column("value", "float64"),
        }
    )
