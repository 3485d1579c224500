"""Configuration snapshots (schema 4) and re-runs, on both backends.

A run saved with a configuration's hash keeps that configuration in ``configs`` (once per
hash, in the run's transaction); ``RunStore.rerun`` uses it to re-run simulations, Monte
Carlo runs and sweeps exactly, whatever the configuration of the process is now.
"""

from __future__ import annotations

import json

import pytest

from circman_kernel.core.config import load_config
from circman_kernel.core.errors import StoreError
from circman_kernel.simulation.engine import SimulationEngine
from circman_kernel.simulation.sweeps import evaluate, sample
from circman_kernel.store.schema import MIGRATIONS, SCHEMA_VERSION


def test_schema_4_adds_the_configs_table() -> None:
    assert SCHEMA_VERSION >= 4
    (m,) = [m for m in MIGRATIONS if m.version == 4]
    assert "CREATE TABLE configs" in m.statements[0]


def test_a_saved_run_keeps_its_configuration_once(any_store) -> None:
    config = load_config().with_overrides(
        {"digital_twin.SIMULATION_PARAMETERS.target_temperature": 23.25}
    )
    engine = SimulationEngine(config, store=any_store)
    first = engine.run_simulation(6, seed=3)
    engine.run_simulation(4, seed=4)
    rows = any_store.query("SELECT config_hash, config FROM configs")
    assert rows["config_hash"].tolist() == [config.config_hash]
    stored = any_store.config_snapshot(config.config_hash)
    assert stored.config_hash == config.config_hash
    assert stored.digital_twin.SIMULATION_PARAMETERS.target_temperature == 23.25
    assert stored.to_dict() == config.to_dict()
    # the files' key order is kept, not the sorted order the hash uses
    text = rows["config"].iloc[0]
    data = json.loads(text) if isinstance(text, str) else text
    assert list(data) == list(config.to_dict())
    assert any_store.config_snapshot("0" * 16) is None
    report = any_store.rerun(first.run_id)
    assert report.identical, report
    assert report.config_from == "stored snapshot" and report.kind == "simulation"
    assert "identical" in str(report)


def test_monte_carlo_and_sweep_rerun_identically_on_both_backends(any_store) -> None:
    config = load_config().with_overrides(
        {"digital_twin.SIMULATION_PARAMETERS.base_efficiency": 0.9}
    )
    engine = SimulationEngine(config, store=any_store)
    mc = engine.run_monte_carlo_simulation(
        12, iterations=40, uncertainty=0.2, seed=9, chunk_size=16,
        parameters={"base_defect_rate": 0.02, "temperature_regulation": 0.2}, name="mc",
    )  # fmt: skip
    experiments = sample({"cycle_time": (24.0, 36.0), "target_temperature": (20.0, 28.0)}, 24,
                         method="lhs", seed=5)  # fmt: skip
    evaluate(experiments, config=engine, steps=20, seed=6, store=any_store, name="sweep")
    sweep_id = any_store.runs(kind="sweep")["id"].iloc[0]
    assert any_store.rerun(mc.run_id).identical
    assert any_store.rerun(sweep_id).identical


def test_a_tampered_trajectory_is_the_first_difference(any_store) -> None:
    run = SimulationEngine(store=any_store).run_simulation(10, seed=1)
    with any_store.connect(read_only=False) as con:  # both take ? placeholders
        con.execute(
            "UPDATE trajectories SET value = -1 WHERE run_id = ? AND step >= 4 "
            "AND variable = 'energy_kwh'",
            [run.run_id],
        )
    report = any_store.rerun(run.run_id)
    assert not report.identical and not report
    diff = report.difference
    assert (diff.variable, diff.step, diff.stored) == ("energy_kwh", 4, -1.0)
    assert diff.rerun == pytest.approx(run.to_frame(wide=True)["energy_kwh"].iloc[4])
    assert "energy_kwh at step 4" in str(report)


def test_unknown_run_is_a_store_error(any_store) -> None:
    with pytest.raises(StoreError, match="no run"):
        any_store.rerun("nope")


def test_unnamed_runs_list_with_an_empty_name(any_store) -> None:
    engine = SimulationEngine(store=any_store)
    unnamed = engine.run_simulation(2, seed=1)
    engine.run_simulation(2, seed=1, name="named")
    runs = any_store.runs().set_index("id")
    assert runs.loc[unnamed.run_id, "name"] == ""
    assert not runs["name"].isna().any()
    assert any_store.get_run(unnamed.run_id)["name"] is None  # the stored value is NULL


def test_first_difference_compares_what_was_stored() -> None:
    from circman_kernel.store.configs import first_difference

    stored = {"params": {"a": 1.0, "b": [1, 2]}, "verdict": "reproduced"}
    assert first_difference(stored, {**stored, "added_later": {}}) is None
    diff = first_difference(stored, {"params": {"a": 1.0, "b": [1, 3]}, "verdict": "x"})
    assert (diff.variable, diff.stored, diff.rerun) == ("params.b[1]", 2, 3)
    diff = first_difference(stored, {"params": {"a": 1.0}})
    assert (diff.variable, diff.rerun) == ("params.b", "(absent)")
    assert first_difference({"x": float("nan")}, {"x": float("nan")}) is None


def test_a_recorded_replay_keeps_its_configuration_too(any_store, tmp_path) -> None:
    from circman_kernel.core.paths import data_dir
    from circman_kernel.twin.digital_twin import DigitalTwin
    from circman_kernel.twin.sources import CSVReplaySource
    from circman_kernel.twin.sync import Synchronizer

    config = load_config().with_overrides({"digital_twin.DIGITAL_TWIN_CONFIG.history_length": 50})
    twin = DigitalTwin(config, store=any_store, name="replayed")
    twin.initialize()
    sync = Synchronizer(twin, CSVReplaySource(data_dir() / "sample_shift.csv"))
    sync.run_batch(record=True)
    twin.close()
    assert any_store.query("SELECT config_hash FROM configs")["config_hash"].tolist() == [
        config.config_hash
    ]
    report = any_store.rerun(sync.run_id)
    assert report.identical and report.config_from == "stored snapshot", report


def test_pulled_runs_bring_their_configuration(any_store, tmp_path) -> None:
    from circman_kernel.store.run_store import RunStore

    config = load_config().with_overrides(
        {"digital_twin.SIMULATION_PARAMETERS.base_efficiency": 0.91}
    )
    run = SimulationEngine(config, store=any_store).run_simulation(5, seed=2)
    local = RunStore(tmp_path / "local.duckdb")
    assert local.pull_runs(any_store) == [run.run_id]
    assert local.config_snapshot(config.config_hash) == any_store.config_snapshot(
        config.config_hash
    )
    report = local.rerun(run.run_id)
    assert report.identical and report.config_from == "stored snapshot"
    assert local.pull_runs(any_store) == []  # nothing new, and the snapshot stays one row
    assert len(local.query("SELECT * FROM configs")) == 1
