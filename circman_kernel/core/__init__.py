"""The foundation every other part stands on: configuration, typed errors and paths.

Owns ``config`` (finding, reading and validating the JSON configuration folder:
``load_config``, ``default_config``, ``CircmanConfig``), ``config_schema`` (the pydantic
model of each file's sections), ``config_fields`` (the field types and value checks the
sections are built from), ``state_schema`` (the twin state's fields, defaults and
validators, read by the configuration, the simulation and the twin), ``errors`` (the
package's exception types), ``paths`` (where configuration, data and caches live),
``config_snapshots`` (the contents of every configuration hashed in the process, kept for
the store), ``reruns`` (the registry of re-runners by run kind) and ``version``. May import nothing else of circman_kernel.

Every module of the package imports this one, so it re-exports only the cheap names: the
exception types of ``errors`` and the locations of ``paths``. The configuration would pull
pydantic into every import; import it from :mod:`circman_kernel.core.config` (or
``from circman_kernel import load_config``).
"""

from circman_kernel.core.errors import (
    CircmanError,
    ConfigError,
    DataSourceError,
    ModelError,
    NotInitializedError,
    OptimizationError,
    ParameterError,
    PermissionDeniedError,
    StateValidationError,
    StoreError,
)
from circman_kernel.core.paths import (
    cache_dir,
    data_dir,
    default_config_dir,
    default_db_path,
    project_root,
)

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
    "cache_dir",
    "data_dir",
    "default_config_dir",
    "default_db_path",
    "project_root",
]
