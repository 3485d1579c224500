"""RunStore on both backends: runs, KPIs, trajectories, records, views, events, scenarios.

Every test here runs twice (``any_store``/``store_url``): on a real DuckDB file and on a
real PostgreSQL database, with the same calls and the same SQL.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import WRITES, dump, traj

from circman_kernel.core.errors import ParameterError, PermissionDeniedError, StoreError
from circman_kernel.store.run_store import RunStore
from circman_kernel.store.sandbox import QueryTimeout
from circman_kernel.store.schema import RUN_TABLES, SCHEMA_VERSION


def test_new_store_gets_current_schema(any_store: RunStore) -> None:
    assert any_store.schema_version == SCHEMA_VERSION
    assert any_store.runs().empty
    tables = set(any_store.query("SELECT table_name FROM information_schema.tables")["table_name"])
    assert {
        *RUN_TABLES,
        "scenarios",
        "users",
        "audit",
        "circman_schema",
        "run_summary",
        "run_comparison",
        "scenario_kpis",
        "lca_phase_totals",
    } <= tables


def test_save_run_round_trip(any_store: RunStore) -> None:
    frame = traj()
    rid = any_store.save_run(
        "monte_carlo",
        name="mc",
        parameters={"target_temperature": 23.5, "nested": {"a": [1, 2]}},
        seed=42,
        config_hash="abc",
        tags=["baseline", "q1"],
        duration_s=1.25,
        kpis={"output_modules": 120.0, "energy_kwh": 30.0},
        trajectories=frame,
    )
    run = any_store.get_run(rid)
    assert run["kind"] == "monte_carlo" and run["name"] == "mc" and run["seed"] == 42
    assert run["parameters"] == {"target_temperature": 23.5, "nested": {"a": [1, 2]}}
    assert run["tags"] == ["baseline", "q1"]
    assert run["duration_s"] == 1.25 and run["config_hash"] == "abc"
    assert run["kpis"] == {"energy_kwh": 30.0, "output_modules": 120.0}
    back = any_store.trajectories(rid)
    assert isinstance(back["variable"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(
        back.astype({"variable": "str"}),
        frame.astype({"iteration": "int32", "step": "int32"}),
        check_dtype=False,
    )
    assert back["value"].tolist() == frame["value"].tolist()
    summary = any_store.query("SELECT * FROM run_summary WHERE run_id = ?", [rid])
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


def test_run_summary_lca_total_follows_the_phases(any_store: RunStore) -> None:
    phases = {"manufacturing_impact": 10.0, "use_phase_impact": -2.0, "end_of_life_impact": 1.0}
    # stored before the total followed the manual: total_impact included the credit -0.5
    old = any_store.save_run("lca", kpis={**phases, "recycling_benefit": -0.5, "total_impact": 8.5})
    new = any_store.save_run(
        "lca",
        kpis={**phases, "recycling_benefit": -0.5, "total_impact": 9.0, "net_impact": 8.5},
    )
    lone = any_store.save_run("lca", kpis={"total_impact": 7.0})  # no phases: kept as given
    summary = any_store.query(
        "SELECT run_id, total_impact, n_kpis FROM run_summary WHERE run_id IN (?, ?, ?)",
        [old, new, lone],
    ).set_index("run_id")
    assert summary.loc[old, "total_impact"] == 9.0
    assert summary.loc[new, "total_impact"] == 9.0
    assert summary.loc[lone, "total_impact"] == 7.0
    assert summary.loc[new, "n_kpis"] == 6


def test_views_compare_scenarios_and_lca_totals(any_store: RunStore) -> None:
    a, b = _two_runs(any_store)
    any_store.save_scenario("baseline", {"target_temperature": 22.0}, "the reference line")
    wide = any_store.compare([a, b])
    assert list(wide.columns) == [a, b]
    assert wide.loc["output_modules"].tolist() == [100.0, 90.0]
    assert np.isnan(wide.loc["defect_rate", a]) and wide.loc["defect_rate", b] == 0.03
    long = any_store.query("SELECT * FROM compare_runs(?) ORDER BY kpi, value", [[a, b]])
    assert len(long) == 5 and set(long["run_id"]) == {a, b}
    sk = any_store.query("SELECT * FROM scenario_kpis WHERE kpi = 'energy_kwh' ORDER BY scenario")
    assert sk["scenario"].tolist() == ["baseline", "hot line"]
    assert sk["value"].tolist() == [50.0, 60.0]
    assert sk["description"].iloc[0] == "the reference line"
    lca = any_store.query(
        "SELECT phase, impact_kg_co2eq FROM lca_phase_totals WHERE run_id = ?", [a]
    )
    totals = dict(zip(lca["phase"], lca["impact_kg_co2eq"], strict=True))
    # the manual's total (16.3.3) from the phases, the recycling credit beside it (module
    # D) and the net with it; the rows' own total_impact (stored with the credit) is not used
    assert totals == {
        "manufacturing": 14.0,
        "use_phase": -3.0,
        "end_of_life": 1.25,
        "total": 12.25,
        "recycling_benefit": -0.75,
        "net": 11.5,
    }
    k = any_store.kpis([b, a])
    assert list(k.index) == [b, a] and k.loc[a, "energy_kwh"] == 50.0
    with pytest.raises(ParameterError):
        any_store.compare([a])
    with pytest.raises(StoreError, match="nope"):
        any_store.kpis([a, "nope"])


def test_runs_filters(any_store: RunStore) -> None:
    a, b = _two_runs(any_store)
    c = any_store.save_run("lca", name="x")
    assert set(any_store.runs()["id"]) == {a, b, c}
    assert any_store.runs()["id"].iloc[0] == c  # newest first
    assert set(any_store.runs("scenario")["id"]) == {a, b}
    assert set(any_store.runs(["scenario", "lca"])["id"]) == {a, b, c}
    assert any_store.runs(tags=["q1", "what-if"])["id"].tolist() == [b]
    assert any_store.runs(name="baseline")["id"].tolist() == [a]
    assert len(any_store.runs(limit=2)) == 2
    with pytest.raises(ParameterError, match="unknown run kind"):
        any_store.runs("bogus")


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
def test_save_run_rejects_bad_input(any_store: RunStore, kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        any_store.save_run(**kwargs)
    assert any_store.runs().empty


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
    any_store: RunStore, column: str, values: list, shown: str
) -> None:
    traj = pd.DataFrame(
        {"iteration": [0, 0, 0], "step": [0, 1, 2], "variable": ["t"] * 3, "value": [1.0] * 3}
    )
    traj[column] = pd.Series(values, dtype=object if "two" in shown else None)
    with pytest.raises(ParameterError, match=rf"trajectories\.{column} .*{shown}") as info:
        any_store.save_run("simulation", trajectories=traj)
    assert info.value.name == column
    assert any_store.runs().empty


def test_whole_float_steps_are_stored_as_integers(any_store: RunStore) -> None:
    traj = pd.DataFrame(
        {"iteration": [0.0, 1.0], "step": [3.0, 4.0], "variable": ["t", "t"], "value": [1.0, 2.0]}
    )
    back = any_store.trajectories(any_store.save_run("simulation", trajectories=traj))
    assert sorted(zip(back["iteration"], back["step"], strict=True)) == [(0, 3), (1, 4)]


def test_run_is_all_or_nothing(any_store: RunStore) -> None:
    rec = {"simulations": [{"id": "sim-1", "steps": 3}]}
    first = any_store.save_run("simulation", records=rec, kpis={"a": 1.0})
    # the second run's record collides with the first's primary key inside the transaction
    with pytest.raises(StoreError, match="rolled back"):
        any_store.save_run(
            "simulation", run_id="second", trajectories=traj(), kpis={"a": 2.0}, records=rec
        )
    assert any_store.runs()["id"].tolist() == [first]
    q = "SELECT (SELECT count(*) FROM trajectories), (SELECT count(*) FROM run_kpis)"
    assert any_store.query(q).iloc[0].tolist() == [0, 1]
    with pytest.raises(StoreError, match="already exists"):
        any_store.save_run("simulation", run_id=first)


def test_records_tables_store_json(any_store: RunStore) -> None:
    rid = any_store.save_run(
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
    opt = any_store.query(
        "SELECT parameters->>'x' AS x, constraints, improvement, run_id FROM optimizations"
    )
    assert opt.iloc[0].tolist() == ["1", "[1, 2]", 0.1, rid]
    st = any_store.query("SELECT state_data->>'system_status' AS s, batch_id FROM states")
    assert st.iloc[0].tolist() == ["running", "B-1"]


def test_delete_runs_leaves_no_orphans(any_store: RunStore) -> None:
    a, b = _two_runs(any_store)
    c = any_store.save_run(
        "simulation", trajectories=traj(), records={"simulations": [{"steps": 3}]}
    )
    any_store.save_events(
        [{"id": "ev", "run_id": c, "timestamp": "2025-01-01T00:00:00", "message": "m"}]
    )
    with pytest.raises(ParameterError, match="filter"):
        any_store.delete_runs()
    assert any_store.delete_runs(tags="what-if") == 1
    assert any_store.delete_runs([c, "missing"]) == 1
    assert any_store.runs()["id"].tolist() == [a]
    for table in (
        "run_kpis",
        "trajectories",
        "simulations",
        "optimizations",
        "lca_results",
        "states",
        "events",
    ):
        orphans = any_store.query(
            f"SELECT count(*) AS n FROM {table} WHERE run_id IS NOT NULL AND run_id NOT IN (SELECT id FROM runs)"
        )
        assert orphans["n"].iloc[0] == 0, table
    assert any_store.delete_runs(kind="scenario", before="2999-01-01") == 1
    assert any_store.delete_runs(kind="scenario", before="2000-01-01") == 0
    assert any_store.query("SELECT count(*) AS n FROM lca_results")["n"].iloc[0] == 0


def test_published_store_refuses_destructive_calls(store_url, tmp_path) -> None:
    RunStore(store_url).save_scenario("s", {"a": 1})
    pub = RunStore(store_url, published=True)
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


def test_events_save_replace_acknowledge(any_store: RunStore) -> None:
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
    assert any_store.save_events([ev, {**ev, "id": "e2", "severity": "critical"}]) == 2
    assert any_store.acknowledge_event("e1") is True
    assert any_store.acknowledge_event("nope") is False
    df = any_store.events(acknowledged=True)
    assert df["id"].tolist() == ["e1"]
    assert df["details"].iloc[0] == {"value": 28.1, "limits": [18.0, 27.0]}
    assert df["timestamp"].iloc[0] == pd.Timestamp("2025-02-24T14:30:22.123456")
    any_store.save_events(pd.DataFrame([{**ev, "message": "again"}]))  # same id: replaced
    assert any_store.events(severity="warning")["message"].tolist() == ["again"]
    with pytest.raises(ParameterError, match="unknown fields"):
        any_store.save_events([{**ev, "colour": "red"}])


def test_scenarios_crud(any_store: RunStore) -> None:
    any_store.save_scenario("hot", {"target_temperature": 26.0}, "warm line")
    with pytest.raises(StoreError, match="overwrite=True"):
        any_store.save_scenario("hot", {"target_temperature": 27.0})
    any_store.save_scenario("hot", {"target_temperature": 27.0}, "hotter", overwrite=True)
    sc = any_store.get_scenario("hot")
    assert sc["parameters"] == {"target_temperature": 27.0} and sc["description"] == "hotter"
    assert sc["updated_at"] >= sc["created_at"]
    assert any_store.list_scenarios()["name"].tolist() == ["hot"]
    assert any_store.get_scenario("cold") is None
    assert any_store.delete_scenario("hot") is True and any_store.delete_scenario("hot") is False


def test_query_binds_parameters_and_is_read_only(any_store: RunStore) -> None:
    hostile = "'; DROP TABLE runs; --"
    any_store.save_run("simulation", name=hostile)
    assert any_store.query("SELECT name FROM runs WHERE name = ?", [hostile])["name"].tolist() == [
        hostile
    ]
    assert any_store.query("SELECT $n AS n", {"n": hostile})["n"].tolist() == [hostile]
    with pytest.raises(StoreError, match="read-only"):
        any_store.query("DROP TABLE runs")
    assert len(any_store.runs()) == 1
    with pytest.raises(StoreError):
        any_store.query("SELECT * FROM no_such_table")


# -- what query() refuses and accepts (the same SQL on both backends) -----------------------


@pytest.mark.parametrize("sql", WRITES)
def test_query_refuses_writes(any_store: RunStore, sql: str) -> None:
    any_store.save_run("simulation", name="kept")
    with pytest.raises(StoreError, match="read-only|one statement"):
        any_store.query(sql)
    assert any_store.runs()["name"].tolist() == ["kept"]
    assert not Path("/tmp/circman-leak.csv").exists()


@pytest.mark.parametrize(
    ("sql", "rows"),
    [
        ("SELECT name FROM runs", 1),
        ("SELECT name FROM runs;", 1),
        ("  -- a comment\nWITH r AS (SELECT * FROM runs) SELECT name FROM r", 1),
        ("SELECT count(*) AS n FROM run_summary WHERE name = 'a' AND '?' = '?'", 1),
        ("EXPLAIN SELECT * FROM runs", None),
    ],
)
def test_query_accepts_reads(any_store: RunStore, sql: str, rows: int | None) -> None:
    any_store.save_run("simulation", name="a")
    got = any_store.query(sql)
    assert rows is None and len(got) >= 1 or len(got) == rows


# a query that would run for hours on either backend (10^13 rows, constant memory)
ENDLESS = (
    "SELECT count(*) AS n FROM generate_series(1, 100000) AS a, "
    "generate_series(1, 100000) AS b, generate_series(1, 1000) AS c"
)


def test_query_time_limit_cancels_the_statement(any_store: RunStore) -> None:
    start = time.monotonic()
    with pytest.raises(QueryTimeout, match="time limit of 0.5 s"):
        any_store.query(ENDLESS, timeout_s=0.5)
    assert time.monotonic() - start < 5
    # the store's default applies without timeout_s
    limited = RunStore(any_store.location.target, query_timeout_s=0.3)
    with pytest.raises(QueryTimeout, match="0.3 s"):
        limited.query(ENDLESS)
    assert any_store.query("SELECT count(*) AS n FROM runs")["n"].iloc[0] == 0
    with pytest.raises(ParameterError, match="timeout_s"):
        any_store.query("SELECT 1", timeout_s=-1)


# -- names ---------------------------------------------------------------------------------


def test_run_and_scenario_names_are_limited_to_200_characters(any_store: RunStore) -> None:
    rid = any_store.save_run("scenario", name="n" * 200)
    assert any_store.get_run(rid)["name"] == "n" * 200
    with pytest.raises(ParameterError, match="run name is 201 characters; at most 200"):
        any_store.save_run("scenario", name="n" * 201)
    with pytest.raises(ParameterError, match="at most 200"):
        any_store.save_scenario("s" * 201, {})
    with pytest.raises(ParameterError, match="name must be a string"):
        any_store.save_run("scenario", name=7)
    assert len(any_store.runs()) == 1 and any_store.list_scenarios().empty


# -- users and audit (the team server's contract) ---------------------------------------


def test_users_and_audit(any_store: RunStore) -> None:
    any_store.add_user("ana", "admin", "$argon2id$hash-a")
    any_store.add_user("ben", "viewer", "$argon2id$hash-b")
    with pytest.raises(StoreError, match="already exists"):
        any_store.add_user("ana", "viewer", "x")
    with pytest.raises(ParameterError, match="role"):
        any_store.add_user("cy", "", "x")
    user = any_store.get_user("ana")
    assert user["role"] == "admin" and user["password_hash"] == "$argon2id$hash-a"
    assert user["updated_at"] == user["created_at"]
    assert any_store.get_user("nobody") is None
    listed = any_store.list_users()
    assert listed.columns.tolist() == ["name", "role", "created_at", "updated_at"]
    assert listed["name"].tolist() == ["ana", "ben"]
    any_store.set_user_role("ben", "engineer")
    any_store.set_user_password("ben", "$argon2id$hash-c")
    ben = any_store.get_user("ben")
    assert ben["role"] == "engineer" and ben["password_hash"] == "$argon2id$hash-c"
    assert ben["updated_at"] >= ben["created_at"]
    with pytest.raises(StoreError, match="no user 'zed'"):
        any_store.set_user_role("zed", "admin")
    assert any_store.remove_user("ben") is True and any_store.remove_user("ben") is False

    first = any_store.record_audit("ana", "user.add", "ben", {"role": "viewer"})
    second = any_store.record_audit("ana", "run.delete", "r1")
    any_store.record_audit("ben", "event.ack")
    log = any_store.audit_log()
    assert log["id"].tolist()[:2] == [any_store.audit_log(limit=3)["id"].iloc[0], log["id"].iloc[1]]
    assert set(log["id"]) >= {first, second} and len(log) == 3
    mine = any_store.audit_log(user="ana")
    assert mine["action"].tolist() == ["run.delete", "user.add"]
    assert mine["details"].tolist() == [None, {"role": "viewer"}]
    assert any_store.audit_log(action="event.ack")["user_name"].tolist() == ["ben"]
    assert len(any_store.audit_log(limit=1)) == 1


# -- hostile strings ---------------------------------------------------------------------

HOSTILE = [
    'it\'s "quoted"',
    "'; DROP TABLE runs; --",
    "line one\nline two\r\n\ttab",
    "Grüße, 光伏组件, 🌞, \u200b zero-width",
    "back\\slash %s {} $1 ?",
    "x" * 100_000,  # too long for a name (200 at most): in tags, parameters and values
]


def test_hostile_strings_round_trip_verbatim(any_store: RunStore) -> None:
    ids = []
    for s in HOSTILE:
        ids.append(
            any_store.save_run(
                "scenario",
                name=s[:200],
                tags=[s, "plain"],
                parameters={s: s, "list": [s]},
                kpis={s[:200]: 1.0},
                trajectories=pd.DataFrame({"step": [0], "variable": [s], "value": [1.0]}),
            )
        )
    for s, rid in zip(HOSTILE, ids, strict=True):
        run = any_store.get_run(rid)
        assert run["name"] == s[:200] and run["tags"] == [s, "plain"]
        assert run["parameters"] == {s: s, "list": [s]}
        assert run["kpis"] == {s[:200]: 1.0}
        assert any_store.trajectories(rid)["variable"].tolist() == [s]
        assert any_store.runs(name=s[:200])["id"].tolist() == [rid]
    assert any_store.query("SELECT count(*) AS n FROM runs")["n"].iloc[0] == len(HOSTILE)


_NO_NUL = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.text(_NO_NUL, max_size=200),
    tags=st.lists(st.text(_NO_NUL, max_size=50), max_size=4),
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
    any_store: RunStore, name: str, tags: list[str], params: dict
) -> None:
    rid = any_store.save_run("sweep", name=name, tags=tags, parameters=params)
    run = any_store.get_run(rid)
    assert run["name"] == name and run["tags"] == tags and run["parameters"] == params


def test_nul_characters_are_refused_in_names(any_store: RunStore) -> None:
    # PostgreSQL text cannot hold NUL: refused on both backends alike, before any write
    for kwargs in ({"name": "a\x00b"}, {"tags": ["ok", "t\x00"]}, {"kpis": {"k\x00": 1.0}}):
        with pytest.raises(ParameterError, match="NUL"):
            any_store.save_run("sweep", **kwargs)
    # a lone surrogate is no text either (DuckDB failed to write it, psycopg raised
    # UnicodeEncodeError): refused alike, naming the field
    for kwargs in (
        {"name": "\ud800"},
        {"tags": ["x\udcff"]},
        {"kpis": {"k\udc80": 1.0}},
        {"parameters": {"p": "\ud800"}},
    ):
        with pytest.raises(ParameterError, match="lone surrogate"):
            any_store.save_run("sweep", **kwargs)
    assert any_store.runs().empty


# -- Parquet export / import -------------------------------------------------------------


def test_parquet_export_import_round_trips_exactly(any_store: RunStore, tmp_path) -> None:
    a, b = _two_runs(any_store)
    c = any_store.save_run(
        "monte_carlo",
        name=HOSTILE[3],
        parameters={"p": HOSTILE[1]},
        seed=2**62,
        duration_s=0.1 + 0.2,
        trajectories=traj(3, 4).assign(value=lambda d: d["value"] / 3),
        records={"states": [{"state_data": {"a": 1}}], "simulations": [{"results": {"r": [1.5]}}]},
    )
    any_store.save_events([{"id": "ev", "run_id": c, "timestamp": "2025-01-01T00:00:00.000001"}])
    folder = any_store.export_runs([a, c], tmp_path / "share")
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{t}.parquet" for t in RUN_TABLES] + ["manifest.json"]
    )
    fresh = RunStore(tmp_path / "fresh.duckdb")
    assert sorted(fresh.import_runs(folder)) == sorted([a, c])
    want, got = dump(any_store, [a, c]), dump(fresh, [a, c])
    for table in want:
        pd.testing.assert_frame_equal(got[table], want[table], check_exact=True, obj=table)
    assert len(want["trajectories"]) == 24 and b not in set(fresh.runs()["id"])
    # importing again is an error, and nothing is half-imported
    fresh.delete_runs([a])
    with pytest.raises(StoreError, match="already exist"):
        fresh.import_runs(folder)
    assert fresh.runs()["id"].tolist() == [c]
    with pytest.raises(StoreError, match="not empty"):
        any_store.export_runs([a], folder)
    with pytest.raises(StoreError, match="missing"):
        any_store.export_runs(["missing"], tmp_path / "other")


def test_a_run_without_trajectories_reads_as_an_empty_frame(any_store: RunStore) -> None:
    rid = any_store.save_run("lca", kpis={"total_impact": 1.0})
    back = any_store.trajectories(rid)
    assert back.empty and list(back.columns) == ["iteration", "step", "variable", "value"]
    with pytest.raises(StoreError, match="no run with id 'nope'"):
        any_store.trajectories("nope")


def test_step_medians_are_the_median_over_iterations_per_step(any_store: RunStore) -> None:
    rng = np.random.default_rng(7)
    mc = traj(iterations=4, steps=5).assign(value=lambda d: rng.normal(size=len(d)))
    one = traj(iterations=1, steps=3)
    a = any_store.save_run("monte_carlo", trajectories=mc)
    b = any_store.save_run("simulation", trajectories=one)
    empty = any_store.save_run("lca", kpis={"total_impact": 1.0})
    assert any_store.variables([a, b]) == ["output", "temperature"]
    assert any_store.variables(empty) == []
    got = any_store.step_medians([a, b], "temperature")
    want = pd.concat(
        [
            frame[frame["variable"] == "temperature"]
            .groupby("step", as_index=False)["value"]
            .median()  # an even number of iterations: the mean of the middle two
            .assign(run_id=rid)
            for rid, frame in sorted({a: mc, b: one}.items())
        ]
    )
    assert got.columns.tolist() == ["run_id", "step", "value"]
    assert got["run_id"].tolist() == want["run_id"].tolist()
    assert got["step"].tolist() == want["step"].tolist()
    np.testing.assert_allclose(got["value"], want["value"], rtol=1e-12)
    assert any_store.step_medians(a, "no such variable").empty
    with pytest.raises(StoreError, match="nope"):
        any_store.step_medians([a, "nope"], "temperature")
    with pytest.raises(StoreError, match="nope"):
        any_store.variables("nope")


def test_a_store_is_a_context_manager(store_url: str) -> None:
    with RunStore(store_url) as store:
        rid = store.save_run("simulation")
    store.close()  # twice is fine, and the store reopens when used again
    assert store.get_run(rid)["id"] == rid
