"""Configuration: the manual's keys and values, precise errors, overrides and provenance hash."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from circman_kernel.core.config import CONFIG_FILES, default_config, load_config
from circman_kernel.core.errors import ConfigError

# The manual's section 16.1.1 / 16.1.2, written out by hand.
MANUAL_DIGITAL_TWIN = {
    "DIGITAL_TWIN_CONFIG": {
        "name": "SoliTek_DigitalTwin",
        "update_frequency": 1.0,
        "history_length": 1000,
        "simulation_steps": 10,
        "data_sources": ["sensors", "manual_input", "manufacturing_system"],
        "synchronization_mode": "real_time",
        "log_level": "INFO",
    },
    "SIMULATION_PARAMETERS": {
        "temperature_increment": 0.5,
        "energy_consumption_increment": 2.0,
        "production_rate_increment": 0.2,
        "default_simulation_steps": 10,
        "target_temperature": 22.5,
        "temperature_regulation": 0.1,
        "silicon_wafer_consumption_rate": 0.5,
        "solar_glass_consumption_rate": 0.2,
    },
    "EVENT_NOTIFICATION": {
        "persistence_enabled": True,
        "max_events": 1000,
        "default_alert_severity": "warning",
        "publish_state_changes": True,
        "publish_threshold_breaches": True,
        "publish_simulation_results": True,
    },
    "PARAMETER_THRESHOLDS": {
        "production_line.temperature": [18.0, 27.0],
        "production_line.energy_consumption": [0.0, 200.0],
        "production_line.production_rate": [0.0, 12.0],
        "environment.temperature": [15.0, 30.0],
        "environment.humidity": [30.0, 70.0],
    },
    "AI_INTEGRATION": {
        "DEFAULT_PARAMETERS": {
            "input_amount": 100.0,
            "energy_used": 50.0,
            "cycle_time": 30.0,
            "efficiency": 0.9,
            "defect_rate": 0.05,
            "thickness_uniformity": 95.0,
        },
        "PARAMETER_MAPPING": {
            "production_rate": "output_amount",
            "energy_consumption": "energy_used",
            "temperature": "temperature",
            "cycle_time": "cycle_time",
        },
        "OPTIMIZATION_CONSTRAINTS": {
            "energy_used": [10.0, 100.0],
            "cycle_time": [20.0, 60.0],
            "defect_rate": [0.01, 0.1],
        },
    },
}

MANUAL_IMPACT_FACTORS = {
    "MATERIAL_IMPACT_FACTORS": {
        "silicon_wafer": 120.0,
        "solar_glass": 25.0,
        "aluminum_frame": 40.0,
        "copper_wiring": 35.0,
        "silver_paste": 200.0,
        "EVA_encapsulant": 15.0,
        "backsheet": 18.0,
    },
    "ENERGY_IMPACT_FACTOR": 0.5,
    "GRID_CARBON_INTENSITIES": {
        "EU_average": 0.275,
        "US_average": 0.385,
        "China": 0.555,
        "Sweden": 0.013,
        "France": 0.055,
        "Germany": 0.338,
    },
    "TRANSPORT_IMPACT_FACTOR": 0.025,
    "DISPOSAL_IMPACT_FACTORS": {
        "silicon_wafer": 10.0,
        "solar_glass": 5.0,
        "aluminum_frame": 8.0,
        "copper_wiring": 7.0,
        "silver_paste": 15.0,
        "EVA_encapsulant": 12.0,
        "backsheet": 14.0,
    },
    "RECYCLING_BENEFIT_FACTORS": {
        "silicon_wafer": -80.0,
        "solar_glass": -20.0,
        "aluminum_frame": -35.0,
        "copper_wiring": -30.0,
        "silver_paste": -180.0,
    },
}


def _leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and key != "PARAMETER_THRESHOLDS":
            out.update(_leaves(value, path + "/"))
        elif isinstance(value, dict):
            out.update({f"{path}/{k}": v for k, v in value.items()})
        else:
            out[path] = value
    return out


@pytest.mark.parametrize(
    ("stem", "manual"),
    [("digital_twin", MANUAL_DIGITAL_TWIN), ("impact_factors", MANUAL_IMPACT_FACTORS)],
)
@pytest.mark.parametrize("source", ["files", "built-in"])
def test_every_manual_key_loads_with_the_manual_value(stem, manual, source, config) -> None:
    cfg = config if source == "files" else default_config()
    loaded = _leaves(cfg.to_dict()[stem])
    for path, expected in _leaves(manual).items():
        assert path in loaded, f"{stem}: {path} missing"
        assert loaded[path] == expected, f"{stem}: {path} = {loaded[path]!r}, manual {expected!r}"


def test_typed_access_and_tuples(config) -> None:
    dt = config.digital_twin
    assert dt.DIGITAL_TWIN_CONFIG.history_length == 1000
    assert dt.SIMULATION_PARAMETERS.temperature_regulation == 0.1
    assert dt.PARAMETER_THRESHOLDS["environment.humidity"] == (30.0, 70.0)
    assert dt.AI_INTEGRATION.PARAMETER_MAPPING["energy_consumption"] == "energy_used"
    assert config.impact_factors.GRID_CARBON_INTENSITIES["Sweden"] == 0.013


def test_config_is_immutable(config) -> None:
    with pytest.raises(Exception, match="frozen"):
        config.digital_twin.SIMULATION_PARAMETERS.target_temperature = 30.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.impact_factors.MATERIAL_IMPACT_FACTORS["silicon_wafer"] = 0.0  # type: ignore[index]
    with pytest.raises(TypeError):
        config.digital_twin.PARAMETER_THRESHOLDS["x.y"] = (0.0, 1.0)  # type: ignore[index]


# --------------------------------------------------------------------------- broken files


def _copy_configs(tmp_path: Path) -> Path:
    folder = tmp_path / "cfg"
    shutil.copytree(REPO / "configs", folder)
    return folder


def _edit(folder: Path, stem: str, change: Callable[[dict], Any]) -> None:
    path = folder / f"{stem}.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=4))


def _set(section: str, key: str, value: Any) -> Callable[[dict], None]:
    return lambda d: d[section].__setitem__(key, value)


BROKEN = [
    # (id, file stem, change or raw text, expected key path, text the message must contain)
    (
        "wrong type",
        "digital_twin",
        _set("SIMULATION_PARAMETERS", "target_temperature", "hot"),
        "SIMULATION_PARAMETERS.target_temperature",
        "valid number",
    ),
    (
        "NaN",
        "digital_twin",
        _set("SIMULATION_PARAMETERS", "temperature_regulation", math.nan),
        "SIMULATION_PARAMETERS.temperature_regulation",
        "finite",
    ),
    (
        "infinity",
        "impact_factors",
        lambda d: d.__setitem__("ENERGY_IMPACT_FACTOR", math.inf),
        "ENERGY_IMPACT_FACTOR",
        "finite",
    ),
    (
        "inverted bounds",
        "digital_twin",
        _set("PARAMETER_THRESHOLDS", "production_line.temperature", [27.0, 18.0]),
        "PARAMETER_THRESHOLDS.production_line.temperature",
        "lower bound 27.0 > upper bound 18.0",
    ),
    (
        "inverted constraint",
        "digital_twin",
        lambda d: d["AI_INTEGRATION"]["OPTIMIZATION_CONSTRAINTS"].__setitem__(
            "cycle_time", [60, 20]
        ),
        "AI_INTEGRATION.OPTIMIZATION_CONSTRAINTS.cycle_time",
        "lower bound 60.0 > upper bound 20.0",
    ),
    (
        "unknown key",
        "digital_twin",
        _set("SIMULATION_PARAMETERS", "target_temperture", 22.0),
        "SIMULATION_PARAMETERS.target_temperture",
        "did you mean 'target_temperature'",
    ),
    (
        "unknown section",
        "digital_twin",
        lambda d: d.__setitem__("SIMULATION_PARAMETER", {}),
        "SIMULATION_PARAMETER",
        "did you mean 'SIMULATION_PARAMETERS'",
    ),
    (
        "missing section",
        "digital_twin",
        lambda d: d.pop("EVENT_NOTIFICATION"),
        "EVENT_NOTIFICATION",
        "missing section",
    ),
    (
        "negative factor",
        "impact_factors",
        _set("MATERIAL_IMPACT_FACTORS", "silicon_wafer", -1.0),
        "MATERIAL_IMPACT_FACTORS.silicon_wafer",
        "greater than or equal to 0",
    ),
    (
        "positive recycling credit",
        "impact_factors",
        _set("RECYCLING_BENEFIT_FACTORS", "solar_glass", 20.0),
        "RECYCLING_BENEFIT_FACTORS.solar_glass",
        "less than or equal to 0",
    ),
    (
        "recycling of unknown material",
        "impact_factors",
        _set("RECYCLING_BENEFIT_FACTORS", "silicon_wafr", -80.0),
        "RECYCLING_BENEFIT_FACTORS.silicon_wafr",
        "did you mean 'silicon_wafer'",
    ),
    (
        "zero history",
        "digital_twin",
        _set("DIGITAL_TWIN_CONFIG", "history_length", 0),
        "DIGITAL_TWIN_CONFIG.history_length",
        "greater than or equal to 1",
    ),
    (
        "float where int",
        "digital_twin",
        _set("DIGITAL_TWIN_CONFIG", "history_length", 10.5),
        "DIGITAL_TWIN_CONFIG.history_length",
        "valid integer",
    ),
    (
        "string bool",
        "digital_twin",
        _set("EVENT_NOTIFICATION", "persistence_enabled", "yes"),
        "EVENT_NOTIFICATION.persistence_enabled",
        "valid boolean",
    ),
    (
        "bad enum",
        "digital_twin",
        _set("DIGITAL_TWIN_CONFIG", "synchronization_mode", "sometimes"),
        "DIGITAL_TWIN_CONFIG.synchronization_mode",
        "'real_time'",
    ),
    (
        "one-sided bounds",
        "digital_twin",
        _set("PARAMETER_THRESHOLDS", "environment.humidity", [30.0]),
        "PARAMETER_THRESHOLDS.environment.humidity",
        "[lower, upper] pair",
    ),
    (
        "bad threshold path",
        "digital_twin",
        _set("PARAMETER_THRESHOLDS", "production line/temp", [1.0, 2.0]),
        "PARAMETER_THRESHOLDS.production line/temp",
        "dotted path",
    ),
    (
        "rate above one",
        "digital_twin",
        _set("SIMULATION_PARAMETERS", "temperature_regulation", 1.5),
        "SIMULATION_PARAMETERS.temperature_regulation",
        "less than or equal to 1",
    ),
    (
        "threshold on a misspelt state field",
        "digital_twin",
        _set("PARAMETER_THRESHOLDS", "production_line.temprature", [18.0, 27.0]),
        "PARAMETER_THRESHOLDS.production_line.temprature",
        "did you mean 'production_line.temperature'",
    ),
    (
        "threshold on a material's misspelt field",
        "digital_twin",
        _set("PARAMETER_THRESHOLDS", "materials.solar_glass.inventroy", [0.0, 500.0]),
        "PARAMETER_THRESHOLDS.materials.solar_glass.inventroy",
        "did you mean 'materials.solar_glass.inventory'",
    ),
    (
        "threshold on a text field",
        "digital_twin",
        _set("PARAMETER_THRESHOLDS", "production_line.status", [0.0, 1.0]),
        "PARAMETER_THRESHOLDS.production_line.status",
        "unknown key 'production_line.status'",
    ),
    (
        "misspelt default parameter",
        "digital_twin",
        lambda d: d["AI_INTEGRATION"]["DEFAULT_PARAMETERS"].__setitem__("cycle_tme", 30.0),
        "AI_INTEGRATION.DEFAULT_PARAMETERS.cycle_tme",
        "did you mean 'cycle_time'",
    ),
    (
        "misspelt optimisation constraint",
        "digital_twin",
        lambda d: d["AI_INTEGRATION"]["OPTIMIZATION_CONSTRAINTS"].__setitem__(
            "defect_rat", [0.0, 0.1]
        ),
        "AI_INTEGRATION.OPTIMIZATION_CONSTRAINTS.defect_rat",
        "did you mean 'defect_rate'",
    ),
    (
        "misspelt default constraint",
        "optimization",
        _set("DEFAULT_CONSTRAINTS", "energy_use", [0.0, 200.0]),
        "DEFAULT_CONSTRAINTS.energy_use",
        "did you mean 'energy_used'",
    ),
    (
        "section not an object",
        "optimization",
        lambda d: d.__setitem__("SOLVER", [1, 2]),
        "SOLVER",
        "valid dictionary",
    ),
]


@pytest.mark.parametrize(
    ("case", "stem", "change", "key", "text"), BROKEN, ids=[b[0] for b in BROKEN]
)
def test_broken_config_names_file_and_key(tmp_path, case, stem, change, key, text) -> None:
    folder = _copy_configs(tmp_path)
    _edit(folder, stem, change)
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    err = info.value
    assert err.file == f"{stem}.json"
    assert err.key == key
    message = str(err)
    assert message.startswith(f"{stem}.json: {key}: ") or f"{stem}.json: missing section" in message
    assert text in message


RAW_BROKEN = [
    (
        "malformed JSON",
        '{\n  "DIGITAL_TWIN_CONFIG": {\n    "name": ,\n  }\n}',
        3,
        "malformed JSON at line 3",
    ),
    ("empty file", "", 1, "file is empty"),
    ("whitespace only", "  \n\n", 1, "file is empty"),
    ("trailing comma", '{"a": 1,}\n', 1, "malformed JSON at line 1"),
    ("not an object", "[1, 2, 3]", None, "top level must be a JSON object"),
]


@pytest.mark.parametrize(
    ("case", "text", "line", "fragment"), RAW_BROKEN, ids=[r[0] for r in RAW_BROKEN]
)
def test_unreadable_file_names_file_and_line(tmp_path, case, text, line, fragment) -> None:
    folder = _copy_configs(tmp_path)
    (folder / "digital_twin.json").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    assert info.value.file == "digital_twin.json"
    assert info.value.line == line
    assert fragment in str(info.value)


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a": ' * 50_000, "[" * 5000 + "]" * 5000])
def test_deeply_nested_json_is_a_config_error(tmp_path, text) -> None:
    folder = _copy_configs(tmp_path)
    (folder / "digital_twin.json").write_text(text)
    with pytest.raises(ConfigError, match=r"^digital_twin\.json: JSON nested too deeply") as info:
        load_config(folder)
    assert info.value.file == "digital_twin.json"


@pytest.mark.parametrize("wrap", [lambda v: [v], lambda v: {"k": v}], ids=["list", "dict"])
def test_deeply_nested_override_is_a_config_error(config, wrap) -> None:
    deep: Any = 1.0
    for _ in range(100_000):
        deep = wrap(deep)
    for key in ("SIMULATION_PARAMETERS.target_temperature", "SOLVER"):
        stem = "optimization" if key == "SOLVER" else "digital_twin"
        with pytest.raises(ConfigError) as info:
            config.with_overrides({f"{stem}.{key}": deep})
        assert str(info.value).startswith("override: ")
        assert len(str(info.value)) < 1000  # the bad value is quoted, cut short


def test_map_section_error_carries_the_bad_value(tmp_path) -> None:
    folder = _copy_configs(tmp_path)
    _edit(folder, "optimization", _set("DEFAULT_CONSTRAINTS", "cycle_tim", [25.0, 40.0]))
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    assert (info.value.file, info.value.key) == (
        "optimization.json",
        "DEFAULT_CONSTRAINTS.cycle_tim",
    )
    assert info.value.value == [25.0, 40.0]


def test_valid_map_keys_load(tmp_path) -> None:
    folder = _copy_configs(tmp_path)

    def change(d: dict) -> None:
        d["PARAMETER_THRESHOLDS"]["materials.solar_glass.inventory"] = [100.0, 500.0]
        d["PARAMETER_THRESHOLDS"]["production_line.defect_rate"] = [0.0, 0.05]
        d["AI_INTEGRATION"]["OPTIMIZATION_CONSTRAINTS"]["target_temperature"] = [20.0, 25.0]
        d["AI_INTEGRATION"]["DEFAULT_PARAMETERS"]["temperature_regulation"] = 0.2

    _edit(folder, "digital_twin", change)
    dt = load_config(folder).digital_twin
    assert dt.PARAMETER_THRESHOLDS["materials.solar_glass.inventory"] == (100.0, 500.0)
    assert dt.PARAMETER_THRESHOLDS["production_line.defect_rate"] == (0.0, 0.05)
    assert dt.AI_INTEGRATION.OPTIMIZATION_CONSTRAINTS["target_temperature"] == (20.0, 25.0)
    assert dt.AI_INTEGRATION.DEFAULT_PARAMETERS["temperature_regulation"] == 0.2


def test_parameter_names_follow_the_models() -> None:
    # The names config accepts for constraints and default parameters are exactly the
    # process parameters, the surrogate's inputs and outcomes, and the manual's inputs.
    from circman_kernel.ai.model import TARGETS
    from circman_kernel.ai.surrogate_data import FEATURES
    from circman_kernel.core.config_schema import PARAMETER_NAMES
    from circman_kernel.simulation import process

    manual_inputs = set(MANUAL_DIGITAL_TWIN["AI_INTEGRATION"]["DEFAULT_PARAMETERS"])
    expected = {*process.PARAMETERS, *FEATURES, *TARGETS, *manual_inputs}
    assert expected == PARAMETER_NAMES


def test_threshold_paths_are_the_state_numbers() -> None:
    from circman_kernel.core.config_fields import _threshold_paths

    paths = _threshold_paths("materials.silicon_wafer.quality")
    assert "materials.silicon_wafer.quality" in paths
    assert {"production_line.temperature", "environment.humidity"} <= set(paths)
    assert not {"timestamp", "system_status", "batch_id", "production_line.status"} & set(paths)
    assert len(paths) == 6 + 5 + 2


def test_unvalidated_constraint_keys_are_refused_at_use(config) -> None:
    # A config built without validation (model_copy) still cannot lose a constraint.
    from types import SimpleNamespace

    from circman_kernel.ai.optimize_setup import build_problem

    ai = config.digital_twin.AI_INTEGRATION.model_copy(
        update={"OPTIMIZATION_CONSTRAINTS": {"cycle_tme": (20.0, 60.0)}}
    )
    bad = config.model_copy(
        update={"digital_twin": config.digital_twin.model_copy(update={"AI_INTEGRATION": ai})}
    )
    model = SimpleNamespace(
        feature_names_=("cycle_time",),
        target_names_=("defect_rate", "energy_used", "efficiency", "output_amount"),
        feature_defaults_={"cycle_time": 30.0},
        feature_ranges_={"cycle_time": (20.0, 60.0)},
    )
    opt = SimpleNamespace(model=model, _cfg=lambda: bad)
    with pytest.raises(ConfigError, match="did you mean 'cycle_time'") as info:
        build_problem(opt, "weighted", {"cycle_time": 30.0}, None, None, None)
    assert info.value.key == "cycle_tme"
    # the validated config's keys that this model does not use (input_amount) still pass
    ok = SimpleNamespace(model=model, _cfg=lambda: config)
    problem = build_problem(opt=ok, objective="weighted", current_params={"cycle_time": 30.0},
                            constraints=None, fixed=None, extra=None)  # fmt: skip
    assert problem.constraints["cycle_time"] == [20.0, 60.0]


def test_missing_file_and_folder_are_named(tmp_path) -> None:
    folder = _copy_configs(tmp_path)
    (folder / "optimization.json").unlink()
    with pytest.raises(ConfigError, match=r"optimization\.json: file not found"):
        load_config(folder)
    with pytest.raises(ConfigError, match="config folder not found"):
        load_config(tmp_path / "nowhere")


def test_keys_left_out_of_a_section_keep_their_default(tmp_path) -> None:
    folder = _copy_configs(tmp_path)
    _edit(
        folder,
        "digital_twin",
        lambda d: d.__setitem__("SIMULATION_PARAMETERS", {"target_temperature": 24.0}),
    )
    sim = load_config(folder).digital_twin.SIMULATION_PARAMETERS
    assert sim.target_temperature == 24.0
    assert sim.energy_consumption_increment == 2.0


# --------------------------------------------------------------------------- fuzzing

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(tree: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += _paths(v, (*prefix, k))
    return out


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_fuzzed_files_only_ever_raise_config_error(tmp_path_factory, data) -> None:
    folder = _copy_configs(tmp_path_factory.mktemp("fuzz"))
    stem = data.draw(st.sampled_from(sorted(CONFIG_FILES)))
    path = folder / f"{stem}.json"
    tree = json.loads(path.read_text())
    target = data.draw(st.sampled_from(_paths(tree)))
    value = data.draw(JSON_VALUES)
    if target:
        node = tree
        for key in target[:-1]:
            node = node[key]
        if data.draw(st.booleans()):
            node[target[-1]] = value
        else:
            node[data.draw(st.text(min_size=1, max_size=12))] = value
        path.write_text(json.dumps(tree))
    else:
        path.write_text(data.draw(st.text(max_size=60)))
    try:
        load_config(folder)
    except ConfigError as err:
        assert err.file == f"{stem}.json"
        assert str(err).startswith(f"{stem}.json")


# --------------------------------------------------------------------------- folders, overrides, hash


def test_config_dir_from_environment(tmp_path, monkeypatch) -> None:
    folder = _copy_configs(tmp_path)
    _edit(folder, "digital_twin", _set("SIMULATION_PARAMETERS", "target_temperature", 25.0))
    monkeypatch.setenv("CIRCMAN_CONFIG_DIR", str(folder))
    cfg = load_config()
    assert cfg.digital_twin.SIMULATION_PARAMETERS.target_temperature == 25.0
    assert cfg.source == str(folder)


def test_overrides_replace_single_values_and_are_validated(config) -> None:
    changed = config.with_overrides(
        {
            "digital_twin.SIMULATION_PARAMETERS.target_temperature": 23.0,
            "digital_twin.PARAMETER_THRESHOLDS.production_line.temperature": [10.0, 30.0],
            "impact_factors.GRID_CARBON_INTENSITIES.Sweden": 0.02,
        }
    )
    assert changed.digital_twin.SIMULATION_PARAMETERS.target_temperature == 23.0
    assert changed.digital_twin.PARAMETER_THRESHOLDS["production_line.temperature"] == (10.0, 30.0)
    assert changed.impact_factors.GRID_CARBON_INTENSITIES["Sweden"] == 0.02
    assert (
        config.digital_twin.SIMULATION_PARAMETERS.target_temperature == 22.5
    )  # original untouched
    with pytest.raises(ConfigError, match="did you mean 'target_temperature'"):
        config.with_overrides({"digital_twin.SIMULATION_PARAMETERS.target_temprature": 1.0})
    with pytest.raises(ConfigError, match="finite"):
        config.with_overrides({"digital_twin.SIMULATION_PARAMETERS.target_temperature": math.nan})
    assert (
        load_config(
            REPO / "configs", overrides={"optimization.PARETO.seed": 7}
        ).optimization.PARETO.seed
        == 7
    )


def test_config_hash_is_stable_over_key_order_and_tracks_values(tmp_path, config) -> None:
    folder = _copy_configs(tmp_path)
    for stem in CONFIG_FILES:
        path = folder / f"{stem}.json"
        data = json.loads(path.read_text())
        reordered = {
            k: (dict(reversed(v.items())) if isinstance(v, dict) else v)
            for k, v in reversed(data.items())
        }
        path.write_text(json.dumps(reordered))
    assert load_config(folder).config_hash == config.config_hash
    assert default_config().config_hash == config.config_hash
    bumped = config.with_overrides({"digital_twin.DIGITAL_TWIN_CONFIG.history_length": 999})
    assert bumped.config_hash != config.config_hash
    assert len(config.config_hash) == 16
