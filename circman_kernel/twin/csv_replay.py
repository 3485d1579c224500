"""``CSVReplaySource``: replaying a timestamped sensor CSV, strict about what it reads.

A replay file is UTF-8 (a byte-order mark is allowed) whose header names dotted state
paths, each once; numbers are plain decimals; times do not run backwards. A row that
breaks a rule is a :class:`~circman_kernel.core.errors.DataSourceError` naming file and
line, or skipped and counted. Bytes that are not UTF-8 are read with ``surrogateescape``
so that they mark their own row instead of ending the file with a ``UnicodeDecodeError``;
lines are read at most :data:`MAX_LINE_CHARS` at a time, so a runaway line is never held
whole. Re-exported by :mod:`circman_kernel.twin.sources`.
"""

from __future__ import annotations

import csv
import logging
import math
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from circman_kernel.core.errors import DataSourceError, ParameterError
from circman_kernel.core.state_merge import _Invalid, _merge
from circman_kernel.core.state_schema import _NUM, SCHEMA, parse_timestamp

__all__ = ["MAX_LINE_CHARS", "CSVReplaySource"]

# Kept under the synchroniser's name: logging set up for the data feed still catches it.
log = logging.getLogger("circman.sync")


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
            try:
                line = fh.readline(MAX_LINE_CHARS)
            except OSError as exc:  # a disk or network share failing mid-file
                raise self._error(number + 1, f"cannot read: {exc}") from None
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
        try:
            fh = self.path.open(newline="", encoding="utf-8-sig", errors="surrogateescape")
        except OSError as exc:
            raise DataSourceError(
                f"{self.path}: cannot read: {exc.strerror or exc}", file=str(self.path)
            ) from None
        with fh:
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
