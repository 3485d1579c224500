"""Typed, immutable configuration loaded from ``configs/*.json`` and validated by pydantic.

Three files make a configuration folder (the manual's section 16.1):

* ``digital_twin.json``: ``DIGITAL_TWIN_CONFIG``, ``SIMULATION_PARAMETERS``,
  ``EVENT_NOTIFICATION``, ``PARAMETER_THRESHOLDS``, ``AI_INTEGRATION``;
* ``impact_factors.json``: the default LCA impact-factor profile;
* ``optimization.json``: objective weights, solver, surrogate-model and Pareto settings.

Every section must be present in a file; keys left out of a section take the manual's
default. Any problem raises :class:`~circman_kernel.core.errors.ConfigError` naming the file,
the dotted key path, the bad value and what is expected.

The sections' models are in :mod:`circman_kernel.core.config_schema` (built from the field
types of :mod:`circman_kernel.core.config_fields`); this module finds and reads the files,
applies overrides and hashes the result.

>>> cfg = load_config()
>>> cfg.digital_twin.SIMULATION_PARAMETERS.target_temperature
22.5
>>> cfg.with_overrides({"digital_twin.SIMULATION_PARAMETERS.target_temperature": 23.0}
...                    ).digital_twin.SIMULATION_PARAMETERS.target_temperature
23.0
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
import reprlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from circman_kernel.core import config_snapshots
from circman_kernel.core.config_fields import _Section
from circman_kernel.core.config_schema import DigitalTwinFile, ImpactFactors, OptimizationFile
from circman_kernel.core.errors import ConfigError
from circman_kernel.core.paths import default_config_dir

__all__ = [
    "CONFIG_FILES",
    "CircmanConfig",
    "default_config",
    "load_config",
]

# --------------------------------------------------------------------------- the whole folder

CONFIG_FILES: dict[str, type[_Section]] = {
    "digital_twin": DigitalTwinFile,
    "impact_factors": ImpactFactors,
    "optimization": OptimizationFile,
}


class CircmanConfig(BaseModel):
    """The complete, validated configuration; immutable, hashable for provenance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    digital_twin: DigitalTwinFile = Field(default_factory=DigitalTwinFile)
    impact_factors: ImpactFactors = Field(default_factory=ImpactFactors)
    optimization: OptimizationFile = Field(default_factory=OptimizationFile)
    source: str = "built-in defaults"

    def to_dict(self) -> dict[str, Any]:
        """Return the three files' contents as plain JSON-ready dicts (no ``source``)."""
        return self.model_dump(mode="json", exclude={"source"})

    @property
    def config_hash(self) -> str:
        """Return a 16-hex-digit SHA-256 of the contents, independent of key order."""
        data = self.to_dict()
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
        config_snapshots.remember(digest, data)  # the store keeps it with the run
        return digest

    def with_overrides(self, overrides: Mapping[str, Any]) -> CircmanConfig:
        """Return a copy with single values replaced, keyed by dotted path.

        The path starts with the file's name: ``"digital_twin.SIMULATION_PARAMETERS.
        target_temperature"``; threshold keys keep their own dots
        (``"digital_twin.PARAMETER_THRESHOLDS.production_line.temperature"``).
        """
        data = self.to_dict()
        for path, value in overrides.items():
            _set_dotted(data, path, value)
        return _validate_all(data, source=f"{self.source} + overrides", origin="override")


def _set_dotted(data: dict[str, Any], path: str, value: Any) -> None:
    node: Any = data
    rest = path
    while True:
        if not isinstance(node, dict):
            raise ConfigError(
                f"override {path!r}: {rest!r} is inside a value, not a section",
                file="override",
                key=path,
                value=value,
            )
        if rest in node or "." not in rest:
            if rest not in node:
                raise ConfigError(
                    _unknown_key_message("override", path, rest, node),
                    file="override",
                    key=path,
                    value=value,
                )
            node[rest] = value
            return
        # Longest key that prefixes the remaining path (threshold keys contain dots).
        head = next(
            (k for k in sorted(node, key=len, reverse=True) if rest.startswith(k + ".")), None
        )
        if head is None:
            raise ConfigError(
                _unknown_key_message("override", path, rest.split(".")[0], node),
                file="override",
                key=path,
                value=value,
            )
        node, rest = node[head], rest[len(head) + 1 :]


def _unknown_key_message(file: str, path: str, key: str, known: Mapping[str, Any]) -> str:
    hint = difflib.get_close_matches(key, [str(k) for k in known], n=1, cutoff=0.5)
    suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
    return f"{file}: {path}: unknown key {key!r}{suggestion} (known: {', '.join(map(str, known))})"


# --------------------------------------------------------------------------- loading


def _short_repr(value: Any) -> str:
    # Bad values are quoted in messages: cut long strings and deep nesting short.
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxstring = 4, 8, 8, 8, 120
    return r.repr(value)


