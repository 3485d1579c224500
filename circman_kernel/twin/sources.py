"""Data sources that feed the twin (the manual's ``data_sources``) and their parsing.

Sources deliver partial states (nested dicts) through the :class:`DataSource` protocol:
:class:`CSVReplaySource` replays a timestamped sensor CSV whose columns are dotted state
paths, :class:`SimulatedSensorSource` draws seeded sensor readings (AR(1) noise around a
base state, :data:`DEFAULT_NOISE`), :class:`ManualInputSource` is a queue an operator fills.
:func:`nest_dotted` and :func:`flatten_state` convert between dotted paths and nested
states. :class:`~circman_kernel.twin.sync.Synchronizer` applies a source to a twin.
"""

from __future__ import annotations

import csv
import logging
import math
import queue
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from circman_kernel.core.errors import (
    DataSourceError,
    ParameterError,
    StateValidationError,
)
from circman_kernel.core.state_merge import _Invalid, _merge, merge_state
from circman_kernel.core.state_schema import _NUM, SCHEMA, default_state, parse_timestamp

__all__ = [
    "CSVReplaySource",
    "DataSource",
    "ManualInputSource",
    "SimulatedSensorSource",
    "flatten_state",
    "nest_dotted",
]

# Kept under the synchroniser's name: logging set up for the data feed still catches it.
log = logging.getLogger("circman.sync")


class DataSource(Protocol):
    """What a synchroniser reads from."""

    name: str

    def read(self) -> dict[str, Any] | None:
        """Return the next partial state, or ``None`` if nothing is available now."""

    @property
    def exhausted(self) -> bool:
        """``True`` once the source will deliver nothing more."""


