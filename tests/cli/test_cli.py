"""The ``circman`` entry point: version, diagnostics, logging and error handling."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys

import duckdb
import pytest
from conftest import REPO

from circman_kernel import __version__
from circman_kernel.cli import main


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"circman {__version__}"
    assert __version__ == "0.1.0"


ALL_CHECKS = ["config", "store", "digital_twin", "events"]


def _json_checks(capsys) -> tuple[dict[str, dict], str]:
    out = capsys.readouterr()
    rows = json.loads(out.out)
    assert [r["check"] for r in rows] == ALL_CHECKS
    return {r["check"]: r for r in rows}, out.err


def test_diagnostics_pass_on_a_good_setup(capsys, tmp_path) -> None:
    db = tmp_path / "ok.duckdb"
    assert main(["--db", str(db), "diagnostics", "--json"]) == 0
    checks, err = _json_checks(capsys)
    assert {name: c["status"] for name, c in checks.items()} == dict.fromkeys(ALL_CHECKS, "ok")
    assert err == ""
    twin = checks["digital_twin"]["detail"]
    assert "update production_line.temperature = 28 outside [18, 27]" in twin
    assert "gave 1 threshold event" in twin
    assert "events table round trip (through the bus)" in checks["events"]["detail"]
    with duckdb.connect(str(db), read_only=True) as con:  # the probe event was removed
        assert con.execute("SELECT count(*) FROM events").fetchone() == (0,)


def test_diagnostics_fail_on_a_broken_config(capsys, tmp_path) -> None:
    folder = tmp_path / "cfg"
    shutil.copytree(REPO / "configs", folder)
    (folder / "digital_twin.json").write_text('{"DIGITAL_TWIN_CONFIG": ')
    status = main(["--config-dir", str(folder), "diagnostics"])
    out = capsys.readouterr()
    assert status != 0
    assert "diagnostics failed: config (skipped: digital_twin, events)" in out.err
    rows = {line.split()[0]: line for line in out.out.splitlines()[1:]}
    assert set(rows) == set(ALL_CHECKS)
    assert "FAILED" in rows["config"] and "malformed JSON" in rows["config"]
    for name in ("digital_twin", "events"):  # they name the part at fault, not its error
        assert "skipped (config failed)" in rows[name]
        assert "FAILED" not in rows[name] and "malformed" not in rows[name]


def test_diagnostics_json_marks_dependent_checks_skipped(capsys, tmp_path) -> None:
    folder = tmp_path / "cfg"
    shutil.copytree(REPO / "configs", folder)
    (folder / "optimization.json").unlink()
    db = str(tmp_path / "d.duckdb")
    assert main(["--config-dir", str(folder), "--db", db, "diagnostics", "--json"]) == 1
    checks, _ = _json_checks(capsys)
    assert [checks[n]["status"] for n in ALL_CHECKS] == ["FAILED", "ok", "skipped", "skipped"]
    assert checks["digital_twin"]["detail"] == "skipped (config failed)"
    assert checks["events"]["detail"] == "skipped (config failed)"


def test_diagnostics_twin_check_finds_a_twin_that_misses_breaches(
    capsys, tmp_path, monkeypatch
) -> None:
    from circman_kernel.twin.digital_twin import DigitalTwin

    monkeypatch.setattr(DigitalTwin, "_check_thresholds", lambda self, *a, **k: None)
    assert main(["--db", str(tmp_path / "t.duckdb"), "diagnostics", "--json"]) == 1
    checks, err = _json_checks(capsys)
    assert checks["digital_twin"]["status"] == "FAILED"
    assert "gave 0 threshold events (expected 1)" in checks["digital_twin"]["detail"]
    assert checks["events"]["status"] == "ok"
    assert "diagnostics failed: digital_twin" in err


def test_diagnostics_twin_check_starts_from_the_loaded_config(capsys, tmp_path) -> None:
    folder = tmp_path / "cfg"
    shutil.copytree(REPO / "configs", folder)
    path = folder / "digital_twin.json"
    data = json.loads(path.read_text())
    data["SIMULATION_PARAMETERS"]["target_temperature"] = 25.0
    data["PARAMETER_THRESHOLDS"] = {"environment.humidity": [30.0, 95.0]}
    data["EVENT_NOTIFICATION"]["publish_threshold_breaches"] = False
    path.write_text(json.dumps(data))
    db = str(tmp_path / "c.duckdb")
    assert main(["--config-dir", str(folder), "--db", db, "diagnostics", "--json"]) == 0
    checks, _ = _json_checks(capsys)
    # 95 + 6.5 % RH would pass the physical 100: the check goes below the band instead;
    # the twin started at the configured 25 degC (else: FAILED), breaches are not published
    detail = checks["digital_twin"]["detail"]
    assert "update environment.humidity = 23.5 outside [30, 95] gave 0 threshold event" in detail


def test_diagnostics_events_check_finds_a_store_that_drops_events(
    capsys, tmp_path, monkeypatch
) -> None:
    from circman_kernel.store.base import AbstractRunStore

    # the shared implementation of both backends (RunStore(url) returns one of them)
    monkeypatch.setattr(AbstractRunStore, "save_events", lambda self, events: 0)
    assert main(["--db", str(tmp_path / "e.duckdb"), "diagnostics", "--json"]) == 1
    checks, _ = _json_checks(capsys)
    assert checks["events"]["status"] == "FAILED"
    assert checks["events"]["detail"] == "events table: the stored probe came back as []"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_diagnostics_fail_on_an_unwritable_store_as_user(capsys, tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert main(["--db", str(locked / "x.duckdb"), "diagnostics"]) != 0
    assert "store" in capsys.readouterr().err


def test_diagnostics_fail_on_an_unusable_store_path(capsys, tmp_path) -> None:
    # A regular file where the store's folder should be: no user, root included, can
    # create the database there.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    assert main(["--db", str(blocker / "runs.duckdb"), "diagnostics", "--json"]) != 0
    out = capsys.readouterr()
    checks = {c["check"]: c for c in json.loads(out.out)}
    assert checks["store"]["status"] == "FAILED"
    assert checks["config"]["status"] == "ok"
    assert checks["digital_twin"]["status"] == "ok"
    assert checks["events"] == {
        "check": "events",
        "status": "ok",
        "detail": "publish + get_events round trip; store round trip skipped (store failed)",
    }
    assert "diagnostics failed: store" in out.err


def test_circman_errors_become_one_line_and_exit_two(capsys, tmp_path) -> None:
    status = main(["--config-dir", str(tmp_path / "missing"), "demo"])
    err = capsys.readouterr().err
    assert status != 0
    assert "Traceback" not in err


IMPORT_EVERY_MODULE = """
import importlib, json, logging, os, pkgutil
import circman_kernel

