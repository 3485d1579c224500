"""Hostile sensor CSVs end in a typed error naming file and line (issue 20, item 7).

Found by hand: latin-1 bytes raised ``UnicodeDecodeError`` and a field over 131,072
characters ``_csv.Error`` even with ``on_error="skip"``; a UTF-8 BOM gave "header has no
'timestamp' column"; ``2_2`` parsed as 22.0; with a duplicated column the last silently
won; timestamps running backwards passed without a word.
"""

from __future__ import annotations

import pytest

from circman_kernel.core.errors import DataSourceError
from circman_kernel.twin.sources import MAX_LINE_CHARS, CSVReplaySource

HEADER = b"timestamp,batch_id,production_line.temperature\n"


def _row(second: int, batch: bytes = b"B-1", temp: bytes = b"22.5") -> bytes:
    return b"2025-02-24T06:00:%02d,%s,%s\n" % (second, batch, temp)


def _file(tmp_path, *rows: bytes, header: bytes = HEADER):
    path = tmp_path / "shift.csv"
    path.write_bytes(header + b"".join(rows))
    return path


def _temps(source: CSVReplaySource) -> list[float]:
    return [r["production_line"]["temperature"] for r in source]


# each case: the bad row (line 3 of the file, between two good ones) and the message
BAD_ROWS = {
    "latin-1 bytes": (_row(1, batch=b"B-\xe9t\xe9"), "not UTF-8"),
    "field over 131,072 characters": (
        b'2025-02-24T06:00:01,"' + b"x" * 200_000 + b'",22.5\n',
        "not CSV: field larger than field limit",
    ),
    "line over the line limit": (
        b"2025-02-24T06:00:01," + b"x" * (MAX_LINE_CHARS + 10) + b",22.5\n",
        f"line longer than {MAX_LINE_CHARS:,} characters",
    ),
    "underscore in a number": (_row(1, temp=b"2_2"), "'2_2' is not a finite decimal number"),
    "inf": (_row(1, temp=b"inf"), "'inf' is not a finite decimal number"),
    "nan": (_row(1, temp=b"NaN"), "'NaN' is not a finite decimal number"),
    "overflow": (_row(1, temp=b"1e999"), "'1e999' is not a finite decimal number"),
    "hex": (_row(1, temp=b"0x16"), "'0x16' is not a finite decimal number"),
    "time runs backwards": (
        b"2025-02-24T05:59:59,B-1,23.0\n",
        "earlier than the previous reading's (line 2): time runs backwards",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_bad_row_raises_naming_file_and_line(tmp_path, case: str) -> None:
    bad, message = BAD_ROWS[case]
    path = _file(tmp_path, _row(0, temp=b"21.0"), bad, _row(2, temp=b"23.5"))
    source = CSVReplaySource(path)
    assert source.read()["production_line"]["temperature"] == 21.0
    with pytest.raises(DataSourceError) as info:
        source.read()
    assert str(info.value).startswith(f"{path}:3: ")
    assert message in str(info.value)
    assert (info.value.file, info.value.line) == (str(path), 3)
    assert source.read() is None and source.exhausted  # the replay ends at the error


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_bad_row_is_skipped_and_counted(tmp_path, case: str) -> None:
    bad, _ = BAD_ROWS[case]
    path = _file(tmp_path, _row(0, temp=b"21.0"), bad, _row(2, temp=b"23.5"), _row(3))
    source = CSVReplaySource(path, on_error="skip")
    assert _temps(source) == [21.0, 23.5, 22.5]
    assert source.skipped == 1 and source.skipped_lines == [3]


def test_a_byte_order_mark_is_read_as_utf8(tmp_path) -> None:
    path = _file(tmp_path, _row(0, batch="B-é".encode()), header=b"\xef\xbb\xbf" + HEADER)
    (row,) = list(CSVReplaySource(path))
    assert row["batch_id"] == "B-é" and row["timestamp"] == "2025-02-24T06:00:00"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"timestamp,production_line.temperature,production_line.temperature\n", "more than once"),
        (b"timestamp,b\xe9tch\n", "not UTF-8"),
        (b"time,production_line.temperature\n", "no 'timestamp' column"),
        (b"timestamp," + b"x" * MAX_LINE_CHARS + b"\n", "header longer than"),
        (b"timestamp,environment,environment.humidity\n", "both as a column and as the section"),
    ],
    ids=["duplicated-column", "latin-1-header", "no-timestamp", "huge-header", "leaf-and-section"],
)
def test_bad_header_always_raises(tmp_path, header: bytes, message: str) -> None:
    path = _file(tmp_path, b"2025-02-24T06:00:00,22.5,23.0\n", header=header)
    with pytest.raises(DataSourceError, match=message) as info:
        list(CSVReplaySource(path, on_error="skip"))
    assert info.value.line == 1 and f"{path}:1:" in str(info.value)


def test_plain_numbers_still_parse(tmp_path) -> None:
    rows = [_row(i, temp=t) for i, t in enumerate([b"22", b"-1.5", b"+.5", b"2.", b"1e1", b" 3 "])]
    assert _temps(CSVReplaySource(_file(tmp_path, *rows))) == [22.0, -1.5, 0.5, 2.0, 10.0, 3.0]


def test_equal_timestamps_are_not_backwards(tmp_path) -> None:
    path = _file(tmp_path, _row(5, temp=b"1"), _row(5, temp=b"2"), _row(6, temp=b"3"))
    assert _temps(CSVReplaySource(path)) == [1.0, 2.0, 3.0]


def test_an_unreadable_file_is_a_data_source_error(tmp_path) -> None:
    path = _file(tmp_path, _row(0))
    source = CSVReplaySource(path)
    path.unlink()
    path.mkdir()  # replaced before the replay starts (root reads any file, so no chmod)
    with pytest.raises(DataSourceError, match="cannot read: Is a directory") as info:
        source.read()
    assert info.value.file == str(path)
