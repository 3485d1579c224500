"""The installed package version, recorded with every stored run and cached model."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("circman-kernel")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"
