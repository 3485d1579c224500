"""Runs moved between stores and folders: pull/push between the team store and DuckDB,
Parquet export and import (issue 20, items 3 and 4: no partial import, no overwrite)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from store_helpers import dump, traj

from circman_kernel.core.errors import ParameterError, StoreError
from circman_kernel.store.run_store import RunStore
from circman_kernel.store.schema import RUN_TABLES


def _rich_runs(store: RunStore) -> list[str]:
    """Three runs using every table, NaN and NULL values, hostile text and many rows."""
    big = pd.DataFrame(
        {
            "iteration": np.repeat(np.arange(50, dtype=np.int64), 400),
            "step": np.tile(np.arange(400), 50),
            "variable": pd.Categorical(np.tile(["t", "e", "Grüße 光伏", 'it\'s "q"'], 5000)),
            "value": np.random.default_rng(1).normal(size=20_000),
        }
    )
    big.loc[7, "value"] = np.nan
    a = store.save_run(
        "monte_carlo", name="mc, 'quoted'\nline", seed=2**62, tags=["q1", "x"], duration_s=1.5,
        parameters={"p": [1, 2.5, None], "s": "Grüße"}, kpis={"output_modules": 1.25, "e": -3.0},
        trajectories=big,
        records={"simulations": [{"steps": 400, "results": {"r": [1.5]}}],
                 "states": [{"state_data": {"a": 1}, "batch_id": "B-1", "version": 2}]},
    )  # fmt: skip
    b = store.save_run(
        "lca", name=None, kpis={"total_impact": 8.5},
        records={"lca_results": [{"manufacturing_impact": 10.0, "total_impact": 8.5,
                                  "details": {"k": "v"}}]},
    )  # fmt: skip
    c = store.save_run("scenario", name="hot", trajectories=traj(2, 3), tags=[])
    store.save_events(
        [{"id": "ev1", "run_id": a, "timestamp": "2025-01-01T00:00:00.000001", "severity": "warning",
          "details": {"v": 1}}]
    )  # fmt: skip
    return [a, b, c]


def _assert_same(left: RunStore, right: RunStore, ids: list[str]) -> None:
    want, got = dump(left, ids), dump(right, ids)
    for table in want:
        pd.testing.assert_frame_equal(got[table], want[table], check_exact=True, obj=table)
    for rid in ids:
        assert right.get_run(rid) == left.get_run(rid)
        pd.testing.assert_frame_equal(right.trajectories(rid), left.trajectories(rid))


def test_team_store_to_duckdb_and_back_compares_equal(pg_server, pg_url, tmp_path) -> None:
    team = RunStore(pg_url)
    ids = _rich_runs(team)
    local = RunStore(tmp_path / "local.duckdb")
    assert sorted(local.pull_runs(team)) == sorted(ids)
    _assert_same(team, local, ids)
    assert len(dump(local, ids)["trajectories"]) == 20_012
    # back into another team database: equal again, ids, timestamps and rows kept
    other = RunStore(pg_server.url(pg_server.create_database()))
    assert sorted(local.push_runs(other)) == sorted(ids)
    _assert_same(team, other, ids)


def test_pull_is_incremental_and_idempotent(pg_url, tmp_path) -> None:
    team = RunStore(pg_url)
    ids = _rich_runs(team)
    local = RunStore(tmp_path / "local.duckdb")
    assert local.pull_runs(team, kind="lca") == [ids[1]]
    assert sorted(local.pull_runs(team)) == sorted([ids[0], ids[2]])
    before = dump(local, ids)
    assert local.pull_runs(team) == []  # pulling what is there changes nothing
    after = dump(local, ids)
    for table in before:
        pd.testing.assert_frame_equal(after[table], before[table], obj=table)
    cut = datetime.now(UTC)
    time.sleep(0.01)
    new = team.save_run("sweep", name="later")
    assert local.pull_runs(team, since=cut.isoformat()) == [new]
    assert local.pull_runs(team, since="2000-01-01") == []
    assert len(local.runs()) == 4
    with pytest.raises(ParameterError, match="ISO 8601"):
        local.pull_runs(team, since="yesterday-ish")
    with pytest.raises(ParameterError, match="open store"):
        local.pull_runs(pg_url)


def test_cli_pull_and_push(pg_url, tmp_path, capsys) -> None:
    from circman_kernel.cli import main

    team = RunStore(pg_url)
    ids = _rich_runs(team)
    db = str(tmp_path / "local.duckdb")
    assert main(["--db", db, "runs", "pull", "--from", pg_url, "--kind", "scenario"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pulled 1 runs from postgresql://circman:***@/")
    assert "s3cret" not in out
    assert main(["--db", db, "runs", "pull", "--from", pg_url]) == 0
    assert "pulled 2 runs" in capsys.readouterr().out
    assert main(["--db", db, "runs", "pull", "--from", pg_url]) == 0
    assert capsys.readouterr().out.startswith("nothing to pull")
    local = RunStore(db)
    mine = local.save_run("simulation", name="made offline")
    assert main(["--db", db, "runs", "push", "--to", pg_url]) == 0
    assert "pushed 1 runs" in capsys.readouterr().out
    assert sorted(team.runs()["id"]) == sorted([*ids, mine])


# -- Parquet export / import -------------------------------------------------------------


def test_export_import_round_trip_on_both_backends(any_store: RunStore, tmp_path) -> None:
    ids = _rich_runs(any_store)
    folder = any_store.export_runs(ids, tmp_path / "share")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["rows"]["trajectories"] == 20_012 and manifest["rows"]["runs"] == 3
    assert set(manifest["files"]) == {f"{t}.parquet" for t in RUN_TABLES}
    fresh = RunStore(tmp_path / "fresh.duckdb")
    assert sorted(fresh.import_runs(folder)) == sorted(ids)
    _assert_same(any_store, fresh, ids)


def _rewrite(path: Path, sql: str) -> None:
    """Rewrite one Parquet file of an export through DuckDB (as a careless edit would)."""
    con = duckdb.connect()
    src = str(path).replace("'", "''")
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{src}')")
    con.execute(sql)
    con.execute(f"COPY t TO '{src}' (FORMAT parquet)")
    con.close()


def _exported(tmp_path: Path) -> tuple[RunStore, Path, list[str]]:
    source = RunStore(tmp_path / "source.duckdb")
    ids = [
        source.save_run("simulation", name=n, kpis={"a": 1.0, "b": 2.0}, trajectories=traj(4, 4))
        for n in ("one", "two")
    ]
    return source, source.export_runs(ids, tmp_path / "exp"), ids


def _nothing_imported(target: RunStore) -> None:
    counts = target.query(
        "SELECT (SELECT count(*) FROM runs) AS r, (SELECT count(*) FROM trajectories) AS t, "
        "(SELECT count(*) FROM run_kpis) AS k"
    )
    assert counts.iloc[0].tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        # the defect: one row removed from runs.parquet imported 1 run + orphans as "2 runs"
        (
            lambda f, ids: _rewrite(f / "runs.parquet", f"DELETE FROM t WHERE id = '{ids[1]}'"),
            "checksum|lacks the runs",
        ),
        (
            lambda f, ids: _rewrite(f / "trajectories.parquet", "DELETE FROM t WHERE step = 3"),
            "checksum|rows",
        ),
        (lambda f, ids: (f / "run_kpis.parquet").unlink(), "missing run_kpis.parquet"),
        (lambda f, ids: (f / "states.parquet").write_bytes(b"PAR1 not really"), "checksum"),
    ],
    ids=["runs-row-removed", "trajectory-rows-removed", "file-missing", "file-damaged"],
)
def test_incomplete_export_imports_nothing(any_store: RunStore, tmp_path, edit, match) -> None:
    _, folder, ids = _exported(tmp_path)
    edit(folder, ids)
    with pytest.raises(StoreError, match=match):
        any_store.import_runs(folder)
    _nothing_imported(any_store)


def test_manifest_counts_are_checked_without_checksums(tmp_path) -> None:
    # an edit that also rewrites the checksums still has to match every run's row counts
    _, folder, ids = _exported(tmp_path)
    _rewrite(folder / "runs.parquet", f"DELETE FROM t WHERE id = '{ids[1]}'")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.pop("files")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    target = RunStore(tmp_path / "target.duckdb")
    with pytest.raises(StoreError, match="lacks the runs"):
        target.import_runs(folder)
    _nothing_imported(target)


def test_export_refuses_a_non_empty_folder_unless_forced(tmp_path, capsys) -> None:
    from circman_kernel.cli import main

    source, _, ids = _exported(tmp_path)
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "runs.parquet").write_bytes(b"someone else's data")
    with pytest.raises(StoreError, match="not empty"):
        source.export_runs(ids[:1], folder)
    assert (folder / "runs.parquet").read_bytes() == b"someone else's data"
    db = ["--db", str(tmp_path / "source.duckdb")]
    assert main([*db, "runs", "export", ids[0], "--out", str(folder)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (folder / "runs.parquet").read_bytes() == b"someone else's data"
    assert main([*db, "runs", "export", ids[0], "--out", str(folder), "--force"]) == 0
    target = RunStore(tmp_path / "target.duckdb")
    assert target.import_runs(folder) == [ids[0]]
    assert not list(folder.glob(".circman-export-*"))  # no staging folder left behind
