"""``circman simulate`` and ``circman scenario`` through circman_kernel.cli.main."""

from __future__ import annotations

import json

import pytest

from circman_kernel.cli import main


def test_simulate_prints_kpis_and_stores(db_path, capsys) -> None:
    assert main(["--db", str(db_path), "simulate", "--steps", "10", "--seed", "1",
                 "-p", "temperature_noise=0", "-p", "energy_noise=0", "--json"]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert out["kpis"]["output_modules"] == pytest.approx(90.4)  # ramp 8.5..9.1, then 9.2
    assert out["kpis"]["energy_kwh"] == pytest.approx(sum(120.5 + 2 * k for k in range(1, 11)))
    from circman_kernel.store.run_store import RunStore

    assert RunStore(db_path).get_run(out["run_id"])["kind"] == "simulation"


def test_simulate_monte_carlo_table(db_path, capsys) -> None:
    code = main(["--db", str(db_path), "simulate", "--steps", "5", "--iterations", "40",
                 "--seed", "2", "--no-store"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "40 iterations x 5 steps" in out and "output_modules" in out
    assert "stored as run" not in out


def test_simulate_bad_parameter_exits_2(db_path, capsys) -> None:
    assert main(["--db", str(db_path), "simulate", "-p", "cycletime=3"]) == 2
    assert "valid names" in capsys.readouterr().err
    assert main(["--db", str(db_path), "simulate", "--iterations", "0"]) == 2


def test_scenario_create_list_run_compare_delete(db_path, capsys) -> None:
    db = ["--db", str(db_path)]
    assert (
        main([*db, "scenario", "create", "fast", "-p", "cycle_time=20", "--description", "d"]) == 0
    )
    assert main([*db, "scenario", "create", "idle", "-p", "status=idle"]) == 0
    capsys.readouterr()
    assert main([*db, "scenario", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == {"fast", "idle"}
    assert main([*db, "scenario", "run", "fast", "--steps", "5", "--seed", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"]
    assert main([*db, "scenario", "compare", "fast", "idle", "--steps", "6", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["idle"]["output_modules"] == 0.0
    assert table["fast"]["output_modules_diff"] == 0.0  # first is the baseline
    assert table["idle"]["output_modules_diff"] < 0
    assert main([*db, "scenario", "compare", "fast", "idle", "--steps", "6"]) == 0
    assert "baseline: fast" in capsys.readouterr().out
    assert main([*db, "scenario", "delete", "idle"]) == 0
    assert main([*db, "scenario", "delete", "idle"]) == 1
    assert main([*db, "scenario", "run", "idle"]) == 2
    assert "no scenario named 'idle'" in capsys.readouterr().err
