"""``circman runs list|show|compare|export|import|sql|pull|push``: the run store from the shell.

``--db`` / ``$CIRCMAN_DB`` is the store: a DuckDB file (default ``data/circman.duckdb``)
or the team store's ``postgresql://`` URL. ``pull --from URL`` copies the team store's runs
into the local file for heavy SQL, ``push --to URL`` the other way. Text from the store
is printed with control characters escaped (a run named ``a\\x1b[31m`` cannot recolour
the terminal); ``runs sql`` stops at its time limit, on Ctrl-C (exit 130) and on SIGTERM
(exit 143) with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from circman_kernel.cli import rerun as rerun_command
from circman_kernel.store.schema import KINDS

if TYPE_CHECKING:
    import pandas as pd

    from circman_kernel.store.run_store import RunStore

_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def register(sub: argparse._SubParsersAction) -> None:
    runs = sub.add_parser("runs", help="list, compare, export, query, pull and push stored runs")
    rsub = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)

    ls = rsub.add_parser("list", help="list runs, newest first")
    ls.add_argument("--kind", action="append", choices=KINDS, help="only runs of this kind")
    ls.add_argument("--tag", action="append", help="only runs carrying this tag (repeatable)")
    ls.add_argument("--name", help="only runs with exactly this name")
    ls.add_argument("--limit", type=int, default=50, help="at most this many rows (default 50)")
    ls.add_argument("--json", action="store_true", help="print JSON records")
    ls.set_defaults(func=_list)

    show = rsub.add_parser("show", help="one run's metadata, parameters and KPIs")
    show.add_argument("run_id")
    show.set_defaults(func=_show)

    cmp_ = rsub.add_parser("compare", help="KPIs of two or more runs side by side")
    cmp_.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    cmp_.add_argument("--json", action="store_true", help="print JSON")
    cmp_.set_defaults(func=_compare)

    exp = rsub.add_parser("export", help="write runs as Parquet files into a folder")
    exp.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    exp.add_argument("--out", required=True, help="folder to create (must be new or empty)")
    exp.add_argument(
        "--force", action="store_true", help="write into a non-empty folder, replacing an export"
    )
    exp.set_defaults(func=_export)

    imp = rsub.add_parser("import", help="add the runs of an exported folder (all or nothing)")
    imp.add_argument("folder")
    imp.set_defaults(func=_import)

    sql = rsub.add_parser("sql", help="run a SQL query (read-only) and print the result")
    sql.add_argument("query", help="SQL with ? placeholders")
    sql.add_argument("--param", action="append", default=[], help="bound value for ? (repeatable)")
    sql.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    sql.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="stop the query after S seconds (0: no limit; default $CIRCMAN_QUERY_TIMEOUT or 60)",
    )
    sql.set_defaults(func=_sql)

    for name, flag, helptext, func in (
        ("pull", "--from", "copy runs of another store (the team store) into --db", _pull),
        ("push", "--to", "copy runs of --db into another store (the team store)", _push),
    ):
        p = rsub.add_parser(name, help=helptext)
        p.add_argument(
            flag, dest="other", required=True, metavar="URL",
            help="postgresql://user@host:port/db, a libpq keyword string or a DuckDB path",
        )  # fmt: skip
        p.add_argument("--kind", action="append", choices=KINDS, help="only runs of this kind")
        p.add_argument("--since", help="only runs created at or after this ISO time (UTC)")
        p.set_defaults(func=func)

    rerun_command.register(rsub)


def _store(args: argparse.Namespace) -> RunStore:
    from circman_kernel.store.run_store import RunStore

    return RunStore(args.db)


def printable(text: str) -> str:
    """``text`` with control and format characters escaped (``\\x1b``, ``\\n``, ``\\u202e``)."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list | tuple) or type(value).__name__ == "ndarray":
        return [_cell(v) for v in value]
    return value


def escaped(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text (cells, column names, index) is :func:`printable`."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype) == "str":
            out[col] = [_cell(v) for v in out[col]]
    out.columns = [printable(str(c)) for c in out.columns]
    out.index = [printable(str(i)) if isinstance(i, str) else i for i in out.index]
    return out


def json_text(text: str) -> str:
    """JSON ``text`` with the characters JSON leaves raw (C1, bidi overrides) escaped."""
    # JSON escapes C0 controls itself; escape the rest (C1, bidi overrides) the JSON way
    return "".join(ch if ch.isprintable() or ch == "\n" else _json_escape(ch) for ch in text)


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a surrogate pair, as JSON spells characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _print_frame(df: pd.DataFrame, *, as_json: bool = False, as_csv: bool = False) -> None:
    import pandas as pd

    if as_json:
        print(json_text(df.to_json(orient="records", date_format="iso", force_ascii=False)))
    elif as_csv:
        (escaped(df) if sys.stdout.isatty() else df).to_csv(sys.stdout, index=False)
    elif df.empty:
        print("(no rows)")
    else:
        with pd.option_context("display.max_colwidth", 60, "display.width", 200):
            print(escaped(df).to_string(index=False))


def _list(args: argparse.Namespace) -> int:
    df = _store(args).runs(args.kind, name=args.name, tags=args.tag, limit=args.limit)
    if not args.json:
        df = df[["id", "kind", "name", "created_at", "status", "duration_s", "tags"]]
    _print_frame(df, as_json=args.json)
    return 0


def _show(args: argparse.Namespace) -> int:
    run = _store(args).get_run(args.run_id)
    print(json_text(json.dumps(run, indent=2, default=str, ensure_ascii=False)))
    return 0


def _compare(args: argparse.Namespace) -> int:
    wide = _store(args).compare(args.run_ids)
    if args.json:
        print(json_text(wide.to_json(orient="index", force_ascii=False)))
    else:
        print(escaped(wide).to_string())
    return 0


def _export(args: argparse.Namespace) -> int:
    folder = _store(args).export_runs(args.run_ids, args.out, force=args.force)
    print(f"exported {len(args.run_ids)} runs to {folder}")
    return 0


def _import(args: argparse.Namespace) -> int:
    ids = _store(args).import_runs(args.folder)
    print(f"imported {len(ids)} runs: {' '.join(ids)}")
    return 0


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that a running query is cancelled first."""


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    def handler(signum: int, frame: Any) -> None:
        raise _Terminated

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave SIGTERM alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _sql(args: argparse.Namespace) -> int:
    try:
        with _sigterm_raises():
            df = _store(args).query(args.query, args.param, timeout_s=args.timeout)
    except KeyboardInterrupt:
        print("circman runs sql: interrupted (Ctrl-C); the query was cancelled", file=sys.stderr)
        return 130
    except _Terminated:
        print("circman runs sql: terminated (SIGTERM); the query was cancelled", file=sys.stderr)
        return 143
    _print_frame(df, as_csv=args.csv)
    return 0


def _transfer(args: argparse.Namespace, direction: str) -> int:
    from circman_kernel.store.run_store import RunStore

    here, other = _store(args), RunStore(args.other)
    src, dst = (other, here) if direction == "pull" else (here, other)
    ids = dst.pull_runs(src, kind=args.kind, since=args.since)
    verb = "pulled" if direction == "pull" else "pushed"
    if ids:
        print(f"{verb} {len(ids)} runs from {src.path} to {dst.path}")
    else:
        print(f"nothing to {direction}: {dst.path} already has every matching run of {src.path}")
    return 0


def _pull(args: argparse.Namespace) -> int:
    return _transfer(args, "pull")


def _push(args: argparse.Namespace) -> int:
    return _transfer(args, "push")
