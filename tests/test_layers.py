"""The package's architecture as a test: subpackages import only the layers below them.

Every import of every module is read with :mod:`ast` (also imports inside functions and
``importlib.import_module`` calls with a literal name), so an upward edge cannot hide in a
deferred import.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "circman_kernel"
MAX_LINES = 450

# Subpackage -> the subpackages it may import. The order follows the data flow:
# core <- {store, lca} <- simulation <- twin <- ai <- {apps, teaching} <- server <- cli.
# The simulation runs from a state dict whose schema lives in core, so it needs no twin;
# DigitalTwin.simulate composes the engine, so the twin sits above the simulation. The LCA
# is arithmetic on impact factors (configuration), used by scenarios' and optimisers'
# carbon objectives, so it sits just above core. The store knows nothing but core.
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "store": frozenset({"core"}),
    "lca": frozenset({"core"}),
    "simulation": frozenset({"core", "lca"}),
    "twin": frozenset({"core", "lca", "simulation"}),
    "ai": frozenset({"core", "lca", "simulation", "twin"}),
    "apps": frozenset({"core", "lca", "simulation", "twin", "ai", "store"}),
    "teaching": frozenset({"core", "lca", "simulation", "twin", "ai", "store"}),
    "server": frozenset({"core", "lca", "simulation", "twin", "ai", "store", "apps", "teaching"}),
    "cli": frozenset(
        {"core", "lca", "simulation", "twin", "ai", "store", "apps", "teaching", "server"}
    ),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str:
    """Return the module ``name`` refers to (an attribute import names its module)."""
    mods = _modules()
    while name not in mods and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


@cache
def _imports(module: str) -> frozenset[str]:
    """Return every circman_kernel module ``module`` imports, at any depth of its code."""
    path = _modules()[module]
    return _imports_in(module, path.read_text(encoding="utf-8"), path.name == "__init__.py")


def _imports_in(module: str, source: str, is_pkg: bool) -> frozenset[str]:
    tree = ast.parse(source)
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # "from pkg import sub" imports the submodule pkg.sub when there is one
            targets = [f"{prefix}.{a.name}" for a in node.names] or [prefix]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"import_module", "find_spec"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            targets = [node.args[0].value]
        for t in targets:
            if t == "circman_kernel" or t.startswith("circman_kernel."):
                found.add(_resolve(t))
    found.discard(module)
    return frozenset(found)


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_module_is_in_a_known_subpackage() -> None:
    loose = [m for m in _modules() if m != "circman_kernel" and _layer(m) not in ALLOWED]
    assert loose == [], f"modules outside the layout: {loose}"


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_subpackage_imports_only_layers_below(layer: str) -> None:
    bad = []
    for module in _modules():
        if _layer(module) != layer:
            continue
        for target in sorted(_imports(module)):
            other = _layer(target)
            if other is None:
                bad.append(f"{module} -> {target} (the top-level package sits above all)")
            elif other != layer and other not in ALLOWED[layer]:
                bad.append(f"{module} -> {target}")
    assert bad == [], "upward imports:\n" + "\n".join(bad)


def test_no_import_cycle() -> None:
    graph = {m: _imports(m) for m in _modules()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_modules_stay_short() -> None:
    long = {
        m: n
        for m, p in _modules().items()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"modules over {MAX_LINES} lines: {long}"


def test_every_subpackage_says_what_it_owns() -> None:
    for layer in ALLOWED:
        doc = ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text()))
        assert doc and "Owns" in doc and "import" in doc, f"{layer}/__init__.py docstring"


def test_layer_reader_sees_deferred_relative_and_dynamic_imports() -> None:
    src = (
        "import importlib\n"
        "from . import results\n"
        "def f():\n"
        "    from circman_kernel.ai import model\n"
        "    from circman_kernel.simulation.engine import SimulationEngine\n"
        "    importlib.import_module('circman_kernel.store.run_store')\n"
    )
    assert _imports_in("circman_kernel.lca.analyzer", src, False) == {
        "circman_kernel.lca.results",
        "circman_kernel.ai.model",
        "circman_kernel.simulation.engine",
        "circman_kernel.store.run_store",
    }
