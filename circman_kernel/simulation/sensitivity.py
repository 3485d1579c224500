"""Global sensitivity analysis of a sweep's outcomes (SALib).

:func:`analyse` ranks the swept parameters by their influence on one outcome of
:func:`~circman_kernel.simulation.sweeps.evaluate`: Sobol indices for a Saltelli design,
RBD-FAST (with the PAWN median as a check) for any other sample, or Borgonovo's delta.
SALib is imported only when an analysis runs.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from circman_kernel.core.errors import ParameterError

__all__ = ["analyse"]

# The logger keeps the name it had when the analysis lived with the scenarios, so that
# logging configured for "circman.scenarios" still sees SALib's notes.
log = logging.getLogger("circman.scenarios")


def analyse(
    experiments: pd.DataFrame,
    outcomes: Mapping[str, np.ndarray],
    kpi: str = "output_modules",
    *,
    method: str | None = None,
    seed: int = 0,
    num_resamples: int = 10,
) -> pd.DataFrame:
    """Return a global sensitivity ranking of the swept parameters on ``kpi`` (SALib).

    ``method`` defaults to ``"sobol"`` for a ``"saltelli"`` design (first-order ``S1``
    and total ``ST`` Sobol indices, ranked by ``ST``) and to ``"rbd_fast"`` for any other
    sample, e.g. LHS (first-order ``S1`` by RBD-FAST, ranked by it, plus the PAWN median
    as a moment-free check). ``"delta"`` (Borgonovo, ``num_resamples`` bootstrap rounds)
    is slower. Rows sorted by importance, with a ``rank`` column (1 = most influential).
    """
    if kpi not in outcomes:
        raise ParameterError(f"unknown outcome {kpi!r}; known: {', '.join(outcomes)}", name="kpi")
    y = np.asarray(outcomes[kpi], dtype=float)
    if y.shape[0] != len(experiments):
        raise ParameterError("outcomes are not aligned on the experiments", name="outcomes")
    if not np.isfinite(y).all():
        raise ParameterError(f"outcome {kpi!r} has NaN/inf values; pick another KPI", name="kpi")
    space = experiments.attrs.get("space") or {
        c: (float(experiments[c].min()), float(experiments[c].max())) for c in experiments.columns
    }
    names = list(experiments.columns)
    problem = {"num_vars": len(names), "names": names, "bounds": [list(space[c]) for c in names]}
    method = method or ("sobol" if experiments.attrs.get("method") == "saltelli" else "rbd_fast")
    if method == "sobol":
        from SALib.analyze import sobol

        res = sobol.analyze(problem, y, calc_second_order=False, seed=seed)
        frame = pd.DataFrame({"S1": res["S1"], "S1_conf": res["S1_conf"], "ST": res["ST"],
                              "ST_conf": res["ST_conf"]}, index=pd.Index(names, name="parameter"))  # fmt: skip
        key = "ST"
    elif method == "rbd_fast":
        from SALib.analyze import pawn, rbd_fast

        x = experiments.to_numpy(dtype=float)
        res = rbd_fast.analyze(problem, x, y, seed=seed)
        frame = pd.DataFrame(
            {"S1": res["S1"], "S1_conf": res["S1_conf"],
             "pawn_median": pawn.analyze(problem, x, y, seed=seed)["median"]},
            index=pd.Index(names, name="parameter"),
        )  # fmt: skip
        key = "S1"
    elif method == "delta":
        from SALib.analyze import delta

        chatter = io.StringIO()  # SALib prints its binning notes
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            res = delta.analyze(
                problem,
                experiments.to_numpy(dtype=float),
                y,
                num_resamples=num_resamples,
                seed=seed,
            )
        for line in chatter.getvalue().splitlines():
            log.info("SALib delta: %s", line)
        d = "delta" if "delta" in res else "delta_raw"  # SALib >= 1.5 splits raw/balanced
        frame = pd.DataFrame(
            {
                "delta": res[d],
                "delta_conf": res[f"{d}_conf"],
                "S1": res["S1"],
                "S1_conf": res["S1_conf"],
            },
            index=pd.Index(names, name="parameter"),
        )
        key = "S1"
    else:
        raise ParameterError(
            f"method must be sobol, rbd_fast or delta, got {method!r}", name="method", value=method
        )
    frame = frame.sort_values(key, ascending=False)
    frame["rank"] = np.arange(1, len(frame) + 1)
    frame.attrs.update(kpi=kpi, method=method)
    return frame
