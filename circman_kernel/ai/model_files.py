"""Saving and loading a ``ManufacturingModel``, and the cached default model.

:class:`ModelFileMixin` is the base class that gives
:class:`~circman_kernel.ai.model.ManufacturingModel` its ``save_model``, ``load_model``,
``from_file`` and ``default``: a model file starts with a plain header (magic line +
JSON: format, versions, features, checksum; see
:func:`~circman_kernel.ai.model_parts.read_model_file`) that is checked before the pickled
payload is ever read, so a foreign or incompatible file is refused unopened, and the
default model is cached in the user cache folder under the configuration hash.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import numpy as np

from circman_kernel.ai.model_parts import (
    _FORMAT,
    MODEL_FORMAT_VERSION,
    _package_version,
    _sklearn_version,
    model_cache_dir,
    read_model_file,
    write_model_file,
)
from circman_kernel.core.errors import ModelError

__all__ = ["ModelFileMixin"]

log = logging.getLogger("circman.model")


class ModelFileMixin:
    """Persistence of a trained surrogate: its fitted ``*_`` attributes and its settings.

    A base class of :class:`~circman_kernel.ai.model.ManufacturingModel`, which supplies
    what the methods here use: ``_check_trained``, ``train_optimization_model`` and the
    fitted attributes.
    """

    def _header(self, payload: bytes) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "format_version": MODEL_FORMAT_VERSION,
            "package_version": _package_version(),
            "sklearn_version": None if self.estimator_name_ == "polynomial" else _sklearn_version(),
            "numpy_version": np.__version__,
            "created_at": datetime.now(UTC).isoformat(),
            "estimator": self.estimator_name_,
            "feature_names": list(self.feature_names_),
            "target_names": list(self.target_names_),
            "feature_ranges": {k: list(v) for k, v in self.feature_ranges_.items()},
            "n_samples": self.n_samples_,
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        }

    def save_model(self, file_path: str | os.PathLike | None = None) -> bool:
        """Write the trained model to ``file_path`` (default: the user model cache).

        The file is written to a temporary name and renamed, so a reader never sees a
        half-written model. Returns ``True``.
        """
        self._check_trained()
        if file_path is None:
            file_path = model_cache_dir() / f"model-{self.estimator_name_}-{_package_version()}.cmm"
        fitted = {k: v for k, v in vars(self).items() if k.endswith("_")}
        params = {k: v for k, v in vars(self).items() if not k.endswith("_") and k != "config"}
        payload = pickle.dumps({"fitted": fitted, "params": params}, protocol=5)
        write_model_file(file_path, self._header(payload), payload)
        return True

    def load_model(self, file_path: str | os.PathLike) -> bool:
        """Load a model saved by :meth:`save_model` into this instance; return ``True``.

        Raises
        ------
        ModelError
            The file is missing, not a circman model file, corrupt, or written by an
            incompatible circman / scikit-learn version (retrain, then save again).
        """
        header, payload = read_model_file(file_path)
        try:
            content = pickle.loads(payload)  # header and checksum verified above
        except Exception as exc:
            raise ModelError(
                f"{file_path}: model payload cannot be read ({exc}); retrain"
            ) from None
        for key in [k for k in vars(self) if k.endswith("_")]:
            delattr(self, key)
        for key, value in content["params"].items():
            setattr(self, key, value)
        for key, value in content["fitted"].items():
            setattr(self, key, value)
        return True

    @classmethod
    def from_file(cls, file_path: str | os.PathLike, config: Any = None) -> Self:
        """Return a model loaded from ``file_path``."""
        model = cls(config)
        model.load_model(file_path)
        return model

    @classmethod
    def default(
        cls,
        config: Any = None,
        *,
        refresh: bool = False,
        cache_dir: str | os.PathLike | None = None,
    ) -> Self:
        """Return the default model: cached in the user cache folder, else trained now.

        The cache file is keyed by the configuration hash and the package version; a
        stale or unreadable cache file is replaced. Training uses
        :func:`~circman_kernel.ai.surrogate_data.synthetic_history` with
        ``MODEL.training_samples`` and ``MODEL.random_state``.
        """
        from circman_kernel.ai.surrogate_data import synthetic_history
        from circman_kernel.core.config import load_config

        cfg = config if config is not None else load_config()
        folder = Path(cache_dir) if cache_dir is not None else model_cache_dir()
        path = folder / f"default-model-{cfg.config_hash}-{_package_version()}.cmm"
        model = cls(cfg)
        if path.is_file() and not refresh:
            try:
                model.load_model(path)
                return model
            except ModelError as exc:
                log.warning("default model cache %s unusable (%s); retraining", path, exc)
        settings = cfg.optimization.MODEL
        production, quality = synthetic_history(
            settings.training_samples, seed=settings.random_state, config=cfg
        )
        model.train_optimization_model(production, quality)
        folder.mkdir(parents=True, exist_ok=True)
        model.save_model(path)
        return model
