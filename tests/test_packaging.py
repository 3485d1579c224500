"""The environment.yml for conda/Binder lists what pyproject.toml lists, and the lock pins it."""

from __future__ import annotations

import re
import tomllib

import yaml
from conftest import REPO


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
