"""``circman runs ...`` end to end on a real DuckDB file."""

from __future__ import annotations

import json

import pytest

from circman_kernel.cli import main
from circman_kernel.store.run_store import RunStore


@pytest.fixture
def two(db_path) -> tuple[str, str]:
    store = RunStore(db_path)
    a = store.save_run("simulation", name="base", tags=["q1"], kpis={"output_modules": 100.0})
    b = store.save_run("scenario", name="hot", kpis={"output_modules": 90.0, "energy_kwh": 7.5})
    return a, b


def test_list_show_compare(db_path, two, capsys) -> None:
    a, b = two
    assert main(["--db", str(db_path), "runs", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [b, a]
    assert main(["--db", str(db_path), "runs", "list", "--tag", "q1"]) == 0
    out = capsys.readouterr().out
    assert a in out and b not in out
    assert main(["--db", str(db_path), "runs", "show", a]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["name"] == "base" and shown["kpis"] == {"output_modules": 100.0}
    assert main(["--db", str(db_path), "runs", "compare", a, b, "--json"]) == 0
    wide = json.loads(capsys.readouterr().out)
    assert wide["output_modules"] == {a: 100.0, b: 90.0}


def test_sql_binds_params_and_errors_exit_2(db_path, two, capsys) -> None:
    q = "SELECT name, output_modules FROM run_summary WHERE name = ?"
    assert main(["--db", str(db_path), "runs", "sql", q, "--param", "hot", "--csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["name,output_modules", "hot,90.0"]
    assert main(["--db", str(db_path), "runs", "sql", "DELETE FROM runs"]) == 2
    assert "read-only" in capsys.readouterr().err
    assert main(["--db", str(db_path), "runs", "show", "nope"]) == 2
    assert len(RunStore(db_path).runs()) == 2


def test_export_import(db_path, two, tmp_path, capsys) -> None:
    a, _ = two
    out = tmp_path / "share"
    assert main(["--db", str(db_path), "runs", "export", a, "--out", str(out)]) == 0
    other = tmp_path / "other.duckdb"
    assert main(["--db", str(other), "runs", "import", str(out)]) == 0
    assert RunStore(other).runs()["id"].tolist() == [a]
    assert main(["--db", str(other), "runs", "import", str(out)]) == 2
    assert "already exist" in capsys.readouterr().err