def _format_errors(file: str, model: type[BaseModel], err: ValidationError) -> ConfigError:
    lines: list[str] = []
    first_key: str | None = None
    first_value: Any = None
    for item in err.errors(include_url=False):
        loc = [str(p) for p in item["loc"]]
        # The bounds validators sit on the tuple itself; drop pydantic's type-chain tags.
        loc = [p for p in loc if not re.fullmatch(r"function-\w+\[.*\]|\d+", p) or p.isdigit()]
        is_dict_key = loc[-1:] == ["[key]"]
        loc = [p for p in loc if p != "[key]"]
        key = ".".join(loc) or "<top level>"
        value = item.get("input")
        if is_dict_key:
            lines.append(
                f"{file}: {key}: key must be a dotted path such as 'production_line.temperature'"
            )
        elif item["type"] == "unknown_map_key":
            bad = item["ctx"]["key"]
            key = f"{key}.{bad}"
            value = item["input"].get(bad) if isinstance(item["input"], Mapping) else None
            known = dict.fromkeys(item["ctx"]["known"])
            lines.append(_unknown_key_message(file, key, bad, known))
        elif item["type"] == "extra_forbidden":
            known = _fields_at(model, loc[:-1])
            lines.append(_unknown_key_message(file, key, loc[-1], dict.fromkeys(known)))
        elif item["type"] == "missing" and loc and loc[-1].isdigit():
            key = ".".join(loc[:-1])
            lines.append(f"{file}: {key}: expected a [lower, upper] pair of numbers")
        elif item["type"] == "missing":
            lines.append(f"{file}: {key}: missing")
        elif not loc and ": " in item["msg"]:
            # Cross-field checks name their own dotted path at the start of the message.
            key, _, msg = item["msg"].removeprefix("Value error, ").partition(": ")
            lines.append(f"{file}: {key}: {msg}")
        else:
            msg = item["msg"].removeprefix("Value error, ")
            if isinstance(value, float) and not math.isfinite(value):
                msg = "must be a finite number"
            shown = "" if isinstance(value, dict) else f"; got {_short_repr(value)}"
            lines.append(f"{file}: {key}: {msg}{shown}")
        if first_key is None:
            first_key, first_value = key, value
    return ConfigError("\n".join(lines), file=file, key=first_key, value=first_value)


def _fields_at(model: type[BaseModel], loc: list[str]) -> list[str]:
    current: Any = model
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = field.annotation
    return list(getattr(current, "model_fields", {}))


def _strict_sections(model: type[_Section], data: Any, file: str) -> None:
    """Reject a file that leaves out a whole section (keys inside may default)."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{file}: top level must be a JSON object of sections, got {type(data).__name__}",
            file=file,
            value=data,
        )
    missing = [name for name in model.model_fields if name not in data]
    if missing:
        raise ConfigError(
            f"{file}: missing section(s) {', '.join(missing)}; every section of the manual "
            "is required (copy it from configs/ to keep the defaults)",
            file=file,
            key=missing[0],
        )


#: largest configuration file read [bytes]; the shipped ones are a few kB
MAX_CONFIG_BYTES = 4 << 20


def _read_json(path: Path) -> Any:
    name = path.name
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            # refused before reading: a runaway file would take seconds and GBs to parse
            raise ConfigError(
                f"{path}: {size:,} bytes; a configuration file is at most "
                f"{MAX_CONFIG_BYTES:,} bytes (a few sections of named values)",
                file=name,
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found; a config folder needs "
            f"{', '.join(f'{n}.json' for n in CONFIG_FILES)}",
            file=name,
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}", file=name) from None
    if not text.strip():
        raise ConfigError(f"{name}: file is empty; expected a JSON object", file=name, line=1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{name}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            file=name,
            line=exc.lineno,
        ) from None
    except RecursionError:
        # json's decoder recurses once per nesting level, so '[[[[...' exhausts the stack
        raise ConfigError(
            f"{name}: JSON nested too deeply to read; a config file is a few levels of "
            "objects (sections, keys, [lower, upper] pairs)",
            file=name,
        ) from None


def _validate_all(
    data: Mapping[str, Any], *, source: str, origin: str | None = None
) -> CircmanConfig:
    sections: dict[str, Any] = {}
    for stem, model in CONFIG_FILES.items():
        file = origin or f"{stem}.json"
        raw = data.get(stem)
        _strict_sections(model, raw, file)
        try:
            try:
                sections[stem] = model.model_validate(raw)
            except ValidationError as exc:
                raise _format_errors(file, model, exc) from None
        except RecursionError:
            # an override (or a dict built in code) can nest deeper than the stack allows
            raise ConfigError(
                f"{file}: value nested too deeply; a config is a few levels of objects",
                file=file,
            ) from None
    return CircmanConfig(**sections, source=source)


def default_config() -> CircmanConfig:
    """Return the manual's default configuration without reading any file."""
    return CircmanConfig()


def load_config(
    config_dir: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> CircmanConfig:
    """Load and validate a configuration folder.

    Parameters
    ----------
    config_dir
        Folder holding ``digital_twin.json``, ``impact_factors.json`` and
        ``optimization.json``. Default: ``$CIRCMAN_CONFIG_DIR``, else the checkout's
        ``configs/``, else the built-in defaults.
    overrides
        Single values to replace, keyed by dotted path (see
        :meth:`CircmanConfig.with_overrides`).
    """
    folder = Path(config_dir).expanduser() if config_dir is not None else default_config_dir()
    if folder is None:
        config = default_config()
    else:
        if not folder.is_dir():
            raise ConfigError(f"{folder}: config folder not found", file=str(folder))
        raw = {stem: _read_json(folder / f"{stem}.json") for stem in CONFIG_FILES}
        config = _validate_all(raw, source=str(folder))
    return config.with_overrides(overrides) if overrides else config
