"""``circman runs rerun``: every run the demo stores re-runs identically, also after the
configuration files changed (the stored snapshot is used), and a changed run is reported
with its first difference.

The demo and the re-runs are real subprocesses on a temporary DuckDB file and a temporary
copy of ``configs/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from circman_kernel.core.config import load_config
from circman_kernel.core.errors import StoreError
from circman_kernel.core.paths import default_config_dir
from circman_kernel.store.run_store import RunStore

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("demo")]

DEMO_KINDS = {"replay", "monte_carlo", "simulation", "scenario", "optimization", "lca"}


def _circman(config_dir: Path, db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "circman_kernel.cli", "--config-dir", str(config_dir),
         "--db", str(db), *args],
        env={**os.environ, "CIRCMAN_CONFIG_DIR": str(config_dir)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=4))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("rerun")
    configs = root / "configs"
    shutil.copytree(default_config_dir(), configs)
    db = root / "demo.duckdb"
    proc = _circman(configs, db, "demo")
    assert proc.returncode == 0, proc.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        runs = con.execute("SELECT id, kind, config_hash FROM runs ORDER BY created_at").fetchall()
    return {"configs": configs, "db": db, "runs": runs}


def test_every_demo_run_reruns_identically(demo: dict) -> None:
    assert {kind for _, kind, _ in demo["runs"]} == DEMO_KINDS
    for run_id, kind, _ in demo["runs"]:
        proc = _circman(demo["configs"], demo["db"], "runs", "rerun", run_id)
        assert proc.returncode == 0, (kind, proc.stdout, proc.stderr)
        assert proc.stdout.strip().endswith(")") and ": identical" in proc.stdout, proc.stdout
        assert f"({kind}, configuration: stored snapshot)" in proc.stdout
        assert "note:" not in proc.stderr  # same package version: nothing to announce


def test_reruns_use_the_snapshot_after_configs_are_edited(demo: dict, tmp_path: Path) -> None:
    configs = tmp_path / "configs"  # the demo's configs/, then edited
    shutil.copytree(demo["configs"], configs)

    def twin(d: dict) -> None:
        sp = d["SIMULATION_PARAMETERS"]
        sp["target_temperature"] = 24.0
        sp["base_defect_rate"] = 0.02
        sp["nominal_production_rate"] = 12.0

    def factors(d: dict) -> None:
        d["MATERIAL_IMPACT_FACTORS"]["silicon_wafer"] *= 2
        d["ENERGY_IMPACT_FACTOR"] *= 3

    def optimization(d: dict) -> None:
        d["OBJECTIVE_WEIGHTS"] = {k: v * 2 for k, v in d["OBJECTIVE_WEIGHTS"].items()}

    _edit_json(configs / "digital_twin.json", twin)
    _edit_json(configs / "impact_factors.json", factors)
    _edit_json(configs / "optimization.json", optimization)
    proc = _circman(configs, demo["db"], "diagnostics", "--json")
    hashes = {h for _, _, h in demo["runs"]}
    assert len(hashes) == 1 and hashes.pop() not in proc.stdout  # the files really changed

    report = _circman(configs, demo["db"], "runs", "rerun", demo["runs"][1][0], "--json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["config"] == "stored snapshot"
    for run_id, kind, _ in demo["runs"]:
        proc = _circman(configs, demo["db"], "runs", "rerun", run_id)
        assert proc.returncode == 0, (kind, proc.stdout, proc.stderr)
        assert ": identical" in proc.stdout


def test_a_changed_run_reports_its_first_difference(demo: dict, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(demo["db"], db)
    mc = next(run_id for run_id, kind, _ in demo["runs"] if kind == "monte_carlo")
    with duckdb.connect(str(db)) as con:
        (stored,) = con.execute(
            "SELECT value FROM trajectories WHERE run_id = ? AND iteration = 3 AND step = 17 "
            "AND variable = 'output_modules'",
            [mc],
        ).fetchone()
        con.execute(
            "UPDATE trajectories SET value = value + 1 WHERE run_id = ? AND step >= 17 "
            "AND iteration >= 3 AND variable = 'output_modules'",
            [mc],
        )
    proc = _circman(demo["configs"], db, "runs", "rerun", mc, "--json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["identical"] is False
    diff = report["difference"]
    assert (diff["variable"], diff["step"], diff["iteration"]) == ("output_modules", 17, 3)
    assert diff["stored"] == pytest.approx(stored + 1) and diff["rerun"] == pytest.approx(stored)
    text = _circman(demo["configs"], db, "runs", "rerun", mc).stdout
    assert "differs; first difference: output_modules at step 17 of iteration 3" in text


def test_a_run_of_another_version_is_announced_before_it_runs(demo: dict, tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    shutil.copy(demo["db"], db)
    lca = next(run_id for run_id, kind, _ in demo["runs"] if kind == "lca")
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE runs SET package_version = '0.0.1' WHERE id = ?", [lca])
    proc = _circman(demo["configs"], db, "runs", "rerun", lca)
    assert proc.returncode == 0
    assert "note: this run was stored by circman 0.0.1" in proc.stderr
    heard: list[str] = []
    store = RunStore(db)

    def notify(note: str) -> None:
        # said before the re-run: the store has not been read for the LCA's record yet
        heard.append(note)

    report = store.rerun(lca, notify=notify)
    assert report.identical and heard and report.notes == tuple(heard)
    with pytest.warns(UserWarning, match="stored by circman 0.0.1"):
        store.rerun(lca)


def test_a_run_without_its_snapshot_needs_its_configuration(demo: dict, tmp_path: Path) -> None:
    db = tmp_path / "bare.duckdb"
    shutil.copy(demo["db"], db)
    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM configs")
    run_id = demo["runs"][2][0]
    edited = tmp_path / "configs"
    shutil.copytree(demo["configs"], edited)
    _edit_json(
        edited / "digital_twin.json",
        lambda d: d["SIMULATION_PARAMETERS"].update(base_efficiency=0.9),
    )
    proc = _circman(edited, db, "runs", "rerun", run_id)
    assert proc.returncode == 2
    assert "did not keep" in proc.stderr and "CIRCMAN_CONFIG_DIR" in proc.stderr


def test_what_cannot_be_repeated_is_a_store_error(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "odd.duckdb")
    no_seed = store.save_run("simulation", parameters={"steps": 1}, config_hash="0" * 16)
    with pytest.raises(StoreError, match="did not keep"):
        store.rerun(no_seed)
    current = load_config().config_hash
    replay = store.save_run("replay", parameters={"source": "sensors"}, config_hash=current)
    with pytest.raises(StoreError, match="only CSV files"):
        store.rerun(replay)
    sim = store.save_run("simulation", parameters={"steps": 1}, config_hash=current)
    with pytest.raises(StoreError, match="without a seed"):
        store.rerun(sim)
