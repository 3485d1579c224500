"""``circman runs rerun RUN_ID``: re-run a stored run and say whether it is identical.

The work is :meth:`RunStore.rerun <circman_kernel.store.configs.StoreConfigs.rerun>`
(the re-runners are in :mod:`circman_kernel.cli.rerunners`); this module only adds the
sub-command to ``circman runs`` and prints the report. A run stored by another package
version is announced on stderr before it runs.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(rsub: argparse._SubParsersAction) -> None:
    """Add ``circman runs rerun`` to the ``runs`` command group."""
    p = rsub.add_parser(
        "rerun",
        help="re-run a stored run from its seed, parameters and configuration snapshot",
        description="Re-execute a stored simulation, Monte Carlo, scenario, sweep, replay, "
        "optimisation or LCA run with the configuration it was stored with and report "
        "'identical' or the first difference. Exit status 0 when identical, 1 otherwise.",
    )
    p.add_argument("run_id")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_rerun)


def _rerun(args: argparse.Namespace) -> int:
    from circman_kernel.store.run_store import RunStore

    store = RunStore(args.db)

    def notify(note: str) -> None:
        print(f"note: {note}", file=sys.stderr, flush=True)

    report = store.rerun(args.run_id, notify=notify)
    if args.json:
        diff = report.difference
        print(json.dumps({
            "run_id": report.run_id, "kind": report.kind, "identical": report.identical,
            "config": report.config_from, "stored_version": report.stored_version,
            "package_version": report.package_version, "detail": report.detail,
            "notes": list(report.notes),
            "difference": None if diff is None else {
                "variable": diff.variable, "step": diff.step, "iteration": diff.iteration,
                "stored": diff.stored, "rerun": diff.rerun,
            },
        }, default=str))  # fmt: skip
    else:
        print(report)
    return 0 if report.identical else 1
