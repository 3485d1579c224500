"""A dashboard kernel's viewer and its writes: the server's record, the role, the audit log.

The record is the file the server writes for a kernel it hands to a signed-in page; these
tests write it as the server does and point the kernel-side code at it.
"""

from __future__ import annotations

import uuid

import pytest

from circman_kernel.apps._guard import GuardedStore
from circman_kernel.apps._identity import (
    AUTH_ENV,
    IDENTITY_DIR_ENV,
    Viewer,
    current_viewer,
    read_record,
    write_record,
)
from circman_kernel.core.errors import ParameterError, PermissionDeniedError


def test_record_round_trip_is_owner_only(tmp_path) -> None:
    kid = str(uuid.uuid4())
    path = write_record(tmp_path, kid, Viewer("ana", "engineer", True, "tok"))
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_record(tmp_path, kid) == Viewer("ana", "engineer", True, "tok")
    assert read_record(tmp_path, str(uuid.uuid4())) is None
    with pytest.raises(ParameterError, match="not a kernel id"):
        read_record(tmp_path, "../../etc/passwd")
    with pytest.raises(ParameterError, match="unknown role"):
        write_record(tmp_path, kid, Viewer("ana", "root", True))


def test_without_sign_in_the_viewer_is_the_local_manager(monkeypatch) -> None:
    monkeypatch.delenv(AUTH_ENV, raising=False)
    assert current_viewer("published") == Viewer("local", "manager")


def test_with_sign_in_and_no_record_there_is_no_viewer(monkeypatch, tmp_path) -> None:
    # outside a kernel there is no kernel id, so no record can be found: fail closed
    monkeypatch.setenv(AUTH_ENV, "on")
    monkeypatch.setenv(IDENTITY_DIR_ENV, str(tmp_path))
    assert current_viewer("published") is None


def _guarded(store, viewer):
    return GuardedStore(store, lambda: viewer)


def test_viewer_cannot_save_and_engineer_save_is_audited(store) -> None:
    store.add_user("vic", "viewer", "h")
    store.add_user("eve", "engineer", "h")
    with pytest.raises(PermissionDeniedError, match="engineer role"):
        _guarded(store, Viewer("vic", "viewer", True)).save_run("simulation", name="x")
    assert store.runs().empty
    run_id = _guarded(store, Viewer("eve", "engineer", True)).save_run("simulation", name="y")
    audit = store.audit_log()
    assert audit[["user_name", "action", "target"]].values.tolist() == [["eve", "run.save", run_id]]
    assert audit["details"][0] == {"kind": "simulation", "name": "y"}


def test_role_is_read_again_from_the_store_at_each_write(store) -> None:
    store.add_user("eve", "engineer", "h")
    guard = _guarded(store, Viewer("eve", "engineer", True))
    guard.save_run("simulation", name="ok")
    store.set_user_role("eve", "viewer")  # demoted while the page is open
    with pytest.raises(PermissionDeniedError, match="viewer role"):
        guard.save_run("simulation", name="refused")
    store.remove_user("eve")
    with pytest.raises(PermissionDeniedError, match="no longer exists"):
        guard.save_run("simulation", name="refused")
    # a record claiming a higher role changes nothing: the store's role counts
    store.add_user("vic", "viewer", "h")
    with pytest.raises(PermissionDeniedError):
        _guarded(store, Viewer("vic", "admin", True)).save_run("simulation", name="x")
    assert store.runs()["name"].tolist() == ["ok"]


def test_no_viewer_may_change_nothing_and_unknown_methods_are_refused(store) -> None:
    guard = _guarded(store, None)
    with pytest.raises(PermissionDeniedError, match="nobody signed in"):
        guard.save_run("simulation")
    with pytest.raises(PermissionDeniedError, match="cannot call add_user"):
        guard.add_user("x", "admin", "h")
    with pytest.raises(PermissionDeniedError, match="read-write"):
        guard.connect(read_only=False)
    assert guard.runs().empty  # reads pass


def test_delete_needs_manager_and_is_audited(store) -> None:
    rid = store.save_run("simulation", name="old")
    store.add_user("op", "operator", "h")
    store.add_user("boss", "manager", "h")
    with pytest.raises(PermissionDeniedError, match="manager role"):
        _guarded(store, Viewer("op", "operator", True)).delete_runs([rid])
    assert _guarded(store, Viewer("boss", "manager", True)).delete_runs([rid]) == 1
    row = store.audit_log(action="run.delete").iloc[0]
    assert (row["user_name"], row["target"], row["details"]["deleted"]) == ("boss", rid, 1)
