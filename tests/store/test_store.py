"""RunStore on real DuckDB files: runs, KPIs, trajectories, records, views, events, scenarios."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import duckdb
import numpy as np
import pandas as pd
import pytest
from filelock import FileLock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from circman_kernel.core.errors import ParameterError, PermissionDeniedError, StoreError
from circman_kernel.store import connection as store_conn
from circman_kernel.store.connection import migrate, transaction
from circman_kernel.store.run_store import RunStore
from circman_kernel.store.schema import RUN_TABLES, SCHEMA_VERSION, Migration


def _traj(iterations: int = 2, steps: int = 3) -> pd.DataFrame:
    it, st = np.meshgrid(np.arange(iterations), np.arange(steps), indexing="ij")
    n = it.size
    return pd.DataFrame(
        {
            "iteration": np.repeat(it.ravel(), 2),
            "step": np.repeat(st.ravel(), 2),
            "variable": ["temperature", "output"] * n,
            "value": np.arange(2 * n, dtype=float) / 4,
        }
    )


def test_new_file_gets_current_schema(store: RunStore, db_path) -> None:
    assert db_path.is_file()
    assert store.schema_version == SCHEMA_VERSION
    assert store.runs().empty


def test_save_run_round_trip(store: RunStore) -> None:
    traj = _traj()
    rid = store.save_run(
        "monte_carlo",
        name="mc",
        parameters={"target_temperature": 23.5, "nested": {"a": [1, 2]}},
        seed=42,
        config_hash="abc",
        tags=["baseline", "q1"],
        duration_s=1.25,
        kpis={"output_modules": 120.0, "energy_kwh": 30.0},
        trajectories=traj,
    )
    run = store.get_run(rid)
    assert run["kind"] == "monte_carlo" and run["name"] == "mc" and run["seed"] == 42
    assert run["parameters"] == {"target_temperature": 23.5, "nested": {"a": [1, 2]}}
    assert run["tags"] == ["baseline", "q1"]
    assert run["duration_s"] == 1.25 and run["config_hash"] == "abc"
    assert run["kpis"] == {"energy_kwh": 30.0, "output_modules": 120.0}
    back = store.trajectories(rid)
    assert isinstance(back["variable"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(
        back.astype({"variable": "str"}),
        traj.astype({"iteration": "int32", "step": "int32"}),
        check_dtype=False,
    )
    assert back["value"].tolist() == traj["value"].tolist()
    summary = store.query("SELECT * FROM run_summary WHERE run_id = ?", [rid])
    assert summary["output_modules"].iloc[0] == 120.0
    assert summary["energy_kwh"].iloc[0] == 30.0
    assert summary["n_kpis"].iloc[0] == 2


def _two_runs(store: RunStore) -> tuple[str, str]:
    a = store.save_run(
        "scenario",
        name="baseline",
        tags=["q1"],
        kpis={"output_modules": 100.0, "energy_kwh": 50.0},
        records={
            "lca_results": [
                {
                    "manufacturing_impact": 10.0,
                    "use_phase_impact": -2.0,
                    "end_of_life_impact": 1.0,
                    "recycling_benefit": -0.5,
                    "total_impact": 8.5,
                },
                {
                    "manufacturing_impact": 4.0,
                    "use_phase_impact": -1.0,
                    "end_of_life_impact": 0.25,
                    "recycling_benefit": -0.25,
                    "total_impact": 3.0,
                },
            ]
        },
    )
    b = store.save_run(
        "scenario",
        name="hot line",
        tags=["q1", "what-if"],
        kpis={"output_modules": 90.0, "energy_kwh": 60.0, "defect_rate": 0.03},
    )
    return a, b


def test_views_compare_scenarios_and_lca_totals(store: RunStore) -> None:
    a, b = _two_runs(store)
    store.save_scenario("baseline", {"target_temperature": 22.0}, "the reference line")
    wide = store.compare([a, b])
    assert list(wide.columns) == [a, b]
    assert wide.loc["output_modules"].tolist() == [100.0, 90.0]
    assert np.isnan(wide.loc["defect_rate", a]) and wide.loc["defect_rate", b] == 0.03
    long = store.query("SELECT * FROM compare_runs(?) ORDER BY kpi, value", [[a, b]])
    assert len(long) == 5 and set(long["run_id"]) == {a, b}
    sk = store.query("SELECT * FROM scenario_kpis WHERE kpi = 'energy_kwh' ORDER BY scenario")
    assert sk["scenario"].tolist() == ["baseline", "hot line"]
    assert sk["value"].tolist() == [50.0, 60.0]
    assert sk["description"].iloc[0] == "the reference line"
    lca = store.query("SELECT phase, impact_kg_co2eq FROM lca_phase_totals WHERE run_id = ?", [a])
    totals = dict(zip(lca["phase"], lca["impact_kg_co2eq"], strict=True))
    assert totals == {
        "manufacturing": 14.0,
        "use_phase": -3.0,
        "end_of_life": 1.25,
        "recycling_benefit": -0.75,
        "total": 11.5,
    }
    k = store.kpis([b, a])
    assert list(k.index) == [b, a] and k.loc[a, "energy_kwh"] == 50.0
    with pytest.raises(ParameterError):
        store.compare([a])
    with pytest.raises(StoreError, match="nope"):
        store.kpis([a, "nope"])


def test_runs_filters(store: RunStore) -> None:
    a, b = _two_runs(store)
    c = store.save_run("lca", name="x")
    assert set(store.runs()["id"]) == {a, b, c}
    assert store.runs()["id"].iloc[0] == c  # newest first
    assert set(store.runs("scenario")["id"]) == {a, b}
    assert set(store.runs(["scenario", "lca"])["id"]) == {a, b, c}
    assert store.runs(tags=["q1", "what-if"])["id"].tolist() == [b]
    assert store.runs(name="baseline")["id"].tolist() == [a]
    assert len(store.runs(limit=2)) == 2
    with pytest.raises(ParameterError, match="unknown run kind"):
        store.runs("bogus")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "bogus"}, "unknown run kind"),
        ({"kind": "simulation", "status": "done"}, "unknown status"),
        ({"kind": "simulation", "seed": 2**70}, "seed"),
        ({"kind": "simulation", "seed": np.random.default_rng(1)}, "seed"),
        ({"kind": "simulation", "parameters": {"x": float("nan")}}, "NaN"),
        ({"kind": "simulation", "parameters": {"x": object()}}, "JSON"),
        ({"kind": "simulation", "kpis": {"a": "many"}}, "must be a number"),
        ({"kind": "simulation", "duration_s": -1.0}, "duration_s"),
        ({"kind": "simulation", "records": {"bogus": []}}, "unknown table"),
        ({"kind": "simulation", "records": {"simulations": [{"colour": 1}]}}, "colour"),
        (
            {"kind": "simulation", "trajectories": pd.DataFrame({"step": [0], "val": [1.0]})},
            "columns",
        ),
    ],
)
def test_save_run_rejects_bad_input(store: RunStore, kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        store.save_run(**kwargs)
    assert store.runs().empty


@pytest.mark.parametrize(
    ("column", "values", "shown"),
    [
        ("step", [0.0, 0.5, 1.7], "0.5"),
        ("iteration", [0.0, 1.0, 1.7], "1.7"),
        ("step", [0.0, 1.0, np.inf], "inf"),
        ("step", [0, "two", 2], "'two'"),
        ("iteration", [True, False, True], "booleans"),
    ],
)
def test_fractional_steps_are_refused_not_truncated(
    store: RunStore, column: str, values: list, shown: str
) -> None:
    traj = pd.DataFrame(
        {"iteration": [0, 0, 0], "step": [0, 1, 2], "variable": ["t"] * 3, "value": [1.0] * 3}
    )
    traj[column] = pd.Series(values, dtype=object if "two" in shown else None)
    with pytest.raises(ParameterError, match=rf"trajectories\.{column} .*{shown}") as info:
        store.save_run("simulation", trajectories=traj)
    assert info.value.name == column
    assert store.runs().empty


def test_whole_float_steps_are_stored_as_integers(store: RunStore) -> None:
    traj = pd.DataFrame(
        {"iteration": [0.0, 1.0], "step": [3.0, 4.0], "variable": ["t", "t"], "value": [1.0, 2.0]}
    )
    back = store.trajectories(store.save_run("simulation", trajectories=traj))
    assert sorted(zip(back["iteration"], back["step"], strict=True)) == [(0, 3), (1, 4)]


def test_run_is_all_or_nothing(store: RunStore) -> None:
    rec = {"simulations": [{"id": "sim-1", "steps": 3}]}
    first = store.save_run("simulation", records=rec, kpis={"a": 1.0})
    # the second run's record collides with the first's primary key inside the transaction
    with pytest.raises(StoreError, match="rolled back"):
        store.save_run(
            "simulation", run_id="second", trajectories=_traj(), kpis={"a": 2.0}, records=rec
        )
    assert store.runs()["id"].tolist() == [first]
    q = "SELECT (SELECT count(*) FROM trajectories), (SELECT count(*) FROM run_kpis)"
    assert store.query(q).iloc[0].tolist() == [0, 1]
    with pytest.raises(StoreError, match="already exists"):
        store.save_run("simulation", run_id=first)


def test_records_tables_store_json(store: RunStore) -> None:
    rid = store.save_run(
        "optimization",
        records={
            "optimizations": pd.DataFrame(
                [
                    {
                        "parameters": {"x": 1},
                        "constraints": [1, 2],
                        "results": {"ok": True},
                        "improvement": 0.1,
                    }
                ]
            ),
            "states": [
                {"state_data": {"system_status": "running"}, "batch_id": "B-1", "version": 1}
            ],
        },
    )
    opt = store.query(
        "SELECT parameters->>'$.x' AS x, constraints, improvement, run_id FROM optimizations"
    )
    assert opt.iloc[0].tolist() == ["1", "[1, 2]", 0.1, rid]
    st = store.query("SELECT state_data->>'$.system_status' AS s, batch_id FROM states")
    assert st.iloc[0].tolist() == ["running", "B-1"]


def test_delete_runs_leaves_no_orphans(store: RunStore) -> None:
    a, b = _two_runs(store)
    c = store.save_run("simulation", trajectories=_traj(), records={"simulations": [{"steps": 3}]})
    store.save_events(
        [{"id": "ev", "run_id": c, "timestamp": "2025-01-01T00:00:00", "message": "m"}]
    )
    with pytest.raises(ParameterError, match="filter"):
        store.delete_runs()
    assert store.delete_runs(tags="what-if") == 1
    assert store.delete_runs([c, "missing"]) == 1
    assert store.runs()["id"].tolist() == [a]
    for table in (
        "run_kpis",
        "trajectories",
        "simulations",
        "optimizations",
        "lca_results",
        "states",
        "events",
    ):
        orphans = store.query(
            f"SELECT count(*) AS n FROM {table} WHERE run_id IS NOT NULL AND run_id NOT IN (SELECT id FROM runs)"
        )
        assert orphans["n"].iloc[0] == 0, table
    assert store.delete_runs(kind="scenario", before="2999-01-01") == 1
    assert store.delete_runs(kind="scenario", before="2000-01-01") == 0
    assert store.query("SELECT count(*) AS n FROM lca_results")["n"].iloc[0] == 0


def test_published_store_refuses_destructive_calls(db_path, tmp_path) -> None:
    RunStore(db_path).save_scenario("s", {"a": 1})
    pub = RunStore(db_path, published=True)
    rid = pub.save_run("simulation", kpis={"a": 1.0})  # new runs are still allowed
    export = pub.export_runs([rid], tmp_path / "exp")
    for call in (
        lambda: pub.delete_runs([rid]),
        lambda: pub.delete_scenario("s"),
        lambda: pub.save_scenario("s", {"a": 2}, overwrite=True),
        lambda: pub.import_runs(export),
        lambda: pub.connect(read_only=False).__enter__(),
    ):
        with pytest.raises(PermissionDeniedError):
            call()
    assert pub.get_run(rid)["kpis"] == {"a": 1.0}
    assert pub.get_scenario("s")["parameters"] == {"a": 1}


def test_events_save_replace_acknowledge(store: RunStore) -> None:
    ev = {
        "id": "e1",
        "timestamp": "2025-02-24T14:30:22.123456",
        "category": "threshold",
        "severity": "warning",
        "source": "production_line.temperature",
        "message": "temperature 28.1 above 27.0",
        "details": {"value": 28.1, "limits": [18.0, 27.0]},
        "acknowledged": False,
    }
    assert store.save_events([ev, {**ev, "id": "e2", "severity": "critical"}]) == 2
    assert store.acknowledge_event("e1") is True
    assert store.acknowledge_event("nope") is False
    df = store.events(acknowledged=True)
    assert df["id"].tolist() == ["e1"]
    assert df["details"].iloc[0] == {"value": 28.1, "limits": [18.0, 27.0]}
    assert df["timestamp"].iloc[0] == pd.Timestamp("2025-02-24T14:30:22.123456")
    store.save_events(pd.DataFrame([{**ev, "message": "again"}]))  # same id: replaced
    assert store.events(severity="warning")["message"].tolist() == ["again"]
    with pytest.raises(ParameterError, match="unknown fields"):
        store.save_events([{**ev, "colour": "red"}])


def test_scenarios_crud(store: RunStore) -> None:
    store.save_scenario("hot", {"target_temperature": 26.0}, "warm line")
    with pytest.raises(StoreError, match="overwrite=True"):
        store.save_scenario("hot", {"target_temperature": 27.0})
    store.save_scenario("hot", {"target_temperature": 27.0}, "hotter", overwrite=True)
    sc = store.get_scenario("hot")
    assert sc["parameters"] == {"target_temperature": 27.0} and sc["description"] == "hotter"
    assert sc["updated_at"] >= sc["created_at"]
    assert store.list_scenarios()["name"].tolist() == ["hot"]
    assert store.get_scenario("cold") is None
    assert store.delete_scenario("hot") is True and store.delete_scenario("hot") is False


def test_memory_store() -> None:
    mem = RunStore(":memory:")
    rid = mem.save_run("simulation", trajectories=_traj(1, 2), kpis={"a": 1.0})
    assert mem.get_run(rid)["kpis"] == {"a": 1.0}
    assert len(mem.trajectories(rid)) == 4
    assert RunStore(":memory:").runs().empty  # another memory store is independent


def test_query_binds_parameters_and_is_read_only(store: RunStore) -> None:
    hostile = "'; DROP TABLE runs; --"
    store.save_run("simulation", name=hostile)
    assert store.query("SELECT name FROM runs WHERE name = ?", [hostile])["name"].tolist() == [
        hostile
    ]
    assert store.query("SELECT $n AS n", {"n": hostile})["n"].tolist() == [hostile]
    with pytest.raises(StoreError, match="read-only"):
        store.query("DROP TABLE runs")
    assert len(store.runs()) == 1
    with pytest.raises(StoreError):
        store.query("SELECT * FROM no_such_table")


# -- files that are not ours -------------------------------------------------------------


def _snapshot(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _newer_schema_file(path) -> None:
    RunStore(path)
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO circman_schema VALUES (?, 'from the future', now()::TIMESTAMP, '99')",
        [SCHEMA_VERSION + 1],
    )
    con.close()


def _other_duckdb_file(path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE invoices(id INTEGER)")
    con.close()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p.write_bytes(b"PK\x03\x04 this is a zip, not DuckDB" * 100), "not a DuckDB"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("id,name\n1,a\n"), "not a DuckDB"),
        (_newer_schema_file, "newer"),
        (_other_duckdb_file, "not a circman run store"),
    ],
    ids=["zip", "empty", "csv", "newer-schema", "other-duckdb"],
)
def test_foreign_files_rejected_and_left_byte_identical(tmp_path, make, match) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    path = folder / "x.duckdb"
    make(path)
    for leftover in folder.glob("*.lock"):
        leftover.unlink()
    before = _snapshot(folder)
    for published in (False, True):
        with pytest.raises(StoreError, match=match):
            RunStore(path, published=published)
    assert _snapshot(folder) == before  # same files (no .wal, no .lock), same bytes


def test_unwritable_path_is_store_error(tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="a-file"):
        RunStore(blocker / "runs.duckdb")


def test_older_schema_is_migrated_in_a_transaction(db_path, monkeypatch) -> None:
    con = duckdb.connect(str(db_path))
    with transaction(con):
        assert migrate(con, str(db_path), "old", target=1) == 1
    con.execute(
        "INSERT INTO runs (id, kind, created_at, status, tags) "
        "VALUES ('old-run', 'simulation', TIMESTAMP '2024-01-01', 'completed', ['x'])"
    )
    con.execute("INSERT INTO run_kpis VALUES ('old-run', 'output_modules', 5.0)")
    con.close()
    # a migration that fails half-way leaves the version-1 file as it was
    broken = (
        *store_conn.MIGRATIONS[:1],
        Migration(2, "broken", ("CREATE VIEW ok AS SELECT 1", "BOGUS SQL")),
    )
    monkeypatch.setattr(store_conn, "MIGRATIONS", broken)
    with pytest.raises(StoreError, match="rolled back"):
        RunStore(db_path)
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT max(version) FROM circman_schema").fetchone()[0] == 1
    assert (
        con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'ok'").fetchone()[0] == 0
    )
    con.close()
    monkeypatch.undo()
    store = RunStore(db_path)
    assert store.schema_version == SCHEMA_VERSION
    summary = store.query("SELECT run_id, output_modules FROM run_summary")
    assert summary.iloc[0].tolist() == ["old-run", 5.0]


def test_write_lock_timeout_is_a_clear_store_error(store: RunStore, db_path) -> None:
    slow = RunStore(db_path, lock_timeout_s=0.3)
    with FileLock(f"{db_path}.lock"):
        with pytest.raises(StoreError, match="write lock"):
            slow.save_run("simulation")
        with pytest.raises(StoreError, match="hung writer"):
            slow.runs()  # a reader waits for a writer, but only up to the time limit
    slow.save_run("simulation")
    assert len(store.runs()) == 1


def test_reads_share_an_open_read_write_connection(store: RunStore, db_path) -> None:
    # e.g. a JupySQL %sql connection kept open in the same kernel
    store.save_run("simulation", name="a")
    con = duckdb.connect(str(db_path))
    try:
        assert store.runs()["name"].tolist() == ["a"]
    finally:
        con.close()


WRITES = [
    "DELETE FROM runs",
    "delete from runs where true",
    "DROP TABLE runs",
    "UPDATE runs SET name = 'x'",
    "INSERT INTO runs (id, kind) VALUES ('x', 'simulation')",
    "SELECT 1; DELETE FROM runs",
    "EXPLAIN ANALYZE DELETE FROM runs",
    "CREATE TABLE t AS SELECT * FROM runs",
    "COPY runs TO 'leak.csv'",
    "SET threads = 1",
    "PRAGMA memory_limit = '1GB'",
    "PRAGMA force_checkpoint",
    "CHECKPOINT",
    "BEGIN",
    "ATTACH ':memory:' AS other",
]


@pytest.mark.parametrize("sql", WRITES)
def test_query_refuses_writes_over_this_process_read_write_connection(
    db_path, sql: str, tmp_path, monkeypatch
) -> None:
    # B1: with a JupySQL-style read-write connection open in this process, the store's
    # read shares it; query() must still refuse to change anything, published or not.
    monkeypatch.chdir(tmp_path)
    published = RunStore(db_path, published=True)
    published.save_run("simulation", name="kept")
    con = duckdb.connect(str(db_path))
    try:
        with pytest.raises(StoreError, match="read-only|one statement"):
            published.query(sql)
        assert published.runs()["name"].tolist() == ["kept"]
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        assert "runs" in tables and "t" not in tables
    finally:
        con.close()
    assert not (tmp_path / "leak.csv").exists()
    assert RunStore(db_path).runs()["name"].tolist() == ["kept"]


@pytest.mark.parametrize(
    "sql", ["DELETE FROM runs", "DROP TABLE runs", "EXPLAIN ANALYZE DELETE FROM runs"]
)
def test_memory_store_query_is_read_only(sql: str) -> None:
    mem = RunStore(":memory:")
    mem.save_run("simulation", name="kept")
    with pytest.raises(StoreError, match="read-only"):
        mem.query(sql)
    assert mem.runs()["name"].tolist() == ["kept"]


@pytest.mark.parametrize(
    ("sql", "rows"),
    [
        ("SELECT name FROM runs", 1),
        ("SELECT name FROM runs;", 1),
        ("WITH r AS (SELECT * FROM runs) SELECT name FROM r", 1),
        ("FROM runs SELECT name", 1),
        ("DESCRIBE runs", 11),
        ("PRAGMA table_info('runs')", 11),
        ("EXPLAIN SELECT * FROM runs", 1),
        ("EXPLAIN ANALYZE SELECT * FROM runs", 1),
    ],
)
def test_query_accepts_reads_over_a_shared_connection(store: RunStore, db_path, sql, rows) -> None:
    store.save_run("simulation", name="a")
    con = duckdb.connect(str(db_path))
    try:
        assert len(store.query(sql)) == rows
    finally:
        con.close()
    assert len(store.query(sql)) == rows  # and over the store's own read-only connection


def _no_retry() -> float:
    raise AssertionError("connect() retried: it waited for a connection nobody will close")


def test_write_fails_at_once_while_this_process_holds_a_read_only_connection(
    store: RunStore, db_path, monkeypatch
) -> None:
    # B4: a read-only connection the caller keeps open cannot go away by waiting; the
    # write says so at once (the retry loop would call store_conn.random) and names the fix.
    monkeypatch.setattr(store_conn, "random", SimpleNamespace(random=_no_retry))
    patient = RunStore(db_path, lock_timeout_s=600)
    ro = duckdb.connect(str(db_path), read_only=True)
    try:
        with pytest.raises(StoreError, match=r"open read-only outside circman.*con\.close\(\)"):
            patient.save_run("simulation")
        assert patient.runs().empty  # reading next to it still works
    finally:
        ro.close()
    rid = patient.save_run("simulation")
    assert patient.runs()["id"].tolist() == [rid]


def test_write_waits_for_a_read_of_this_process(store: RunStore, db_path, monkeypatch) -> None:
    # The store's own short reads also hold read-only connections: a write in another
    # thread must wait for them, not fail.
    retried = threading.Event()

    def record_retry() -> float:
        retried.set()
        return 0.0

    monkeypatch.setattr(store_conn, "random", SimpleNamespace(random=record_retry))
    writer = RunStore(db_path, lock_timeout_s=60)
    saved: list[str] = []
    errors: list[BaseException] = []

    def save() -> None:
        try:
            saved.append(writer.save_run("simulation", name="after the read"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    with store.connect() as con:
        thread = threading.Thread(target=save)
        thread.start()
        assert retried.wait(60), "the writer never met the open read"
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    thread.join(60)
    assert errors == []
    assert store.runs()["name"].tolist() == ["after the read"] and len(saved) == 1


# -- hostile strings ---------------------------------------------------------------------

HOSTILE = [
    'it\'s "quoted"',
    "'; DROP TABLE runs; --",
    "line one\nline two\r\n\ttab",
    "Grüße, 光伏组件, 🌞, \u200b zero-width",
    "back\\slash %s {} $1 ?",
    "x" * 100_000,
]


def test_hostile_strings_round_trip_verbatim(store: RunStore) -> None:
    ids = []
    for s in HOSTILE:
        ids.append(
            store.save_run(
                "scenario",
                name=s,
                tags=[s, "plain"],
                parameters={s: s, "list": [s]},
                kpis={s[:200]: 1.0},
                trajectories=pd.DataFrame({"step": [0], "variable": [s], "value": [1.0]}),
            )
        )
    for s, rid in zip(HOSTILE, ids, strict=True):
        run = store.get_run(rid)
        assert run["name"] == s and run["tags"] == [s, "plain"]
        assert run["parameters"] == {s: s, "list": [s]}
        assert run["kpis"] == {s[:200]: 1.0}
        assert store.trajectories(rid)["variable"].tolist() == [s]
        assert store.runs(name=s)["id"].tolist() == [rid]
    assert store.query("SELECT count(*) AS n FROM runs")["n"].iloc[0] == len(HOSTILE)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.text(max_size=300),
    tags=st.lists(st.text(max_size=50), max_size=4),
    params=st.dictionaries(
        st.text(max_size=30),
        st.one_of(
            st.text(max_size=80),
            st.integers(-(2**53), 2**53),
            st.floats(allow_nan=False, allow_infinity=False),
            st.booleans(),
            st.none(),
        ),
        max_size=5,
    ),
)
def test_any_text_round_trips(
    mem_store: RunStore, name: str, tags: list[str], params: dict
) -> None:
    rid = mem_store.save_run("sweep", name=name, tags=tags, parameters=params)
    run = mem_store.get_run(rid)
    assert run["name"] == name and run["tags"] == tags and run["parameters"] == params


@pytest.fixture(scope="module")
def mem_store() -> RunStore:
    return RunStore(":memory:")


# -- Parquet export / import -------------------------------------------------------------


def _dump(store: RunStore, ids: list[str]) -> dict[str, pd.DataFrame]:
    out = {}
    for table in RUN_TABLES:
        key = "id" if table == "runs" else "run_id"
        out[table] = store.query(
            f"SELECT * FROM {table} WHERE list_contains(?, {key}) ORDER BY ALL", [ids]
        )
    out["run_summary"] = store.query(
        "SELECT * FROM run_summary WHERE list_contains(?, run_id) ORDER BY run_id", [ids]
    )
    return out


def test_parquet_export_import_round_trips_exactly(store: RunStore, tmp_path) -> None:
    a, b = _two_runs(store)
    c = store.save_run(
        "monte_carlo",
        name=HOSTILE[3],
        parameters={"p": HOSTILE[1]},
        seed=2**62,
        duration_s=0.1 + 0.2,
        trajectories=_traj(3, 4).assign(value=lambda d: d["value"] / 3),
        records={"states": [{"state_data": {"a": 1}}], "simulations": [{"results": {"r": [1.5]}}]},
    )
    store.save_events([{"id": "ev", "run_id": c, "timestamp": "2025-01-01T00:00:00.000001"}])
    folder = store.export_runs([a, c], tmp_path / "share")
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{t}.parquet" for t in RUN_TABLES] + ["manifest.json"]
    )
    fresh = RunStore(tmp_path / "fresh.duckdb")
    assert sorted(fresh.import_runs(folder)) == sorted([a, c])
    want, got = _dump(store, [a, c]), _dump(fresh, [a, c])
    for table in want:
        pd.testing.assert_frame_equal(got[table], want[table], check_exact=True, obj=table)
    assert len(want["trajectories"]) == 24 and b not in set(fresh.runs()["id"])
    # importing again is an error, and nothing is half-imported
    fresh.delete_runs([a])
    with pytest.raises(StoreError, match="already exist"):
        fresh.import_runs(folder)
    assert fresh.runs()["id"].tolist() == [c]
    with pytest.raises(StoreError, match="already holds"):
        store.export_runs([a], folder)
    with pytest.raises(StoreError, match="missing"):
        store.export_runs(["missing"], tmp_path / "other")


# -- diagnostics -------------------------------------------------------------------------


def test_diagnostics_open_the_store(tmp_path) -> None:
    from circman_kernel.cli.diagnostics import _check_store, _Context

    good = tmp_path / "good.duckdb"
    RunStore(good).save_run("lca")
    assert _check_store(_Context(config_dir=None, db=str(good))).endswith(
        f"(schema v{SCHEMA_VERSION}, 1 runs)"
    )
    foreign = tmp_path / "foreign.duckdb"
    foreign.write_bytes(b"\x00" * 4096)
    with pytest.raises(StoreError, match="not a DuckDB"):
        _check_store(_Context(config_dir=None, db=str(foreign)))
    assert foreign.read_bytes() == b"\x00" * 4096
