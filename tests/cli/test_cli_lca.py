"""``circman lca``: inputs file, twin state file, default state, region/profile, JSON, errors."""

from __future__ import annotations

import json

import pytest

from circman_kernel.cli import main

INPUTS = {
    "material_inputs": {"silicon_wafer": 2.0, "solar_glass": 10.0},
    "energy_consumption": 10.0,
    "lifetime_years": 25,
    "annual_energy_generation": 400.0,
    "grid_carbon_intensity": 0.275,
    "recycling_rates": {"silicon_wafer": 0.9, "solar_glass": 0.5},
    "transport_distance": 100.0,
    "n_modules": 1,
}


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["lca", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def inputs_file(tmp_path):
    path = tmp_path / "inputs.json"
    path.write_text(json.dumps(INPUTS))
    return path


def test_inputs_file_json(capsys, inputs_file) -> None:
    code, out, _ = _run(capsys, str(inputs_file), "--json")
    assert code == 0
    result = json.loads(out)
    assert result["manufacturing_impact"] == pytest.approx(495.0)
    assert result["total_impact"] == pytest.approx(-2127.97)  # manual 16.3.3: three phases
    assert result["net_impact"] == pytest.approx(-2371.97)  # with the recycling credit
    assert result["impact_per_module"] == pytest.approx(278.03)
    assert result["breakdown"]["silicon_wafer"]["recycling_benefit"] == pytest.approx(-144.0)


def test_text_output_and_region(capsys, inputs_file) -> None:
    code, out, _ = _run(capsys, str(inputs_file), "--region", "Sweden")
    assert code == 0
    assert "avoided_grid" in out and "grid Sweden" in out
    # 10000 kWh x (0.01 - 0.013) = -30 kg CO2-eq of use phase.
    code, out, _ = _run(capsys, str(inputs_file), "--region", "Sweden", "--json")
    assert json.loads(out)["use_phase_impact"] == pytest.approx(-30.0)


def test_default_state_and_profile(capsys) -> None:
    code, out, _ = _run(capsys, "--json")
    assert code == 0
    default = json.loads(out)
    assert default["source"] == "default twin state"
    assert default["manufacturing_impact"] == pytest.approx(120.5 * 0.5)  # no material used yet
    code, out, _ = _run(capsys, "--profile", "low_carbon_grid", "--json")
    low = json.loads(out)
    assert low["profile"] == "low_carbon_grid"
    assert low["manufacturing_impact"] == pytest.approx(120.5 * 0.03)


def test_state_file(capsys, tmp_path) -> None:
    from circman_kernel.core.state_schema import default_state

    state = default_state()
    state["materials"]["silicon_wafer"].update(consumption=5.0, waste=1.0, recycled=0.5)
    state["materials"]["solar_glass"].update(consumption=2.0)
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    code, out, _ = _run(capsys, str(path), "--json")
    assert code == 0
    assert json.loads(out)["total_impact"] == pytest.approx(-25754.7325)
    assert json.loads(out)["net_impact"] == pytest.approx(-25954.7325)


def test_monte_carlo_is_seeded(capsys, inputs_file) -> None:
    runs = [
        json.loads(_run(capsys, str(inputs_file), "--samples", "500", "--seed", "9", "--json")[1])
        for _ in range(2)
    ]
    assert runs[0]["uncertainty"] == runs[1]["uncertainty"]
    total = runs[0]["uncertainty"]["total_impact"]
    assert total["p5"] < total["p50"] < total["p95"]
    assert total["deterministic"] == pytest.approx(-2127.97)
    assert runs[0]["uncertainty"]["net_impact"]["deterministic"] == pytest.approx(-2371.97)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"material_inputs": {"unobtanium": 1.0}}, "known materials"),
        ({"recycling_rates": {"silicon_wafer": 2.0}}, "outside"),
        ({"colour": "blue"}, "unknown key(s) colour"),
    ],
)
def test_bad_inputs_exit_2(capsys, tmp_path, change, message) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**INPUTS, **change}))
    code, _, err = _run(capsys, str(path))
    assert code == 2
    assert message in err


def test_bad_options_exit_2(capsys, inputs_file, tmp_path) -> None:
    assert _run(capsys, str(inputs_file), "--region", "Atlantis")[0] == 2
    code, _, err = _run(capsys, "--profile", "nope")
    assert code == 2 and "known profiles" in err
    missing = _run(capsys, str(tmp_path / "missing.json"))
    assert missing[0] == 2 and "not found" in missing[2]
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert "malformed JSON" in _run(capsys, str(broken))[2]
