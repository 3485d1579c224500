"""Values that size work have upper bounds checked at load (issue 20, item 6).

Found by hand: ``MODEL.training_samples = 1e12`` ended in numpy's ``_ArrayMemoryError``
(43.7 TiB), ``PARETO.population_size = 1e9`` tried 22.4 GiB, unknown ``OBJECTIVE_WEIGHTS``
keys passed ``load_config`` and failed only at use, and a 2.5 M-key section took 4-9 s and
773 MB to load.
"""

from __future__ import annotations

import json
import shutil
import time
import tracemalloc
from pathlib import Path

import pytest
from conftest import REPO

from circman_kernel.ai.model_parts import TARGETS
from circman_kernel.core.config import MAX_CONFIG_BYTES, load_config
from circman_kernel.core.config_fields import MAX_MAP_KEYS
from circman_kernel.core.config_schema import OBJECTIVE_NAMES
from circman_kernel.core.errors import ConfigError


def _folder(tmp_path: Path, stem: str, section: str, key: str | None, value) -> Path:
    folder = tmp_path / "cfg"
    shutil.copytree(REPO / "configs", folder)
    path = folder / f"{stem}.json"
    data = json.loads(path.read_text())
    if key is None:
        data[section] = value
    else:
        data[section][key] = value
    path.write_text(json.dumps(data))
    return folder


# (file, section, key, a value past the bound, the bound)
TOO_BIG = [
    ("optimization", "MODEL", "training_samples", 10**12, 1_000_000),
    ("optimization", "MODEL", "n_estimators", 10**7, 10_000),
    ("optimization", "MODEL", "max_depth", 10**4, 64),
    ("optimization", "MODEL", "cv_folds", 10**6, 100),
    ("optimization", "MODEL", "horizon_steps", 10**9, 10_000),
    ("optimization", "PARETO", "population_size", 10**9, 10_000),
    ("optimization", "PARETO", "generations", 10**9, 10_000),
    ("optimization", "SOLVER", "maxiter", 10**9, 100_000),
    ("digital_twin", "DIGITAL_TWIN_CONFIG", "simulation_steps", 10**10, 1_000_000),
    ("digital_twin", "DIGITAL_TWIN_CONFIG", "history_length", 10**10, 10_000_000),
    ("digital_twin", "SIMULATION_PARAMETERS", "default_simulation_steps", 10**10, 1_000_000),
    ("digital_twin", "EVENT_NOTIFICATION", "max_events", 10**10, 10_000_000),
]


@pytest.mark.parametrize(("stem", "section", "key", "value", "bound"), TOO_BIG)
def test_sizes_past_their_bound_fail_at_load(tmp_path, stem, section, key, value, bound):
    folder = _folder(tmp_path, stem, section, key, value)
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    err = info.value
    assert (err.file, err.key, err.value) == (f"{stem}.json", f"{section}.{key}", value)
    assert str(err).startswith(f"{stem}.json: {section}.{key}: ")
    assert f"less than or equal to {bound}" in str(err)
    # the bound itself is accepted
    assert load_config(_folder(tmp_path / "ok", stem, section, key, bound)) is not None


def test_unknown_objective_weight_fails_at_load_with_did_you_mean(tmp_path) -> None:
    weights = {"efficency": -100.0, "energy_used": 0.1}
    folder = _folder(tmp_path, "optimization", "OBJECTIVE_WEIGHTS", None, weights)
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    assert info.value.key == "OBJECTIVE_WEIGHTS.efficency"
    assert "did you mean 'efficiency'?" in str(info.value)
    assert str(info.value).startswith("optimization.json: OBJECTIVE_WEIGHTS.efficency: ")


def test_objective_names_are_the_surrogate_outcomes() -> None:
    assert tuple(OBJECTIVE_NAMES) == tuple(TARGETS)


def test_a_huge_section_is_refused_fast(tmp_path) -> None:
    many = {f"material_{i}": 1.0 for i in range(2_500_000)}
    folder = _folder(tmp_path, "impact_factors", "MATERIAL_IMPACT_FACTORS", None, many)
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match=f"at most {MAX_CONFIG_BYTES:,} bytes") as info:
            load_config(folder)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # refused from its size, unread: parsing it took 4-9 s and 773 MB
    assert peak < MAX_CONFIG_BYTES, f"{peak:,} bytes allocated"
    assert info.value.file == "impact_factors.json"


def test_a_section_of_too_many_keys_is_refused(tmp_path, config) -> None:
    many = {f"material_{i}": 1.0 for i in range(50_000)}  # a file under the byte limit
    folder = _folder(tmp_path, "impact_factors", "MATERIAL_IMPACT_FACTORS", None, many)
    with pytest.raises(ConfigError, match=f"has 50000 keys; at most {MAX_MAP_KEYS}") as info:
        load_config(folder)
    assert info.value.key == "MATERIAL_IMPACT_FACTORS"
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="at most 1000"):
        config.with_overrides({"optimization.OBJECTIVE_WEIGHTS": dict.fromkeys(map(str, many))})
    assert time.perf_counter() - start < 0.5