def nest_dotted(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Return a nested dict from dotted keys: ``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    out: dict[str, Any] = {}
    for path, value in flat.items():
        node = out
        *parents, leaf = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return out


def flatten_state(state: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return ``{dotted_path: value}`` for every leaf of a nested state."""
    out: dict[str, Any] = {}
    for key, value in state.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_state(value, path + "."))
        else:
            out[path] = value
    return out


def _leaf_kind(path: str) -> int | None:
    node: Any = SCHEMA
    for key in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key, node.get("*"))
        if node is None:
            return None
    return node[0] if isinstance(node, tuple) else None


#: longest line of a replay CSV [characters]; a longer one is a malformed row, never read whole
MAX_LINE_CHARS = 1 << 20
#: a number as a sensor CSV writes it: digits, one point, an exponent (no ``_``, no ``inf``)
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
#: what ``surrogateescape`` makes of bytes that are not UTF-8
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _strict_number(text: str) -> float | None:
    """``text`` as a finite float, or ``None`` if it is not a plain decimal number."""
    # most readings are digits and one point: skip the pattern for those
    if not text.replace(".", "", 1).isdigit() and _NUMBER.fullmatch(text) is None:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


class CSVReplaySource:
    """Replay a timestamped sensor CSV, one row per reading.

    The header names dotted state paths (``timestamp``, ``production_line.temperature``,
    ``materials.silicon_wafer.inventory`` ...), each once. The file is UTF-8 (a byte-order
    mark is allowed). Numeric fields of the state schema must be plain decimal numbers
    (``22.5``, ``-1e-3``; not ``2_2``, ``inf`` or ``nan``), others are kept as text; an
    empty cell means "no reading". Timestamps must not run backwards.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    on_error : {"raise", "skip"}
        A malformed row (wrong field count, a bad number or timestamp, bytes that are not
        UTF-8, a field or line too long, a time earlier than the previous reading's)
        raises :class:`~circman_kernel.core.errors.DataSourceError` naming the file and
        line, or, with ``"skip"``, is skipped and counted in :attr:`skipped` (its line
        numbers in :attr:`skipped_lines`). A bad header always raises.
    """

    def __init__(self, path: str | Path, *, on_error: Literal["raise", "skip"] = "raise") -> None:
        if on_error not in ("raise", "skip"):
            raise ParameterError(
                f"on_error must be 'raise' or 'skip', got {on_error!r}", name="on_error"
            )
        self.path = Path(path)
        if not self.path.is_file():
            raise DataSourceError(f"{self.path}: no such CSV file", file=str(self.path))
        self.name = f"csv:{self.path.name}"
        self.on_error = on_error
        self.skipped = 0
        self.skipped_lines: list[int] = []
        self.rows_read = 0
        self._rows = self._iter_rows()
        self._done = False
        self._peeked: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            row = self.read()
            if row is None:
                return
            yield row

    @property
    def exhausted(self) -> bool:
        return self._done

    def read(self) -> dict[str, Any] | None:
        """Return the next valid row as a partial state, ``None`` at the end of the file."""
        if self._done:
            return None
        try:
            row = next(self._rows)
        except StopIteration:
            self._done = True
            return None
        except BaseException:
            self._done = True  # the file is closed: a raised error ends the replay
            raise
        self.rows_read += 1
        return row

    def _error(self, line: int, reason: str) -> DataSourceError:
        return DataSourceError(f"{self.path}:{line}: {reason}", file=str(self.path), line=line)

    def _fail(self, line: int, reason: str) -> None:
        if self.on_error == "skip":
            self.skipped += 1
            self.skipped_lines.append(line)
            log.debug("%s:%d skipped: %s", self.path, line, reason)
            return
        raise self._error(line, reason)

    def _lines(self, fh: Any) -> Iterator[str]:
        """The file's lines, a line longer than :data:`MAX_LINE_CHARS` reported and blanked."""
        number = 0
        while True:
            line = fh.readline(MAX_LINE_CHARS)
            if not line:
                return
            number += 1
            if len(line) == MAX_LINE_CHARS and not line.endswith("\n"):
                while (rest := fh.readline(MAX_LINE_CHARS)) and not rest.endswith("\n"):
                    pass
                if number == 1:
                    raise self._error(1, f"header longer than {MAX_LINE_CHARS:,} characters")
                self._fail(number, f"line longer than {MAX_LINE_CHARS:,} characters")
                line = "\n"  # an empty row keeps csv's line count in step
            yield line

    def _header(self, reader: Any) -> list[str]:
        try:
            header = next(reader)
        except StopIteration:
            raise self._error(1, "empty file, expected a header row") from None
        except csv.Error as exc:
            raise self._error(1, f"header is not CSV: {exc}") from None
        header = [h.strip() for h in header]
        bad = next((h for h in header if _UNDECODABLE.search(h)), None)
        if bad is not None:
            raise self._error(1, f"header has bytes that are not UTF-8 ({bad!r}); save as UTF-8")
        seen: set[str] = set()
        twice = [h for h in header if h in seen or seen.add(h)]
        if twice:
            raise self._error(1, f"header names column {twice[0]!r} more than once")
        if "timestamp" not in header:
            raise self._error(1, "header has no 'timestamp' column")
        inner = next((h for h in header if any(o.startswith(h + ".") for o in header)), None)
        if inner is not None:
            raise self._error(
                1, f"header names {inner!r} both as a column and as the section of another"
            )
        return header

    def _iter_rows(self) -> Iterator[dict[str, Any]]:
        # surrogateescape: a byte that is not UTF-8 becomes a marker in its own row, which
        # that row reports, instead of a UnicodeDecodeError that ends the whole file
        with self.path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
            reader = csv.reader(self._lines(fh))
            header = self._header(reader)
            kinds = [_leaf_kind(h) for h in header]
            columns = [(h, *h.rsplit(".", 1)) if "." in h else (h, "", h) for h in header]
            width = len(header)
            previous: datetime | None = None
            previous_line = 0
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:  # e.g. a field over csv's 131,072 characters
                    self._fail(reader.line_num, f"not CSV: {exc}")
                    continue
                line = reader.line_num
                if not fields or all(not f.strip() for f in fields):
                    continue
                if len(fields) != width:
                    self._fail(line, f"expected {width} fields, found {len(fields)}")
                    continue
                bad = None
                joined = "".join(fields)
                if not joined.isascii() and _UNDECODABLE.search(joined):
                    bad = "bytes that are not UTF-8 (save the file as UTF-8)"
                # the nested partial state, built straight from the split column names
                nested: dict[str, Any] = {}
                sections: dict[str, dict[str, Any]] = {"": nested}
                for (name, parent, leaf), kind, text in zip(columns, kinds, fields, strict=True):
                    if bad is not None:
                        break
                    text = text.strip()
                    if not text:
                        continue
                    if kind == _NUM:
                        value: Any = _strict_number(text)
                        if value is None:
                            bad = f"{name}: {text[:40]!r} is not a finite decimal number"
                    else:
                        value = text
                    node = sections.get(parent)
                    if node is None:
                        node = nested
                        for key in parent.split("."):
                            node = node.setdefault(key, {})
                        sections[parent] = node
                    node[leaf] = value
                if bad is None:
                    try:
                        row = _merge({}, nested, SCHEMA)
                    except _Invalid as exc:
                        bad = str(exc.to_error())
                    if bad is None and "timestamp" not in row:
                        bad = "timestamp: missing"
                if bad is None:
                    stamp = parse_timestamp(row["timestamp"])
                    if previous is not None and stamp < previous:
                        bad = (
                            f"timestamp {row['timestamp']} is earlier than the previous "
                            f"reading's (line {previous_line}): time runs backwards"
                        )
                    else:
                        previous, previous_line = stamp, line
                if bad is not None:
                    self._fail(line, bad)
                    continue
                yield row


#: Default noise model: per dotted path, the standard deviation of the per-reading
#: innovation (in the path's unit) of an AR(1) process around the base value.
DEFAULT_NOISE: dict[str, float] = {
    "production_line.temperature": 0.15,  # [degC]
    "production_line.energy_consumption": 1.5,  # [kW]
    "production_line.production_rate": 0.1,  # [modules/h]
    "production_line.efficiency": 0.003,
    "production_line.defect_rate": 0.001,
    "environment.temperature": 0.05,  # [degC]
    "environment.humidity": 0.3,  # [% RH]
}

_CLIP = {
    "production_line.efficiency": (0.0, 1.0),
    "production_line.defect_rate": (0.0, 1.0),
    "environment.humidity": (0.0, 100.0),
}


def _clip_range(path: str) -> tuple[float, float]:
    # Temperatures may go anywhere; other readings are non-negative, fractions <= 1.
    if path in _CLIP:
        return _CLIP[path]
    if path.endswith("temperature"):
        return (-math.inf, math.inf)
    return (0.0, math.inf)


class SimulatedSensorSource:
    """Seeded simulated sensors: AR(1) noise around a base state, inventories drawn down.

    Each reading ``x[k+1] = base + phi * (x[k] - base) + sigma * e``, ``e ~ N(0, 1)``,
    per path of ``noise``; material inventories fall by ``production_rate * interval_s /
    3600 * consumption rate`` [kg] (``SIMULATION_PARAMETERS`` rates).

    Parameters
    ----------
    seed : int or numpy.random.Generator, optional
    base_state : dict, optional
        Values the readings revert to (default :func:`default_state`).
    noise : dict, optional
        ``{dotted_path: sigma}``; default :data:`DEFAULT_NOISE`.
    phi : float
        AR(1) persistence in [0, 1).
    interval_s : float
        Time between readings [s]; timestamps start at ``start`` (default now).
    n : int, optional
        Number of readings before the source is exhausted (``None``: endless).
    config : CircmanConfig, optional
        Consumption rates [kg/module]; defaults 0.5 (wafer) and 0.2 (glass).
    """

    def __init__(
        self,
        seed: int | np.random.Generator | None = None,
        *,
        base_state: Mapping[str, Any] | None = None,
        noise: Mapping[str, float] | None = None,
        phi: float = 0.9,
        interval_s: float = 1.0,
        start: datetime | None = None,
        n: int | None = None,
        config: Any = None,
    ) -> None:
        if not 0.0 <= phi < 1.0:
            raise ParameterError(f"phi must be in [0, 1), got {phi}", name="phi", value=phi)
        if not interval_s > 0:
            raise ParameterError("interval_s must be > 0", name="interval_s", value=interval_s)
        self.name = "simulated_sensors"
        self.rng = np.random.default_rng(seed)
        base = flatten_state(base_state or default_state(config))
        self.noise = dict(DEFAULT_NOISE if noise is None else noise)
        for path in self.noise:
            if not isinstance(base.get(path), int | float):
                raise ParameterError(
                    f"noise path {path!r} is not a numeric field of the base state",
                    name="noise",
                    value=path,
                )
        self._paths = list(self.noise)
        self._base = np.array([float(base[p]) for p in self._paths])
        self._sigma = np.array([float(self.noise[p]) for p in self._paths])
        self._x = self._base.copy()
        self.phi = float(phi)
        self.interval_s = float(interval_s)
        self._t = start or datetime.now()
        self._n = n
        self._count = 0
        sp = config.digital_twin.SIMULATION_PARAMETERS if config is not None else None
        self._rates = {
            "silicon_wafer": sp.silicon_wafer_consumption_rate if sp else 0.5,
            "solar_glass": sp.solar_glass_consumption_rate if sp else 0.2,
        }
        self._inventory = {m: float(base.get(f"materials.{m}.inventory", 0.0)) for m in self._rates}
        self._rate_index = (
            self._paths.index("production_line.production_rate")
            if "production_line.production_rate" in self._paths
            else None
        )
        self._base_rate = float(base.get("production_line.production_rate", 0.0))

    @property
    def exhausted(self) -> bool:
        return self._n is not None and self._count >= self._n

    def read(self) -> dict[str, Any] | None:
        """Return the next reading (a partial state with a timestamp)."""
        if self.exhausted:
            return None
        e = self.rng.standard_normal(len(self._paths))
        self._x = self._base + self.phi * (self._x - self._base) + self._sigma * e
        flat: dict[str, Any] = {"timestamp": self._t.isoformat()}
        for path, value in zip(self._paths, self._x, strict=True):
            lo, hi = _clip_range(path)
            flat[path] = float(min(max(value, lo), hi))
        rate = flat.get("production_line.production_rate", self._base_rate)
        modules = rate * self.interval_s / 3600.0
        for material, kg_per_module in self._rates.items():
            use = min(modules * kg_per_module, self._inventory[material])
            self._inventory[material] -= use
            flat[f"materials.{material}.inventory"] = self._inventory[material]
            flat[f"materials.{material}.consumption"] = use
        self._t += timedelta(seconds=self.interval_s)
        self._count += 1
        return nest_dotted(flat)


class ManualInputSource:
    """Operator input: a thread-safe queue of partial states (``put`` them, the twin reads)."""

    def __init__(self, items: list[Mapping[str, Any]] | None = None) -> None:
        self.name = "manual_input"
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._closed = False
        for item in items or ():
            self.put(item)

    def put(self, data: Mapping[str, Any]) -> None:
        """Queue a partial state (validated now, so a typo is reported to whoever typed it).

        As a twin update (:func:`~circman_kernel.core.state_merge.merge_state`): a typo
        raises with a did-you-mean, dotted keys are paths.
        """
        if not isinstance(data, Mapping):
            raise StateValidationError(
                f"manual input must be a mapping, got {type(data).__name__}", path="", value=data
            )
        self._queue.put(merge_state({}, data))

    def close(self) -> None:
        """No more input: the source is exhausted once the queue is empty."""
        self._closed = True

    @property
    def exhausted(self) -> bool:
        return self._closed and self._queue.empty()

    def read(self) -> dict[str, Any] | None:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None
