"""Surrogate model of the PV line: process parameters in, batch outcomes out.

:class:`ManufacturingModel` follows scikit-learn's conventions: ``__init__`` only stores
its settings, :meth:`~ManufacturingModel.train_optimization_model` fits and sets the
attributes that end in ``_``. The outcomes it predicts are the line's own variables,
averaged over a batch, in the units of the twin's state so that a value read from the
twin and a prediction can be compared directly:

==================  ==============  =================================================
target              unit            twin state variable (``PARAMETER_MAPPING``)
==================  ==============  =================================================
``output_amount``   [modules/h]     ``production_line.production_rate``
``energy_used``     [kW]            ``production_line.energy_consumption``
``efficiency``      [0..1]          ``production_line.efficiency``
``defect_rate``     [0..1]          ``production_line.defect_rate``
==================  ==============  =================================================

The default estimator is a cubic polynomial ridge regression on standardised inputs: it
trains on thousands of samples in milliseconds, and it is smooth, so gradient-based
optimisers see true slopes (tree ensembles are piecewise constant).

Saving, loading and the cached default model come from the base class
:class:`~circman_kernel.ai.model_files.ModelFileMixin`: model files start with a plain
header (magic line + JSON) that is checked before the pickled payload is ever read, so a
foreign or incompatible file is refused unopened.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.ai.model_files import ModelFileMixin
from circman_kernel.ai.model_parts import (
    _GP_MAX_SAMPLES,
    _ID_COLUMNS,
    _TARGET_LIMITS,
    ESTIMATORS,
    MODEL_FORMAT_VERSION,
    TARGET_UNITS,
    TARGETS,
    PolynomialRidge,
    _as_2d,
    _as_frame,
    _finite_column,
    _join,
    _make_estimator,
    _numeric_block,
    _pick_features,
    _pick_targets,
    _unknown_message,
    model_cache_dir,
    read_model_file,
    write_model_file,
)
from circman_kernel.core.errors import ModelError, ParameterError

__all__ = [
    "ESTIMATORS",
    "MODEL_FORMAT_VERSION",
    "TARGETS",
    "TARGET_UNITS",
    "ManufacturingModel",
    "PolynomialRidge",
    "model_cache_dir",
    "read_model_file",
    "synthetic_history",
    "write_model_file",
]

log = logging.getLogger("circman.model")


def synthetic_history(n: int, seed: Any = 0, **kwargs: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(production_data, quality_data)`` of ``n`` simulated batches.

    See :func:`circman_kernel.ai.surrogate_data.synthetic_history`.
    """
    from circman_kernel.ai.surrogate_data import synthetic_history as _history

    return _history(n, seed, **kwargs)


# --------------------------------------------------------------------------- the model


