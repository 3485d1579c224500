"""The team store on PostgreSQL: locations, connection failures, schema versions, secrets.

A real PostgreSQL 15 (``pg_server``); the unreachable servers are real sockets on this
machine (a closed port, and a listener that never answers).
"""

from __future__ import annotations

import logging
import pickle
import socket
import threading
import time

import psycopg
import pytest

from circman_kernel.core.errors import ParameterError, StoreError
from circman_kernel.store.pg_schema import PG_MIGRATIONS
from circman_kernel.store.run_store import RunStore
from circman_kernel.store.schema import SCHEMA_VERSION
from circman_kernel.store.urls import parse_location, redact

SECRET = "s3cret-Pa55"


# -- locations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "backend", "target"),
    [
        ("/data/runs.duckdb", "duckdb", "/data/runs.duckdb"),
        ("duckdb:///data/runs.duckdb", "duckdb", "/data/runs.duckdb"),
        (":memory:", "duckdb", ":memory:"),
        ("postgresql://ana@db.lab:5433/circman", "postgresql", None),
        ("postgres://ana:pw@db.lab/circman", "postgresql", None),
        ("host=db.lab port=5433 dbname=circman user=ana", "postgresql", None),
        ("runs=1.duckdb", "duckdb", None),  # '=' in a file name is not a keyword string
    ],
)
def test_locations(url: str, backend: str, target: str | None) -> None:
    loc = parse_location(url)
    assert loc.backend == backend
    if target is not None:
        assert loc.target == target
    if backend == "postgresql":
        assert loc.host == "db.lab" and "connect_timeout=5" in loc.target
        assert loc.port == ("5433" if "5433" in url else "5432")


@pytest.mark.parametrize("url", ["", "   ", "mysql://x@y/z", "duckdb://"])
def test_bad_locations_are_parameter_errors(url: str) -> None:
    with pytest.raises(ParameterError):
        parse_location(url)


def test_passwords_are_redacted() -> None:
    assert redact("postgresql://ana:pa%40ss@db:5432/c") == "postgresql://ana:***@db:5432/c"
    assert redact("host=db password=pa55 user=ana") == "host=db password=*** user=ana"
    assert (
        redact("postgresql://ana@db/c?password=pa55&x=1")
        == "postgresql://ana@db/c?password=***&x=1"
    )
    loc = parse_location(f"host=db password='{SECRET}' user=ana")
    assert SECRET not in repr(loc) and SECRET not in loc.display
    assert loc.scrub(f"oops {SECRET}") == "oops ***"


def test_circman_db_may_name_the_team_store(pg_url, monkeypatch) -> None:
    monkeypatch.setenv("CIRCMAN_DB", pg_url)
    store = RunStore()
    assert store.backend == "postgresql" and isinstance(store, RunStore)
    assert SECRET not in repr(store) and "circman:***@" in repr(store)


# -- connection failures ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_closed_port_names_host_and_port() -> None:
    port = _free_port()
    start = time.monotonic()
    with pytest.raises(
        StoreError, match=rf"cannot reach the PostgreSQL server at 127\.0\.0\.1:{port}"
    ):
        RunStore(f"postgresql://ana:{SECRET}@127.0.0.1:{port}/circman")
    assert time.monotonic() - start < 5


def test_silent_server_gives_up_within_five_seconds() -> None:
    # accepts the TCP connection (backlog) but never speaks PostgreSQL
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        start = time.monotonic()
        with pytest.raises(StoreError, match=rf"127\.0\.0\.1:{port}.*no answer") as info:
            RunStore(f"postgresql://ana:{SECRET}@127.0.0.1:{port}/circman")
        assert time.monotonic() - start < 6.5  # libpq's connect_timeout=5
        assert SECRET not in str(info.value)
    finally:
        listener.close()


def test_wrong_password_and_missing_database_say_which(pg_server) -> None:
    name = pg_server.create_database()
    try:
        with pytest.raises(StoreError, match="wrong password for user 'circman'") as info:
            RunStore(pg_server.url(name, password="not-it"))
        assert "not-it" not in str(info.value)
        with pytest.raises(StoreError, match="wants a password"):
            RunStore(pg_server.url(name, password=None))
        with pytest.raises(StoreError, match="database 'no_such_db' does not exist"):
            RunStore(pg_server.url("no_such_db"))
    finally:
        pg_server.drop_database(name)


def test_a_database_of_something_else_is_refused(pg_server) -> None:
    name = pg_server.create_database()
    try:
        with psycopg.connect(pg_server.url(name), autocommit=True) as con:
            con.execute("CREATE TABLE invoices (id int)")
        with pytest.raises(StoreError, match="not a circman run store"):
            RunStore(pg_server.url(name))
        with psycopg.connect(pg_server.url(name)) as con:
            tables = con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchall()
        assert tables == [("invoices",)]
    finally:
        pg_server.drop_database(name)


# -- schema versions ---------------------------------------------------------------------


