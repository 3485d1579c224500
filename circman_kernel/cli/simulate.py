"""``circman simulate`` and ``circman scenario list|create|delete|run|compare``."""

from __future__ import annotations

import argparse
import json
import math
import sys

from circman_kernel.cli.runs import escaped, json_text
from circman_kernel.core.errors import ParameterError


def register(sub: argparse._SubParsersAction) -> None:
    sim = sub.add_parser("simulate", help="simulate the line (one run or Monte Carlo); print KPIs")
    _common(sim)
    sim.add_argument("--iterations", type=int, default=1, help="Monte Carlo iterations (default 1)")
    sim.add_argument("--uncertainty", type=float, default=0.1, help="relative parameter spread")
    sim.add_argument("--name", help="name of the stored run")
    sim.set_defaults(func=_simulate)

    sc = sub.add_parser("scenario", help="named what-if scenarios: list, create, run, compare")
    ssub = sc.add_subparsers(dest="scenario_command", metavar="ACTION", required=True)
    ls = ssub.add_parser("list", help="list stored scenarios")
    ls.add_argument("--json", action="store_true", help="print JSON records")
    ls.set_defaults(func=_list)
    cr = ssub.add_parser("create", help="store a scenario (parameter overrides)")
    cr.add_argument("name")
    cr.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE")
    cr.add_argument("--description", default="")
    cr.add_argument("--update", action="store_true", help="replace an existing scenario")
    cr.set_defaults(func=_create)
    de = ssub.add_parser("delete", help="delete a stored scenario")
    de.add_argument("name")
    de.set_defaults(func=_delete)
    run = ssub.add_parser("run", help="simulate a stored scenario")
    run.add_argument("name")
    _common(run, params=False)
    run.set_defaults(func=_run)
    cmp_ = ssub.add_parser("compare", help="KPI table of scenarios against a baseline")
    cmp_.add_argument("names", nargs="+", metavar="NAME")
    cmp_.add_argument("--baseline", help="baseline scenario (default: the first)")
    _common(cmp_, params=False)
    cmp_.set_defaults(func=_compare)


def _common(p: argparse.ArgumentParser, *, params: bool = True) -> None:
    p.add_argument("--steps", type=int, help="steps (default: SIMULATION_PARAMETERS)")
    p.add_argument("--seed", type=int, help="random seed (default: fresh, recorded)")
    if params:
        p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                       help="parameter override, e.g. -p cycle_time=25 (repeatable)")  # fmt: skip
    p.add_argument("--no-store", action="store_true", help="do not save the run")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def _parse_params(items: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ParameterError(f"--param expects KEY=VALUE, got {item!r}", name="param")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            out[key.strip()] = value.strip()
    return out


def _config(args: argparse.Namespace):
    from circman_kernel.core.config import load_config

    return load_config(args.config_dir)


def _store(args: argparse.Namespace, *, always: bool = False):
    if getattr(args, "no_store", False) and not always:
        return None
    from circman_kernel.store.run_store import RunStore

    return RunStore(args.db)


def _print_kpis(kpis: dict[str, float], run_id: str | None, as_json: bool) -> None:
    if as_json:
        clean = {
            k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in kpis.items()
        }
        print(json.dumps({"run_id": run_id, "kpis": clean}))
        return
    width = max(map(len, kpis))
    for k, v in kpis.items():
        print(f"{k:<{width}}  {v:,.4g}")
    if run_id:
        print(f"stored as run {run_id}")


def _simulate(args: argparse.Namespace) -> int:
    from tqdm import tqdm  # the terminal bar on stderr, even when IPython is loaded

    from circman_kernel.simulation.engine import SimulationEngine

    engine = SimulationEngine(_config(args), store=_store(args))
    params = _parse_params(args.param)
    if args.iterations == 1:
        with tqdm(total=1, desc="simulate", leave=False, file=sys.stderr, disable=None) as bar:
            res = engine.run_simulation(args.steps, None, params, seed=args.seed, name=args.name)
            bar.update()
        print(f"simulated {len(res) - 1} steps (seed {res.seed})") if not args.json else None
        _print_kpis(res.kpis(), res.run_id, args.json)
        return 0
    mc = engine.run_monte_carlo_simulation(
        args.steps, None, params, args.iterations, args.uncertainty, seed=args.seed,
        chunk_size=max(1, math.ceil(args.iterations / 20)), progress=not args.json, name=args.name,
    )  # fmt: skip
    table = mc.kpis().describe(percentiles=[0.05, 0.5, 0.95]).T[["mean", "5%", "50%", "95%"]]
    if args.json:
        print(json.dumps({"run_id": mc.run_id, "kpis": table.to_dict(orient="index")}))
        return 0
    print(f"Monte Carlo: {mc.iterations} iterations x {mc.steps} steps (seed {mc.seed})")
    print(table.to_string(float_format=lambda v: f"{v:,.4g}"))
    if mc.run_id:
        print(f"stored as run {mc.run_id}")
    return 0


def _manager(args: argparse.Namespace, *, store: bool = True):
    from circman_kernel.simulation.scenarios import ScenarioManager

    return ScenarioManager(_config(args), store=_store(args, always=True) if store else None)


def _list(args: argparse.Namespace) -> int:
    # names and descriptions are anyone's text: control characters are printed escaped
    frame = _manager(args).list_scenarios()
    if args.json:
        print(json_text(frame.to_json(orient="records", force_ascii=False)))
    elif frame.empty:
        print("no scenarios")
    else:
        frame = frame.assign(parameters=[json.dumps(p) for p in frame["parameters"]])
        print(escaped(frame).to_string(index=False))
    return 0


def _create(args: argparse.Namespace) -> int:
    manager = _manager(args)
    params = _parse_params(args.param)
    if args.update:
        sc = manager.update_scenario(args.name, params or None, args.description or None)
    else:
        sc = manager.create_scenario(args.name, params, args.description)
    print(f"scenario {sc.name!r}: {json.dumps(dict(sc.parameters))}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    if not _manager(args).delete_scenario(args.name):
        print(f"no scenario named {args.name!r}")
        return 1
    print(f"deleted scenario {args.name!r}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm  # the terminal bar on stderr, even when IPython is loaded

    manager = _manager(args)
    sc = manager.get_scenario(args.name)
    if args.no_store:
        manager.store = None
    with tqdm(total=1, desc=f"scenario {sc.name}", leave=False, file=sys.stderr,
              disable=None) as bar:  # fmt: skip
        res = manager.run_scenario(sc, args.steps, seed=args.seed)
        bar.update()
    if not args.json:
        print(f"scenario {sc.name!r}: {len(res) - 1} steps (seed {res.seed})")
    _print_kpis(res.kpis(), res.run_id, args.json)
    return 0


def _compare(args: argparse.Namespace) -> int:
    import pandas as pd

    manager = _manager(args)
    kwargs = {"steps": args.steps} if args.steps is not None else {}
    table = manager.compare_scenarios(
        args.names, baseline=args.baseline, seed=0 if args.seed is None else args.seed, **kwargs
    )
    if args.json:
        print(table.to_json(orient="index"))
        return 0
    shown = [c for c in table.columns if not c.endswith("_pct")]
    with pd.option_context("display.width", 200):
        print(f"baseline: {table.attrs['baseline']}")
        print(table[shown].T.to_string(float_format=lambda v: f"{v:,.4g}"))
    return 0
