"""Typed exceptions raised by every circman module.

Each error says what went wrong and what to fix. Nothing in the package turns an
exception into a log line and a ``False``: callers catch the class they can handle.
Subclasses also derive from the matching built-in (``ValueError``, ``RuntimeError``,
``OSError``) so generic handlers keep working.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CircmanError",
    "ConfigError",
    "DataSourceError",
    "ModelError",
    "NotInitializedError",
    "OptimizationError",
    "ParameterError",
    "PermissionDeniedError",
    "StateValidationError",
    "StoreError",
]


class CircmanError(Exception):
    """Base class of every error the workbench raises on purpose."""


class ConfigError(CircmanError, ValueError):
    """A configuration file or override is missing, malformed or out of range.

    Attributes name the file, the dotted key path and the offending value when known.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        value: Any = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.key = key
        self.value = value
        self.line = line


class ParameterError(CircmanError, ValueError):
    """A call received a parameter that is unknown, NaN, of the wrong type or out of range."""

    def __init__(self, message: str, *, name: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.name = name
        self.value = value


class StateValidationError(ParameterError):
    """A twin state (or a partial update) breaks the state schema; ``path`` is dotted."""

    def __init__(self, message: str, *, path: str | None = None, value: Any = None) -> None:
        super().__init__(message, name=path, value=value)
        self.path = path


class DataSourceError(CircmanError, ValueError):
    """A data source (sensor CSV, feed) delivered a record that cannot be used."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.line = line


class NotInitializedError(CircmanError, RuntimeError):
    """An object was used before its ``initialize()`` (or ``fit``/``train``) step."""


class ModelError(CircmanError, RuntimeError):
    """A surrogate model is untrained, or a model file is foreign or from another version."""


class OptimizationError(CircmanError, RuntimeError):
    """An optimisation problem is infeasible or the solver failed; the message says which."""


class StoreError(CircmanError, OSError):
    """The run store cannot open, read or write its database (foreign file, newer schema, ...)."""


class PermissionDeniedError(StoreError, PermissionError):
    """A published (read-only) session tried to delete, overwrite or reconfigure something."""
