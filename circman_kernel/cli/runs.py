"""``circman runs list|show|compare|export|import|sql``: the run store from the shell."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from circman_kernel.store.schema import KINDS

if TYPE_CHECKING:
    import pandas as pd

    from circman_kernel.store.run_store import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    runs = sub.add_parser("runs", help="list, compare, export and query stored runs")
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
    exp.add_argument("--out", required=True, help="folder to create (must not hold an export)")
    exp.set_defaults(func=_export)

    imp = rsub.add_parser("import", help="add the runs of an exported folder")
    imp.add_argument("folder")
    imp.set_defaults(func=_import)

    sql = rsub.add_parser("sql", help="run a SQL query (read-only) and print the result")
    sql.add_argument("query", help="SQL with ? placeholders")
    sql.add_argument("--param", action="append", default=[], help="bound value for ? (repeatable)")
    sql.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    sql.set_defaults(func=_sql)


def _store(args: argparse.Namespace) -> RunStore:
    from circman_kernel.store.run_store import RunStore

    return RunStore(args.db)


def _print_frame(df: pd.DataFrame, *, as_json: bool = False, as_csv: bool = False) -> None:
    import pandas as pd

    if as_json:
        print(df.to_json(orient="records", date_format="iso", force_ascii=False))
    elif as_csv:
        df.to_csv(sys.stdout, index=False)
    elif df.empty:
        print("(no rows)")
    else:
        with pd.option_context("display.max_colwidth", 60, "display.width", 200):
            print(df.to_string(index=False))


def _list(args: argparse.Namespace) -> int:
    df = _store(args).runs(args.kind, name=args.name, tags=args.tag, limit=args.limit)
    if not args.json:
        df = df[["id", "kind", "name", "created_at", "status", "duration_s", "tags"]]
    _print_frame(df, as_json=args.json)
    return 0


def _show(args: argparse.Namespace) -> int:
    run = _store(args).get_run(args.run_id)
    print(json.dumps(run, indent=2, default=str, ensure_ascii=False))
    return 0


def _compare(args: argparse.Namespace) -> int:
    wide = _store(args).compare(args.run_ids)
    if args.json:
        print(wide.to_json(orient="index", force_ascii=False))
    else:
        print(wide.to_string())
    return 0


def _export(args: argparse.Namespace) -> int:
    folder = _store(args).export_runs(args.run_ids, args.out)
    print(f"exported {len(args.run_ids)} runs to {folder}")
    return 0


def _import(args: argparse.Namespace) -> int:
    ids = _store(args).import_runs(args.folder)
    print(f"imported {len(ids)} runs: {' '.join(ids)}")
    return 0


def _sql(args: argparse.Namespace) -> int:
    _print_frame(_store(args).query(args.query, args.param), as_csv=args.csv)
    return 0
