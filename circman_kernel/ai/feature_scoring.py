"""Feature scoring: how much each input drives each outcome, on any sample (extra-trees).

:func:`feature_scores` fits one extremely randomised trees ensemble (scikit-learn's
``ExtraTreesRegressor``, or the classifier for a boolean outcome) per KPI on the inputs and
reports its impurity-based importances, normalised to sum to 1 per KPI. Unlike the SALib
indices of :func:`~circman_kernel.simulation.sensitivity.analyse`, it needs no sampling
design: a Latin hypercube, crossed scenario x policy experiments, plain Monte Carlo runs
(:func:`monte_carlo_sample`) or recorded data all work, and categorical inputs (text,
boolean or ``category`` columns, e.g. ``grid_region``) enter through their category codes,
which trees split on like any number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.ai.discovery_data import input_codes, input_frame
from circman_kernel.core.errors import ParameterError

__all__ = ["feature_scores", "monte_carlo_sample"]


def feature_scores(
    experiments: pd.DataFrame,
    outcomes: Mapping[str, Any],
    kpis: Sequence[str] | None = None,
    *,
    inputs: Sequence[str] | None = None,
    n_estimators: int = 200,
    max_features: float = 0.6,
    min_samples_leaf: int = 2,
    seed: int = 0,
) -> pd.DataFrame:
    """Return the extra-trees importance of every input for every KPI [-, sums to 1 per KPI].

    Parameters
    ----------
    experiments : DataFrame
        The inputs, one row per run (``policy``/``scenario`` id columns are skipped).
    outcomes : mapping
        KPI -> array aligned on the rows. A boolean array (e.g. cases of interest from
        :func:`~circman_kernel.ai.discovery.cases_of_interest`) is scored by a classifier.
    kpis : sequence of str, optional
        Which outcomes to score (default: all with a finite spread).
    n_estimators, max_features, min_samples_leaf, seed
        The ensemble's settings (``max_features`` as a share of the inputs).

    Returns
    -------
    DataFrame
        Index the inputs, one column per KPI, sorted by the first KPI's score (highest
        first); ``frame.rank(ascending=False)`` gives the ranks (1 = most influential).
    """
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

    x = input_codes(input_frame(experiments, inputs))
    chosen = list(outcomes) if kpis is None else list(kpis)
    unknown = [k for k in chosen if k not in outcomes]
    if unknown:
        raise ParameterError(
            f"unknown outcome(s) {unknown}; known: {', '.join(outcomes)}", name="kpis"
        )
    scores: dict[str, np.ndarray] = {}
    for k in chosen:
        y = np.asarray(outcomes[k])
        if y.shape != (len(x),):
            raise ParameterError(f"outcome {k!r} is not aligned on the {len(x)} rows", name=k)
        keep = np.ones(len(y), bool) if y.dtype == bool else np.isfinite(y.astype(float))
        if keep.sum() < 2 * min_samples_leaf or len(np.unique(y[keep])) < 2:
            if kpis is not None:
                raise ParameterError(f"outcome {k!r} does not vary over the sample", name=k)
            continue
        cls = ExtraTreesClassifier if y.dtype == bool else ExtraTreesRegressor
        model = cls(n_estimators=n_estimators, max_features=max_features,
                    min_samples_leaf=min_samples_leaf, random_state=seed, n_jobs=1)  # fmt: skip
        model.fit(x.to_numpy()[keep], y[keep])
        scores[k] = model.feature_importances_
    if not scores:
        raise ParameterError("no outcome varies over the sample", name="kpis")
    frame = pd.DataFrame(scores, index=pd.Index(x.columns, name="input"))
    return frame.sort_values(frame.columns[0], ascending=False)


def monte_carlo_sample(
    uncertainties: Sequence[Any],
    n: int,
    *,
    config: Any = None,
    steps: int = 200,
    seed: Any = 0,
    initial_state: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Return ``n`` plain Monte Carlo runs of the configured line: (inputs drawn, KPIs).

    Each run draws every uncertainty independently (no stratification) and its own process
    noise, the sample a Monte Carlo study of the line produces.
    """
    from circman_kernel.simulation.chunks import as_seed_sequence
    from circman_kernel.simulation.experiments import run_ensemble
    from circman_kernel.simulation.levers import sample_scenarios

    s_in, s_noise = as_seed_sequence(seed).spawn(2)
    scenarios = sample_scenarios(uncertainties, n, seed=s_in, method="monte_carlo")
    kpis = run_ensemble(pd.DataFrame(index=pd.RangeIndex(1)), scenarios, config=config,
                        steps=steps, seed=s_noise, initial_state=initial_state)  # fmt: skip
    return scenarios.reset_index(drop=True), {k: v[0] for k, v in kpis.items()}