root = logging.getLogger()
before = (list(root.handlers), root.level)
imported = []
for info in pkgutil.walk_packages(circman_kernel.__path__, "circman_kernel."):
    if info.name == "circman_kernel.cli.__main__":
        continue  # `python -m circman_kernel.cli`: importing it runs the command
    importlib.import_module(info.name)
    imported.append(info.name)
loggers = {
    name: [repr(h) for h in logger.handlers]
    for name, logger in logging.root.manager.loggerDict.items()
    if name.split(".")[0] == "circman" and isinstance(logger, logging.Logger)
}
loggers["circman"] = [repr(h) for h in logging.getLogger("circman").handlers]
print(json.dumps({
    "imported": imported,
    "root_unchanged": (list(root.handlers), root.level) == before,
    "root_handlers": [repr(h) for h in root.handlers],
    "circman_handlers": {k: v for k, v in loggers.items() if v},
}))
"""


def test_library_adds_no_logging_handlers(tmp_path) -> None:
    # Every module, imported in a fresh interpreter from an empty working directory: the
    # library configures no logging and writes no file (logs/, JSON) where it runs.
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "LOG_LEVEL"}
    env["CIRCMAN_DB"] = str(tmp_path / "db" / "circman.duckdb")
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_MODULE],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    modules = set(out["imported"])
    assert {
        "circman_kernel.core.config",
        "circman_kernel.cli",
        "circman_kernel.apps.lca",
    } <= modules
    assert len(modules) >= 40  # the walk really went through the package
    assert out["root_unchanged"], out["root_handlers"]
    assert out["root_handlers"] == []
    assert out["circman_handlers"] == {}
    assert sorted(p.relative_to(cwd).as_posix() for p in cwd.rglob("*")) == []
    assert not (tmp_path / "db").exists()


DEBUG_LINE = "circman DEBUG: circman diagnostics: log level DEBUG"


@pytest.mark.parametrize(
    ("flag", "env", "shown"),
    [
        (["--log-level", "debug"], None, True),
        (["--log-level", "WARNING"], None, False),
        ([], "DEBUG", True),
        ([], "warning", False),
        ([], None, False),
        (["--log-level", "WARNING"], "DEBUG", False),  # the flag wins over $LOG_LEVEL
    ],
)
def test_log_level_flag_and_env(capsys, monkeypatch, tmp_path, flag, env, shown) -> None:
    if env is None:
        monkeypatch.delenv("LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("LOG_LEVEL", env)
    assert main([*flag, "--db", str(tmp_path / "l.duckdb"), "diagnostics", "--json"]) == 0
    err = capsys.readouterr().err
    assert (DEBUG_LINE in err) is shown
    # INFO lines (the new store's migration) show at DEBUG and never at WARNING
    assert ("circman.store INFO: " in err) is shown


def test_log_level_works_when_root_already_has_handlers(capsys, tmp_path) -> None:
    # In-process main() (a notebook, pytest): logging.basicConfig would do nothing here.
    import io

    root_out = io.StringIO()
    root_handler = logging.StreamHandler(root_out)
    root = logging.getLogger()
    root.addHandler(root_handler)
    circman_logger = logging.getLogger("circman")
    before = (circman_logger.level, circman_logger.propagate, list(circman_logger.handlers))
    try:
        for i in range(3):
            db = str(tmp_path / f"r{i}.duckdb")
            assert main(["--log-level", "DEBUG", "--db", db, "diagnostics", "--json"]) == 0
            err = capsys.readouterr().err
            assert err.count(DEBUG_LINE) == 1  # one handler, however often main() runs
    finally:
        root.removeHandler(root_handler)
    assert root_out.getvalue() == ""  # not printed twice through the root logger
    after = (circman_logger.level, circman_logger.propagate, list(circman_logger.handlers))
    assert after == before  # main() leaves the logger as it found it


def test_bad_log_level_env_is_a_usage_error(capsys, monkeypatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "chatty")
    with pytest.raises(SystemExit) as info:
        main(["diagnostics"])
    assert info.value.code == 2
    assert "LOG_LEVEL='CHATTY' is not a logging level" in capsys.readouterr().err


def _diagnostics_in_a_subprocess(tmp_path, log_level: str) -> subprocess.CompletedProcess:
    """Run ``circman diagnostics`` as a new process in ``tmp_path`` with ``$LOG_LEVEL``."""
    env = {**os.environ, "CIRCMAN_DB": str(tmp_path / "s.duckdb"), "LOG_LEVEL": log_level}
    return subprocess.run(
        [sys.executable, "-m", "circman_kernel.cli", "diagnostics"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


@pytest.mark.parametrize(("level", "shown"), [("DEBUG", True), ("WARNING", False)])
def test_log_level_env_in_a_subprocess(tmp_path, level, shown) -> None:
    proc = _diagnostics_in_a_subprocess(tmp_path, level)
    assert proc.returncode == 0, proc.stderr
    assert (DEBUG_LINE in proc.stderr) is shown
    if not shown:
        assert proc.stderr == ""


def test_console_script_runs_in_a_subprocess(tmp_path) -> None:
    proc = _diagnostics_in_a_subprocess(tmp_path, "INFO")
    assert proc.returncode == 0, proc.stderr
    assert "config" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in tmp_path.iterdir() if p.suffix in {".duckdb", ".wal", ".lock"}
    )  # no logs/ or other files in the working directory
