"""``circman lca``: life-cycle assessment from a JSON of inputs, a twin state, or the default state."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from circman_kernel.core.errors import ParameterError

#: Keys of an inputs file and their defaults (None: required).
INPUT_KEYS: dict[str, Any] = {
    "material_inputs": None,
    "energy_consumption": None,
    "lifetime_years": 25.0,
    "annual_energy_generation": 0.0,
    "grid_carbon_intensity": "EU_average",
    "recycling_rates": {},
    "transport_distance": 100.0,
    "n_modules": None,
    "capacity_kwp": None,
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lca",
        help="life-cycle assessment (kg CO2-eq) of a JSON of inputs or a twin state",
        description="Assess manufacturing, use, end-of-life and recycling impact. INPUT is a "
        "JSON file holding either perform_full_lca's arguments (material_inputs, "
        "energy_consumption, lifetime_years, annual_energy_generation, grid_carbon_intensity, "
        "recycling_rates, transport_distance, optional n_modules, capacity_kwp) or a twin state "
        "(with 'materials'); without INPUT, the twin's default state.",
    )
    p.add_argument("input", nargs="?", help="JSON file of inputs or of a twin state")
    p.add_argument("--region", help="grid region the modules displace (e.g. EU_average, Sweden)")
    p.add_argument(
        "--profile", help="impact-factor profile: name in configs/impact_profiles/ or path"
    )
    p.add_argument("--samples", type=int, default=0, help="factor Monte Carlo samples (0: none)")
    p.add_argument("--seed", type=int, default=None, help="seed of the Monte Carlo draws")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_lca)


def _read_input(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError(f"{path}: input file not found", name="input") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: cannot read: {exc}", name="input") from None
    except json.JSONDecodeError as exc:
        raise ParameterError(
            f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            name="input",
        ) from None
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: expected a JSON object", name="input")
    return data


def _inputs(data: dict[str, Any], source: str) -> dict[str, Any]:
    unknown = sorted(set(data) - set(INPUT_KEYS))
    if unknown:
        raise ParameterError(
            f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(INPUT_KEYS)} "
            "(or give a twin state with 'materials')",
            name=unknown[0],
        )
    inputs = {k: data.get(k, default) for k, default in INPUT_KEYS.items()}
    missing = [k for k in ("material_inputs", "energy_consumption") if inputs[k] is None]
    if missing:
        raise ParameterError(f"{source}: missing {', '.join(missing)}", name=missing[0])
    return inputs


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def _lca(args: argparse.Namespace) -> int:
    from circman_kernel.core.config import load_config
    from circman_kernel.core.state_schema import default_state
    from circman_kernel.lca.analyzer import LCAAnalyzer
    from circman_kernel.lca.integration import LCAIntegration

    config = load_config(args.config_dir)
    analyzer = LCAAnalyzer(args.profile, config=config, config_dir=args.config_dir)
    data = _read_input(args.input) if args.input else None
    if data is None or "materials" in data:
        state = data if data is not None else default_state(config)
        source = args.input or "default twin state"
        integration = LCAIntegration(analyzer=analyzer, config=config)
        inputs = integration.lca_inputs_from_state(state)
    else:
        source = args.input
        inputs = _inputs(data, source)
    if args.region:
        inputs["grid_carbon_intensity"] = args.region
    impact = analyzer.perform_full_lca(**inputs)
    result: dict[str, Any] = {"source": source, **impact.to_dict()}
    uncertainty = None
    if args.samples:
        mc = analyzer.monte_carlo(**inputs, samples=args.samples, seed=args.seed)
        uncertainty = mc.percentiles()
        result["uncertainty"] = {
            phase: {k: float(v) for k, v in row.items()}
            for phase, row in uncertainty.to_dict(orient="index").items()
        }
    if args.json:
        json.dump(_finite(result), sys.stdout, indent=2)
        print()
        return 0
    print(
        f"LCA of {source} (profile {impact.profile}, grid "
        f"{inputs['grid_carbon_intensity']}), kg CO2-eq"
    )
    print(impact.to_frame().round(4).to_string())
    width = max(len(k) for k in result)
    for key in ("total_impact", "net_impact", "embodied_impact", *impact.functional_units()):
        print(f"{key:<{width}}  {result[key]:.6g}")
    if uncertainty is not None:
        print(f"\nMonte Carlo, {args.samples} samples (seed {args.seed}):")
        print(uncertainty.round(4).to_string())
    return 0
