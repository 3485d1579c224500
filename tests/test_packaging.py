"""The environment.yml for conda/Binder lists what pyproject.toml lists, and the lock pins it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import REPO

import circman_kernel


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    out: dict[str, str] = {}
    for req in reqs:
        name = _name(req)
        spec = req[len(name) :]
        extras = re.match(r"\[([^\]]+)\]", spec)
        if extras:  # conda has no extras: dask[distributed] is dask + distributed
            spec = spec[extras.end() :]
            for extra in extras.group(1).split(","):
                out[extra.strip().lower()] = spec
        out[name] = spec
    return out


def _conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    deps = [d for d in env["dependencies"] if isinstance(d, str)]
    out = {_name(d): d[len(_name(d)) :] for d in deps}
    assert out.pop("python") == "=3.11"
    out.pop("pip")
    return out


def test_environment_yml_matches_pyproject() -> None:
    assert _conda_requirements() == _pyproject_requirements()


def test_every_dependency_is_pinned_in_the_lock() -> None:
    lock = (REPO / "requirements.lock").read_text()
    pinned = {
        m.group(1).lower().replace("_", "-")
        for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==", lock, flags=re.M)
    }
    missing = set(_pyproject_requirements()) - pinned
    assert not missing, f"not pinned in requirements.lock (run `make lock`): {missing}"


# The manual's section 16.2: every public class and the methods it lists.
MANUAL_API = {
    "DigitalTwin": [
        "initialize", "update", "simulate", "get_current_state", "get_state_history",
        "save_state", "load_state",
    ],
    "StateManager": [
        "set_state", "update_state", "get_current_state", "get_history", "get_state_at_time",
        "clear_history", "validate_state", "export_state", "import_state",
    ],
    "EventManager": [  # the manual's event_manager
        "subscribe", "unsubscribe", "publish", "get_events", "acknowledge_event",
        "clear_events",
    ],
    "Event": [],
    "SimulationEngine": [],
    "ScenarioManager": [],
    "AIIntegration": [
        "extract_parameters_from_state", "predict_outcomes", "optimize_parameters",
        "apply_optimized_parameters", "generate_optimization_report",
        "train_model_from_digital_twin",
    ],
    "ManufacturingModel": [
        "train_optimization_model", "predict_batch_outcomes", "save_model", "load_model",
    ],
    "ProcessOptimizer": [
        "optimize_process_parameters", "optimize_for_efficiency", "optimize_for_quality",
    ],
    "LCAIntegration": [
        "extract_material_data_from_state", "extract_energy_data_from_state",
        "perform_lca_analysis", "compare_scenarios", "simulate_lca_improvements",
        "generate_lca_report",
    ],
    "LCAAnalyzer": [
        "perform_full_lca", "calculate_manufacturing_impact", "calculate_use_phase_impact",
        "calculate_end_of_life_impact",
    ],
    "LifeCycleImpact": [],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(MANUAL_API))
def test_manual_class_is_public_at_the_top_level(name: str) -> None:
    assert name in circman_kernel.__all__
    cls = getattr(circman_kernel, name)
    assert isinstance(cls, type) and cls.__name__ == name
    missing = [m for m in MANUAL_API[name] if not callable(getattr(cls, m, None))]
    assert missing == [], f"{name} lacks the manual's {missing}"


def test_top_level_imports_in_a_fresh_interpreter() -> None:
    # `from circman_kernel import X` goes through the lazy module __getattr__: check it
    # from nothing, with every name of __all__ (a star import).
    code = (
        "import circman_kernel\n"
        "from circman_kernel import *\n"
        f"from circman_kernel import {', '.join(sorted(MANUAL_API))}\n"
        "missing = [n for n in circman_kernel.__all__ if n not in globals()]\n"
        "assert not missing, missing\n"
        "print(len(circman_kernel.__all__))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == len(circman_kernel.__all__)


@pytest.mark.parametrize(
    "module", ["pandas.core.frame", "scipy.stats._stats_py", "plotly.basewidget"]
)
def test_installed_stack_is_bytecode_compiled(module: str) -> None:
    # `make install` compiles site-packages (uv --compile-bytecode): with
    # PYTHONDONTWRITEBYTECODE set, an uncompiled stack is compiled again by every kernel.
    import importlib.util

    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    cached = importlib.util.cache_from_source(spec.origin)
    assert Path(cached).is_file(), f"{module} has no bytecode at {cached}"
