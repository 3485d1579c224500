"""Parts of the surrogate model: constants, the NumPy polynomial ridge, model files, checks.

Split from :mod:`circman_kernel.ai.model` to keep modules short: the model file format
here is written and read by :mod:`circman_kernel.ai.model_files`. Import the public names
from :mod:`circman_kernel.ai.model` or :mod:`circman_kernel.ai`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import struct
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.core.errors import ModelError, ParameterError
from circman_kernel.core.paths import cache_dir

__all__ = [
    "ESTIMATORS",
    "MODEL_FORMAT_VERSION",
    "TARGETS",
    "TARGET_UNITS",
    "PolynomialRidge",
    "model_cache_dir",
    "read_model_file",
    "write_model_file",
]

TARGETS: tuple[str, ...] = ("output_amount", "energy_used", "efficiency", "defect_rate")
TARGET_UNITS: dict[str, str] = {
    "output_amount": "modules/h",
    "energy_used": "kW",
    "efficiency": "1",
    "defect_rate": "1",
}
# Physical ranges: predictions are clipped into them (a rate is never negative).
_TARGET_LIMITS: dict[str, tuple[float, float]] = {
    "output_amount": (0.0, np.inf),
    "energy_used": (0.0, np.inf),
    "efficiency": (0.0, 1.0),
    "defect_rate": (0.0, 1.0),
}
ESTIMATORS: tuple[str, ...] = (
    "polynomial",
    "gradient_boosting",
    "random_forest",
    "gaussian_process",
)
_ID_COLUMNS = frozenset({"batch_id", "timestamp", "iteration", "run_id", "seed", "index"})
_MAGIC = b"CIRCMAN-MODEL\n"
_FORMAT = "circman.ManufacturingModel"
MODEL_FORMAT_VERSION = 1
_GP_MAX_SAMPLES = 800  # exact GPs cost O(n^3); a seeded subsample keeps training under a second


def _package_version() -> str:
    from circman_kernel.core.version import __version__

    return __version__


def _sklearn_version() -> str:
    from importlib.metadata import version

    return version("scikit-learn")


def _major_minor(version: str) -> tuple[int, int] | None:
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else None


def model_cache_dir() -> Path:
    """Return the user cache folder for default models (see :func:`~circman_kernel.core.paths.cache_dir`)."""
    return cache_dir()


# --------------------------------------------------------------------------- polynomial ridge


class PolynomialRidge:
    """Ridge regression on all monomials of the standardised inputs up to ``degree``.

    Plain NumPy (the scikit-learn pipeline StandardScaler -> PolynomialFeatures -> Ridge
    computes the same fit): a fitted model holds only arrays, so loading it imports
    nothing heavy, and one prediction costs microseconds, which gradient-based
    optimisers with finite differences call thousands of times. Multi-output.

    .. math:: \\hat y = b + \\sum_m w_m \\prod_j z_j^{p_{mj}},\\quad z = (x - \\mu)/\\sigma
    """

    def __init__(self, degree: int = 3, alpha: float = 1e-3) -> None:
        self.degree = degree
        self.alpha = alpha

    def _terms(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, dtype=float) - self.x_mean_) / self.x_scale_
        # (n, 1, d) ** (1, m, d) -> product over d: every monomial at once
        return np.prod(Z[:, None, :] ** self.powers_[None, :, :], axis=2)

    def fit(self, X: np.ndarray, Y: np.ndarray) -> PolynomialRidge:
        from itertools import combinations_with_replacement

        X = np.asarray(X, dtype=float)
        d = X.shape[1]
        powers = []
        for deg in range(1, self.degree + 1):
            for combo in combinations_with_replacement(range(d), deg):
                powers.append(np.bincount(combo, minlength=d))
        self.powers_ = np.array(powers, dtype=float)
        self.x_mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.x_scale_ = np.where(scale > 0, scale, 1.0)
        T = self._terms(X)
        t_mean = T.mean(axis=0)
        Tc = T - t_mean
        Y = np.asarray(Y, dtype=float).reshape(len(X), -1)
        y_mean = Y.mean(axis=0)
        gram = Tc.T @ Tc + self.alpha * np.eye(T.shape[1])
        self.coef_ = np.linalg.solve(gram, Tc.T @ (Y - y_mean))  # (m, k)
        self.intercept_ = y_mean - t_mean @ self.coef_
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._terms(X) @ self.coef_ + self.intercept_


# --------------------------------------------------------------------------- model files


def write_model_file(path: str | os.PathLike, header: Mapping[str, Any], payload: bytes) -> None:
    """Write ``MAGIC + len + JSON header + payload`` atomically (temp file + rename)."""
    path = Path(path)
    head = json.dumps(dict(header), sort_keys=True).encode()
    fd, tmp = tempfile.mkstemp(prefix=".model-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_MAGIC + struct.pack(">Q", len(head)) + head + payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_model_file(path: str | os.PathLike) -> tuple[dict[str, Any], bytes]:
    """Return (header, payload) of a model file after checking tag, versions and checksum."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(
            f"{path}: no model file there; train a model and save_model() it"
        ) from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model file: {exc}") from None
    if not raw.startswith(_MAGIC) or len(raw) < len(_MAGIC) + 8:
        raise ModelError(
            f"{path}: not a circman model file (no {_MAGIC.strip().decode()} header); "
            "it was not opened"
        )
    (n,) = struct.unpack(">Q", raw[len(_MAGIC) : len(_MAGIC) + 8])
    start = len(_MAGIC) + 8
    try:
        header = json.loads(raw[start : start + n])
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelError(f"{path}: model header is corrupt; retrain and save again") from None
    payload = raw[start + n :]
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        raise ModelError(
            f"{path}: not a circman model file (format {header.get('format')!r})"
            if isinstance(header, dict)
            else f"{path}: model header is corrupt"
        )
    if header.get("format_version") != MODEL_FORMAT_VERSION:
        raise ModelError(
            f"{path}: model file format {header.get('format_version')!r}, this "
            f"circman reads format {MODEL_FORMAT_VERSION}; retrain the model"
        )
    for key, current in (
        ("package_version", _package_version()),
        ("sklearn_version", _sklearn_version()),
    ):
        saved = str(header.get(key))
        if header.get(key) is None and key == "sklearn_version":
            continue  # the NumPy-only estimator does not depend on scikit-learn
        if _major_minor(saved) != _major_minor(current):
            who = "circman" if key == "package_version" else "scikit-learn"
            raise ModelError(
                f"{path}: model saved with {who} {saved}, this is {who} {current} "
                "(incompatible); retrain the model and save it again"
            )
    if hashlib.sha256(payload).hexdigest() != header.get("payload_sha256"):
        raise ModelError(
            f"{path}: model payload does not match its checksum (truncated or "
            "altered); retrain and save again"
        )
    return header, payload