def _newer(store_url: str) -> None:
    if store_url.startswith("postgresql"):
        with psycopg.connect(store_url, autocommit=True) as con:
            con.execute(
                "INSERT INTO circman_schema VALUES (%s, 'from the future', localtimestamp, '99')",
                [SCHEMA_VERSION + 1],
            )
    else:
        import duckdb

        con = duckdb.connect(store_url)
        con.execute(
            "INSERT INTO circman_schema VALUES (?, 'from the future', now()::TIMESTAMP, '99')",
            [SCHEMA_VERSION + 1],
        )
        con.close()


def test_a_newer_schema_refuses_to_write(store_url: str) -> None:
    RunStore(store_url).save_run("simulation", run_id="old")
    _newer(store_url)
    with pytest.raises(StoreError, match="newer than this circman"):
        RunStore(store_url).save_run("simulation", run_id="new")
    if store_url.startswith("postgresql"):  # the team store stays readable
        assert RunStore(store_url).runs()["id"].tolist() == ["old"]


def test_an_open_store_notices_a_newer_schema(pg_url) -> None:
    store = RunStore(pg_url)
    store.save_run("simulation", run_id="a")
    _newer(pg_url)  # another client upgraded meanwhile
    with pytest.raises(StoreError, match="newer"):
        store.save_run("simulation", run_id="b")
    assert store.runs()["id"].tolist() == ["a"]


def test_an_older_team_schema_is_migrated(pg_url) -> None:
    with psycopg.connect(pg_url) as con:
        for m in PG_MIGRATIONS[:2]:
            for statement in m.statements:
                con.execute(statement)
            con.execute(
                "INSERT INTO circman_schema VALUES (%s, %s, localtimestamp, 'old')",
                [m.version, m.description],
            )
        con.execute(
            "INSERT INTO runs (id, kind, created_at, status, tags) "
            "VALUES ('old-run', 'simulation', '2024-01-01', 'completed', '{x}')"
        )
        con.execute("INSERT INTO run_kpis VALUES ('old-run', 'output_modules', 5.0)")
    store = RunStore(pg_url)
    assert store.schema_version == SCHEMA_VERSION
    assert store.query("SELECT run_id, output_modules FROM run_summary").iloc[0].tolist() == [
        "old-run",
        5.0,
    ]
    store.add_user("ana", "admin", "h")  # the tables of migration 3 exist


def test_first_opens_at_once_migrate_once(pg_url) -> None:
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            RunStore(pg_url).save_run("simulation")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    store = RunStore(pg_url)
    versions = store.query("SELECT version FROM circman_schema ORDER BY version")["version"]
    assert versions.tolist() == list(range(1, SCHEMA_VERSION + 1)) and len(store.runs()) == 8


# -- secrets -----------------------------------------------------------------------------


def test_credentials_never_in_logs_errors_or_stored_runs(pg_server, pg_url, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    store = RunStore(pg_url)
    rid = store.save_run("simulation", name="n", parameters={"db": store.path})
    store.delete_runs([rid])
    rid = store.save_run("simulation", name="n", parameters={"db": store.path})
    texts = [r.getMessage() for r in caplog.records]
    for bad in (
        lambda: store.query("SELECT * FROM nowhere"),
        lambda: store.save_run("simulation", run_id=rid),
        lambda: RunStore(pg_url.replace(SECRET, SECRET + "x")),
    ):
        with pytest.raises(StoreError) as info:
            bad()
        texts.append(str(info.value))
    stored = store.query("SELECT * FROM runs").astype(str).to_string()
    texts.append(stored)
    assert all(SECRET not in t for t in texts)
    assert "circman:***@" in stored  # the run recorded where it was, without the password


def test_a_team_store_travels_to_other_processes(pg_url) -> None:
    store = RunStore(pg_url, query_timeout_s=7)
    copy = pickle.loads(pickle.dumps(store))
    assert copy.backend == "postgresql" and copy.query_timeout_s == 7
    rid = copy.save_run("simulation")
    assert store.get_run(rid)["id"] == rid
    with pytest.raises(TypeError, match="in-memory"):
        pickle.dumps(RunStore(":memory:"))


def _save_in_child(store: RunStore) -> None:
    store.close()  # what it inherited is the parent's session: closing must not end it
    store.save_run("simulation", run_id="from-child")


def test_a_forked_child_leaves_the_parents_connection_alone(pg_url) -> None:
    import multiprocessing

    store = RunStore(pg_url)
    store.save_run("simulation", run_id="before")  # leaves an idle connection in the parent
    child = multiprocessing.get_context("fork").Process(target=_save_in_child, args=(store,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    store.save_run("simulation", run_id="after")  # reuses the parent's idle connection
    assert sorted(store.runs()["id"]) == ["after", "before", "from-child"]


def test_an_idle_session_the_server_ended_is_replaced(pg_server, pg_url, monkeypatch) -> None:
    from circman_kernel.store import pg

    store = RunStore(pg_url)
    store.save_run("simulation", run_id="before")
    with pg_server.admin() as admin:  # as a server restart or an idle timeout would
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE usename = 'circman' AND pid <> pg_backend_pid()"
        )
    monkeypatch.setattr(pg, "_PING_AFTER_S", 0.0)
    store.save_run("simulation", run_id="after")
    assert sorted(store.runs()["id"]) == ["after", "before"]
