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


def test_control_characters_are_escaped_when_printed(db_path, capsys) -> None:
    # issue 20 item 10: a run named $'a\x1b[31mred' printed a raw ESC
    store = RunStore(db_path)
    rid = store.save_run(
        "scenario", name="a\x1b[31mred\u202e", tags=["t\x9bx"], kpis={"k\x07": 1.0}
    )
    other = store.save_run("scenario", name="plain", kpis={"k\x07": 2.0})
    commands = [
        ["runs", "list"],
        ["runs", "list", "--json"],
        ["runs", "show", rid],
        ["runs", "compare", rid, other],
        ["runs", "compare", rid, other, "--json"],
        ["runs", "sql", "SELECT name, tags FROM runs"],
    ]
    for cmd in commands:
        assert main(["--db", str(db_path), *cmd]) == 0
        out = capsys.readouterr().out
        assert not any(ch in out for ch in "\x1b\x9b\u202e\x07"), cmd
    assert main(["--db", str(db_path), "runs", "list"]) == 0
    assert "a\\x1b[31mred\\u202e" in capsys.readouterr().out
    assert main(["--db", str(db_path), "runs", "show", rid]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "a\x1b[31mred\u202e"  # JSON: lossless


def test_sql_timeout_is_a_clear_error(db_path, two, capsys) -> None:
    endless = "SELECT count(*) FROM range(1000000000000) a, range(1000) b"
    assert main(["--db", str(db_path), "runs", "sql", endless, "--timeout", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "time limit of 0.5 s" in err and "--timeout" in err
    assert main(["--db", str(db_path), "runs", "sql", "SELECT 1 AS one", "--timeout", "0"]) == 0
    assert capsys.readouterr().out.split() == ["one", "1"]


def test_the_team_store_from_the_command_line(pg_url, capsys) -> None:
    assert main(["--db", pg_url, "runs", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    store = RunStore(pg_url)
    rid = store.save_run("simulation", name="team", kpis={"output_modules": 3.0})
    q = "SELECT name, output_modules FROM run_summary WHERE name = ?"
    assert main(["--db", pg_url, "runs", "sql", q, "--param", "team", "--csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["name,output_modules", "team,3.0"]
    assert main(["--db", pg_url, "runs", "show", rid]) == 0
    assert json.loads(capsys.readouterr().out)["kpis"] == {"output_modules": 3.0}
    assert main(["--db", pg_url, "--log-level", "DEBUG", "runs", "sql", "DELETE FROM runs"]) == 2
    err = capsys.readouterr().err
    assert "read-only" in err and "s3cret" not in err and "circman:***@" in err


def test_scenario_list_escapes_control_characters(db_path, capsys) -> None:
    # issue 20 item 10: a scenario named $'a\x1b[31mred' printed a raw ESC in scenario list
    db = ["--db", str(db_path)]
    name = "a\x1b[31mred\u202e"
    assert main([*db, "scenario", "create", name, "-p", "cycle_time=25",
                 "--description", "bell\x07 and\x9bcsi"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main([*db, "scenario", "list"]) == 0
    out = capsys.readouterr().out
    assert not any(ch in out for ch in "\x1b\x9b\u202e\x07")
    assert "a\\x1b[31mred\\u202e" in out and "bell\\x07 and\\x9bcsi" in out
    assert main([*db, "scenario", "list", "--json"]) == 0
    out = capsys.readouterr().out
    assert not any(ch in out for ch in "\x1b\x9b\u202e\x07")
    (row,) = json.loads(out)
    assert row["name"] == name and row["description"] == "bell\x07 and\x9bcsi"  # lossless