# --------------------------------------------------------------------------- helpers


def _make_estimator(settings: Mapping[str, Any], n_features: int) -> Any:
    name = settings["estimator"]
    seed = settings["random_state"]
    if name == "polynomial":
        return PolynomialRidge(degree=settings["degree"], alpha=settings["alpha"])
    if name == "gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.multioutput import MultiOutputRegressor

        return MultiOutputRegressor(
            HistGradientBoostingRegressor(
                max_iter=settings["n_estimators"],
                max_depth=settings["max_depth"],
                early_stopping=False,
                random_state=seed,
            )
        )
    if name == "random_forest":
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(
            n_estimators=settings["n_estimators"],
            max_depth=settings["max_depth"],
            random_state=seed,
        )
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    kernel = ConstantKernel(1.0) * RBF(np.ones(n_features)) + WhiteKernel(1e-2)
    return make_pipeline(StandardScaler(), GaussianProcessRegressor(kernel, random_state=seed))


def _as_2d(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a.reshape(-1, 1) if a.ndim == 1 else a


def _as_frame(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        if all(np.ndim(v) == 0 for v in data.values()):
            return pd.DataFrame([dict(data)])
        return pd.DataFrame(dict(data))
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        return pd.DataFrame(list(data))
    raise ParameterError(
        f"expected a dict of parameters or a DataFrame, got {type(data).__name__}",
        name="parameters",
        value=type(data).__name__,
    )


def _join(production: Any, quality: Any) -> pd.DataFrame:
    prod = _as_frame(production)
    if quality is None:
        return prod.reset_index(drop=True)
    qual = _as_frame(quality)
    if "batch_id" in prod.columns and "batch_id" in qual.columns:
        # Plant exports stamp both tables (production time, inspection time): id columns
        # are not data, so the production table's are kept and the quality table's dropped.
        ids = [c for c in qual.columns if c in _ID_COLUMNS and c != "batch_id" and c in prod]
        data = prod.merge(
            qual.drop(columns=ids), on="batch_id", how="inner", suffixes=("", "__quality")
        )
        if len(data) != len(prod):
            raise ParameterError(
                f"quality_data matches {len(data)} of {len(prod)} production batches on "
                "batch_id; give quality data for every batch",
                name="quality_data",
            )
    else:
        if len(prod) != len(qual):
            raise ParameterError(
                f"production_data has {len(prod)} rows and quality_data {len(qual)}; without a "
                "batch_id column both must have one row per batch",
                name="quality_data",
            )
        overlap = (set(prod.columns) & set(qual.columns)) - {"batch_id"}
        if overlap:
            raise ParameterError(
                f"columns {sorted(overlap)} appear in both tables; keep each column in one of them",
                name="quality_data",
            )
        data = pd.concat([prod.reset_index(drop=True), qual.reset_index(drop=True)], axis=1)
    clash = [c for c in data.columns if str(c).endswith("__quality")]
    if clash:
        raise ParameterError(
            f"columns {[c[:-9] for c in clash]} appear in both tables; keep each "
            "column in one of them",
            name="quality_data",
        )
    return data


def _pick_targets(data: pd.DataFrame, targets: Sequence[str] | None) -> list[str]:
    if targets is None:
        found = [t for t in TARGETS if t in data.columns]
        if not found:
            raise ParameterError(
                f"no target column found; the data needs at least one of {', '.join(TARGETS)}",
                name="targets",
            )
        return found
    missing = [t for t in targets if t not in data.columns]
    if missing or not targets:
        raise ParameterError(
            f"target column(s) {missing} not in the data (columns: "
            f"{', '.join(map(str, data.columns))})",
            name="targets",
        )
    return list(targets)


def _pick_features(
    data: pd.DataFrame, features: Sequence[str] | None, targets: list[str]
) -> list[str]:
    if features is None:
        features = [
            c
            for c in data.columns
            if c not in targets
            and c not in TARGETS
            and c not in _ID_COLUMNS
            and (pd.api.types.is_numeric_dtype(data[c]))
        ]
    else:
        features = list(features)
        missing = [f for f in features if f not in data.columns]
        if missing:
            raise ParameterError(f"feature column(s) {missing} not in the data", name="features")
        both = set(features) & set(targets)
        if both:
            raise ParameterError(
                f"{sorted(both)} cannot be both feature and target", name="features"
            )
    if not features:
        raise ParameterError(
            "no numeric feature columns in the data (process parameters such "
            "as cycle_time or temperature)",
            name="features",
        )
    return list(features)


def _finite_column(values: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: values must be numbers", name=name, value=None) from None
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ParameterError(
            f"{name}: {int(bad.sum())} value(s) are NaN or infinite; give finite numbers",
            name=name,
            value=float(arr[bad][0]),
        )
    return arr


def _numeric_block(data: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    return np.column_stack([_finite_column(data[c], str(c)) for c in columns])


def _unknown_message(name: str, valid: Sequence[str]) -> str:
    hint = difflib.get_close_matches(str(name), list(valid), n=1)
    suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
    return f"unknown parameter {name!r}{suggestion} (the model's parameters: {', '.join(valid)})"