class ManufacturingModel(ModelFileMixin):
    """Surrogate of the production line: process parameters -> batch outcomes.

    Parameters
    ----------
    config : CircmanConfig, optional
        Source of the defaults (``optimization.json`` ``MODEL``); ``None`` loads the
        configuration in effect when training starts.
    estimator : {"polynomial", "gradient_boosting", "random_forest", "gaussian_process"}
        Regression family; ``None`` takes ``MODEL.estimator``.
    degree, alpha : int, float
        Polynomial degree and ridge penalty of the ``"polynomial"`` estimator.
    n_estimators, max_depth : int
        Size of the tree ensembles.
    cv_folds : int
        Folds of the cross-validation whose scores training returns.
    random_state : int
        Seed of the fold split, the tree ensembles and the GP subsample.

    Attributes (after training or loading)
    --------------------------------------
    feature_names_, target_names_ : tuple of str
    feature_ranges_ : dict name -> (min, max) of the training data
    feature_defaults_ : dict name -> median, used for features a prediction leaves out
    cv_metrics_ : DataFrame, one row per target: ``r2``, ``mae``, ``rmse`` (out of fold)
    residual_std_ : ndarray, the out-of-fold RMSE per target (the uncertainty estimate
        of estimators that give none of their own)
    n_samples_, training_seconds_, trained_at_, estimator_name_
    """

    def __init__(
        self,
        config: Any = None,
        *,
        estimator: str | None = None,
        degree: int | None = None,
        alpha: float | None = None,
        n_estimators: int | None = None,
        max_depth: int | None = None,
        cv_folds: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.config = config
        self.estimator = estimator
        self.degree = degree
        self.alpha = alpha
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.cv_folds = cv_folds
        self.random_state = random_state

    # ----------------------------------------------------------------- settings
    def _settings(self) -> dict[str, Any]:
        if self.config is None:
            from circman_kernel.core.config import load_config

            cfg = load_config().optimization.MODEL
        else:
            cfg = self.config.optimization.MODEL
        out = {}
        for name in (
            "estimator",
            "degree",
            "alpha",
            "n_estimators",
            "max_depth",
            "cv_folds",
            "random_state",
        ):
            value = getattr(self, name)
            out[name] = getattr(cfg, name) if value is None else value
        if out["estimator"] not in ESTIMATORS:
            raise ParameterError(
                f"estimator {out['estimator']!r} is unknown; choose one of {', '.join(ESTIMATORS)}",
                name="estimator",
                value=out["estimator"],
            )
        return out

    @property
    def is_trained(self) -> bool:
        """Return whether the model has been trained or loaded."""
        return hasattr(self, "estimator_")

    def _check_trained(self) -> None:
        if not self.is_trained:
            raise ModelError(
                "the manufacturing model is not trained: call train_optimization_model(...), "
                "load_model(path) or ManufacturingModel.default(...) first"
            )

    def __repr__(self) -> str:
        state = (
            f"trained on {self.n_samples_} samples, features={list(self.feature_names_)}"
            if self.is_trained
            else "untrained"
        )
        return f"ManufacturingModel(estimator={self.estimator!r}, {state})"

    # ----------------------------------------------------------------- training
    def train_optimization_model(
        self,
        production_data: pd.DataFrame | Mapping[str, Sequence[float]] | Sequence[Mapping],
        quality_data: pd.DataFrame
        | Mapping[str, Sequence[float]]
        | Sequence[Mapping]
        | None = None,
        *,
        features: Sequence[str] | None = None,
        targets: Sequence[str] | None = None,
    ) -> dict[str, float]:
        """Fit the surrogate and return its cross-validated scores.

        Parameters
        ----------
        production_data
            One row per batch: process parameters (the features) and any outcome
            columns (``output_amount`` [modules/h], ``energy_used`` [kW]).
        quality_data
            Optional second table with the quality outcomes (``efficiency``,
            ``defect_rate`` [0..1]); joined on ``batch_id`` when both have it, else by
            row position.
        features, targets
            Column names to use; by default the targets are those of :data:`TARGETS`
            present and the features every other numeric column (id columns such as
            ``batch_id`` excluded).

        Returns
        -------
        dict
            ``<target>_r2`` and ``<target>_mae`` (out-of-fold, ``cv_folds`` folds) per
            target, ``r2_mean``, ``n_samples`` and ``training_seconds``.
        """
        start = time.perf_counter()
        settings = self._settings()
        data = _join(production_data, quality_data)
        targets = _pick_targets(data, targets)
        features = _pick_features(data, features, targets)
        X = _numeric_block(data, features)
        Y = _numeric_block(data, targets)
        n_min = max(2 * settings["cv_folds"], 10)
        if len(X) < n_min:
            raise ParameterError(
                f"training needs at least {n_min} rows for {settings['cv_folds']}-fold "
                f"cross-validation; got {len(X)}",
                name="production_data",
                value=len(X),
            )
        rng = np.random.default_rng(settings["random_state"])
        if settings["estimator"] == "gaussian_process" and len(X) > _GP_MAX_SAMPLES:
            keep = np.sort(rng.choice(len(X), _GP_MAX_SAMPLES, replace=False))
            X, Y = X[keep], Y[keep]
        y_mean, y_scale = Y.mean(axis=0), Y.std(axis=0)
        y_scale[y_scale == 0] = 1.0
        Z = (Y - y_mean) / y_scale

        folds = np.arange(len(X)) % settings["cv_folds"]
        rng.shuffle(folds)
        oof = np.empty_like(Z)
        for k in range(settings["cv_folds"]):
            test = folds == k
            fitted = _make_estimator(settings, X.shape[1]).fit(X[~test], Z[~test])
            oof[test] = _as_2d(fitted.predict(X[test]))
        estimator = _make_estimator(settings, X.shape[1]).fit(X, Z)

        limits = np.array([_TARGET_LIMITS.get(t, (-np.inf, np.inf)) for t in targets]).T
        oof = np.clip(oof * y_scale + y_mean, limits[0], limits[1])
        err = oof - Y
        ss_tot = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
        r2 = 1.0 - (err**2).sum(axis=0) / np.where(ss_tot > 0, ss_tot, np.inf)
        mae = np.abs(err).mean(axis=0)
        rmse = np.sqrt((err**2).mean(axis=0))

        self.estimator_ = estimator
        self.estimator_name_ = settings["estimator"]
        self.feature_names_ = tuple(features)
        self.target_names_ = tuple(targets)
        self.feature_ranges_ = {
            f: (float(X[:, i].min()), float(X[:, i].max())) for i, f in enumerate(features)
        }
        self.feature_defaults_ = {f: float(np.median(X[:, i])) for i, f in enumerate(features)}
        self.target_ranges_ = {
            t: (float(Y[:, i].min()), float(Y[:, i].max())) for i, t in enumerate(targets)
        }
        self.y_mean_, self.y_scale_ = y_mean, y_scale
        self.limits_ = limits
        self.residual_std_ = rmse
        self.cv_metrics_ = pd.DataFrame(
            {"r2": r2, "mae": mae, "rmse": rmse}, index=pd.Index(targets, name="target")
        )
        self.n_samples_ = len(X)
        self.trained_at_ = datetime.now(UTC).isoformat()
        self.training_seconds_ = time.perf_counter() - start
        metrics: dict[str, float] = {}
        for i, t in enumerate(targets):
            metrics[f"{t}_r2"] = float(r2[i])
            metrics[f"{t}_mae"] = float(mae[i])
        metrics["r2_mean"] = float(np.mean(r2))
        metrics["n_samples"] = float(len(X))
        metrics["training_seconds"] = self.training_seconds_
        log.info(
            "trained %s surrogate on %d samples: mean R2 %.3f",
            self.estimator_name_,
            len(X),
            metrics["r2_mean"],
        )
        return metrics

    # ----------------------------------------------------------------- prediction
    def _predict_arrays(
        self, X: np.ndarray, *, with_std: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Return (mean, std) of shape (n, n_targets) for a feature matrix (no checks)."""
        est = self.estimator_
        std = None
        if with_std and self.estimator_name_ == "gaussian_process":
            z, z_std = est.predict(X, return_std=True)
            std = _as_2d(z_std) * self.y_scale_
        elif with_std and self.estimator_name_ == "random_forest":
            per_tree = np.stack([_as_2d(t.predict(X)) for t in est.estimators_])
            z = per_tree.mean(axis=0)
            std = per_tree.std(axis=0) * self.y_scale_
        else:
            z = est.predict(X)
        mean = np.clip(_as_2d(z) * self.y_scale_ + self.y_mean_, self.limits_[0], self.limits_[1])
        if with_std and std is None:
            std = np.broadcast_to(self.residual_std_, mean.shape).copy()
        return mean, std

    def feature_matrix(self, parameters: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
        """Return the (n, n_features) matrix for parameters, missing features at their median.

        Keys named like a target (observed outcomes) are ignored; any other unknown key,
        a non-numeric value or NaN raises :class:`ParameterError`.
        """
        self._check_trained()
        frame = _as_frame(parameters)
        known = set(self.feature_names_) | set(self.target_names_) | set(TARGETS) | _ID_COLUMNS
        unknown = [c for c in frame.columns if c not in known]
        if unknown:
            raise ParameterError(
                _unknown_message(unknown[0], self.feature_names_), name=unknown[0], value=None
            )
        X = np.empty((len(frame), len(self.feature_names_)))
        for i, name in enumerate(self.feature_names_):
            if name in frame.columns:
                X[:, i] = _finite_column(frame[name], name)
            else:
                X[:, i] = self.feature_defaults_[name]
        return X

    def in_training_range(self, X: np.ndarray) -> np.ndarray:
        """Return a bool per row: all features within the training data's [min, max]."""
        lo = np.array([self.feature_ranges_[f][0] for f in self.feature_names_])
        hi = np.array([self.feature_ranges_[f][1] for f in self.feature_names_])
        tol = 0.01 * np.abs(hi - lo) + 1e-12  # 1 % of the span: sampling edges
        return np.all((lo - tol <= X) & (hi + tol >= X), axis=1)

    def predict_batch_outcomes(
        self, parameters: Mapping[str, Any] | pd.DataFrame
    ) -> dict[str, Any] | pd.DataFrame:
        """Predict batch outcomes for one parameter set (dict) or many (DataFrame rows).

        Returns
        -------
        dict or DataFrame
            Each target (``output_amount`` [modules/h], ``energy_used`` [kW],
            ``efficiency``, ``defect_rate`` [0..1]), its uncertainty ``<target>_std``
            (one standard deviation: GP std, spread of the trees, or the out-of-fold
            RMSE) and ``in_training_range`` (bool). A dict in gives a dict out; a
            DataFrame gives a DataFrame on the same index.
        """
        X = self.feature_matrix(parameters)
        mean, std = self._predict_arrays(X)
        inside = self.in_training_range(X)
        if isinstance(parameters, pd.DataFrame):
            out = pd.DataFrame(mean, columns=list(self.target_names_), index=parameters.index)
            for i, t in enumerate(self.target_names_):
                out[f"{t}_std"] = std[:, i]
            out["in_training_range"] = inside
            return out
        result: dict[str, Any] = {t: float(mean[0, i]) for i, t in enumerate(self.target_names_)}
        result.update({f"{t}_std": float(std[0, i]) for i, t in enumerate(self.target_names_)})
        result["in_training_range"] = bool(inside[0])
        return result
