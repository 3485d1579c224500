"""The embedded DuckDB store: its file, locks, shared connections, memory store, diagnostics.

What only a file store has; everything the backends share is in ``test_store.py``.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import duckdb
import pytest
from filelock import FileLock
from store_helpers import WRITES, traj

from circman_kernel.core.errors import StoreError
from circman_kernel.store import connection as store_conn
from circman_kernel.store.connection import migrate, transaction
from circman_kernel.store.run_store import RunStore
from circman_kernel.store.schema import SCHEMA_VERSION, Migration


def test_memory_store() -> None:
    mem = RunStore(":memory:")
    rid = mem.save_run("simulation", trajectories=traj(1, 2), kpis={"a": 1.0})
    assert mem.get_run(rid)["kpis"] == {"a": 1.0}
    assert len(mem.trajectories(rid)) == 4
    assert RunStore(":memory:").runs().empty  # another memory store is independent


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


DUCKDB_WRITES = [
    *WRITES,
    "COPY runs TO 'leak.csv'",
    "SET threads = 1",
    "PRAGMA memory_limit = '1GB'",
    "PRAGMA force_checkpoint",
    "ATTACH ':memory:' AS other",
]


@pytest.mark.parametrize("sql", DUCKDB_WRITES)
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
