"""``circman optimize``: optimise the line's settings on the surrogate, checked by physics."""

from __future__ import annotations

import argparse
import json
import math
import sys

from circman_kernel.core.errors import ParameterError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "optimize",
        help="optimise process settings on the surrogate; report the physics honesty check",
        description="Optimise the decision variables (target_temperature, "
        "temperature_regulation, cycle_time) from the twin's default state, print before/"
        "after and whether the process model reproduces the predicted gain.",
    )
    p.add_argument(
        "--objective",
        choices=["weighted", "efficiency", "quality"],
        default="weighted",
        help="weighted (OBJECTIVE_WEIGHTS), max efficiency, or max quality (default: weighted)",
    )
    p.add_argument(
        "--min-quality",
        type=float,
        default=0.9,
        help="efficiency objective: quality = 1 - defect_rate >= this (default 0.9)",
    )
    p.add_argument(
        "--max-energy", type=float, default=None, help="quality objective: energy_used <= this [kW]"
    )
    p.add_argument(
        "--constraint",
        "-c",
        action="append",
        default=[],
        metavar="NAME=MIN:MAX",
        help="bound an input or an outcome; MIN or MAX may be empty; NAME=VALUE "
        "for an equality (repeatable)",
    )
    p.add_argument(
        "--set",
        "-s",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="start state of the production line, e.g. temperature=28.5 (repeatable)",
    )
    p.add_argument(
        "--pareto",
        action="store_true",
        help="compute the Pareto front of output, energy and carbon (NSGA-II)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of starts and honesty check")
    p.add_argument("--no-store", action="store_true", help="do not store the run")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_optimize)


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"{what} {item!r}: expected NAME=VALUE", name=what, value=item)
        out[name.strip()] = value.strip()
    return out


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ParameterError(f"{name}: {text!r} is not a number", name=name, value=text) from None


def parse_constraints(items: list[str]) -> dict[str, object]:
    """Return constraints from ``NAME=MIN:MAX`` / ``NAME=VALUE`` strings."""
    out: dict[str, object] = {}
    for name, value in _pairs(items, "--constraint").items():
        if ":" in value:
            lo, _, hi = value.partition(":")
            out[name] = (_number(name, lo) if lo else None, _number(name, hi) if hi else None)
        else:
            out[name] = _number(name, value)
    return out


def _optimize(args: argparse.Namespace) -> int:
    import pandas as pd

    from circman_kernel.ai.integration import AIIntegration, _jsonable
    from circman_kernel.ai.model import ManufacturingModel
    from circman_kernel.ai.optimize import ProcessOptimizer
    from circman_kernel.core.config import load_config
    from circman_kernel.twin.digital_twin import DigitalTwin

    constraints = parse_constraints(args.constraint)
    state = {k: _number(k, v) for k, v in _pairs(args.set, "--set").items()}
    config = load_config(args.config_dir)
    store = None
    if not args.no_store and not args.pareto:
        from circman_kernel.store.run_store import RunStore

        store = RunStore(args.db)
    twin = DigitalTwin(config, seed=args.seed)
    twin.initialize()
    if state:
        twin.update({"production_line": state})
    model = ManufacturingModel.default(config)
    ai = AIIntegration(twin, model, ProcessOptimizer(model, config, seed=args.seed), store=store)

    if args.pareto:
        inputs = ai.model_inputs()
        variables = {
            n: inputs[n] for n in ("target_temperature", "temperature_regulation", "cycle_time")
        }
        fixed = {n: v for n, v in inputs.items() if n not in variables}
        front = ai.optimizer.optimize_pareto(variables, constraints, fixed=fixed, seed=args.seed)
        if args.json:
            json.dump(_jsonable(front.to_dict(orient="records")), sys.stdout, indent=2)
            print()
        else:
            print(f"Pareto front: {len(front)} points ({', '.join(front.attrs['objectives'])})")
            with pd.option_context("display.width", 200, "display.max_columns", 20):
                print(front.round(4).to_string(index=False))
        return 0

    ai.optimize_parameters(
        constraints=constraints,
        objective=args.objective,
        min_quality=args.min_quality,
        max_energy=args.max_energy,
    )
    result = ai.optimization_history[-1]
    if args.json:
        out = _jsonable(result.to_dict())
        out["run_id"] = ai.run_ids[-1] if ai.run_ids else None
        json.dump(out, sys.stdout, indent=2)
        print()
        return 0
    print(
        f"objective: {result.objective} (lower is better); solver {result.solver['method']}, "
        f"{result.solver['n_starts']} runs, {result.solver['runtime_s']:.3f} s"
    )
    with pd.option_context("display.width", 200, "display.max_columns", 10):
        print(result.to_frame().round(4).to_string(index=False))
    h = result.honesty
    print(f"predicted improvement: {result.predicted_improvement:.4g}")
    if h is not None:
        print(
            f"simulated improvement: {h.simulated_improvement:.4g} "
            f"(+/- {h.simulated_improvement_se:.2g} s.e., {h.iterations} seeded process runs)"
        )
        share = (
            f" ({100 * h.reproduced_share:.0f} % of the predicted gain)"
            if math.isfinite(h.reproduced_share)
            else ""
        )
        print(f"honesty check: {h.verdict.upper()}{share}")
        if h.simulated_violations:
            print(f"  constraints broken in simulation: {dict(h.simulated_violations)}")
    if result.out_of_training_range:
        print(f"  warning: outside the training data: {', '.join(result.out_of_training_range)}")
    if ai.run_ids:
        print(f"stored as run {ai.run_ids[-1]}")
    return 0
