"""``circman users``, ``circman token`` and ``circman twin serve`` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import jwt
import pytest
from voila_server import free_port

from circman_kernel.cli import main
from circman_kernel.store.run_store import RunStore


@pytest.fixture
def secret_file(tmp_path, monkeypatch):
    path = tmp_path / "cfg" / "auth-secret"
    monkeypatch.setenv("CIRCMAN_AUTH_SECRET_FILE", str(path))
    monkeypatch.delenv("CIRCMAN_AUTH_SECRET", raising=False)
    return path


def _stdin(monkeypatch, text: str) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_users_add_list_role_password_remove_with_audit(db_path, monkeypatch, capsys) -> None:
    db = str(db_path)
    _stdin(monkeypatch, "s3cret-pass\n")
    assert main(["--db", db, "users", "add", "ana", "--role", "engineer", "--password-stdin"]) == 0
    store = RunStore(db)
    row = store.get_user("ana")
    assert row["role"] == "engineer" and row["password_hash"].startswith("$argon2id$")
    assert "s3cret-pass" not in row["password_hash"]
    assert main(["--db", db, "users", "list"]) == 0
    listing = capsys.readouterr().out
    assert "ana" in listing and "engineer" in listing and "argon2" not in listing
    assert main(["--db", db, "users", "set-role", "ana", "manager"]) == 0
    _stdin(monkeypatch, "another-pass\n")
    assert main(["--db", db, "users", "set-password", "ana", "--password-stdin"]) == 0
    from circman_kernel.server.auth import verify_password

    assert verify_password(store.get_user("ana")["password_hash"], "another-pass")
    assert main(["--db", db, "users", "remove", "ana"]) == 0
    assert store.get_user("ana") is None
    audit = store.audit_log()
    assert audit["action"].tolist()[::-1] == ["user.add", "user.role", "user.password",
                                                "user.remove"]  # fmt: skip
    assert audit["user_name"].str.startswith("cli:").all()
    assert audit.loc[audit["action"] == "user.role", "details"].item() == {"from": "engineer",
                                                                            "to": "manager"}  # fmt: skip


def test_users_errors_are_one_line(db_path, monkeypatch, capsys) -> None:
    db = str(db_path)
    _stdin(monkeypatch, "short\n")
    assert main(["--db", db, "users", "add", "bo", "--role", "viewer", "--password-stdin"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err
    _stdin(monkeypatch, "long-enough\n")
    main(["--db", db, "users", "add", "bo", "--role", "viewer", "--password-stdin"])
    _stdin(monkeypatch, "long-enough\n")
    assert main(["--db", db, "users", "add", "bo", "--role", "viewer", "--password-stdin"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["--db", db, "users", "remove", "nobody"]) == 2
    with pytest.raises(SystemExit):
        main(["--db", db, "users", "add", "x", "--role", "root"])


def test_token_create_signs_for_an_existing_user(db_path, secret_file, monkeypatch, capsys):
    db = str(db_path)
    _stdin(monkeypatch, "long-enough\n")
    main(["--db", db, "users", "add", "op", "--role", "operator", "--password-stdin"])
    capsys.readouterr()
    assert main(["--db", db, "token", "create", "--user", "op", "--expires", "30m"]) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, secret_file.read_bytes().strip(), algorithms=["HS256"])
    assert claims["sub"] == "op" and 1790 <= claims["exp"] - claims["iat"] <= 1800
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert main(["--db", db, "token", "create", "--user", "ghost"]) == 2
    assert "no user 'ghost'" in capsys.readouterr().err
    assert RunStore(db).audit_log(action="token.create")["target"].tolist() == ["op"]


@pytest.mark.slow
def test_twin_serve_feeds_serves_and_stores_on_sigterm(tmp_path) -> None:
    db = tmp_path / "twin.duckdb"
    port = free_port()
    env = {**os.environ, "CIRCMAN_DB": str(db)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "circman_kernel.cli", "twin", "serve", "--source", "simulated:5",
         "--rate", "20", "--port", str(port)],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        state = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/twin/state") as r:
                    state = json.loads(r.read())
                if state["status"]["updates"] >= 20:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert state is not None and state["status"]["source"] == "simulated:5"
        assert state["status"]["running"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    run = RunStore(db).runs(kind="replay").iloc[0]
    assert "live-twin" in run["tags"] and run["name"].startswith("live twin simulated:5")
    assert RunStore(db).events(category="system")["message"].str.contains("initialized").any()


def test_twin_serve_refuses_a_public_address_without_auth(capsys) -> None:
    assert main(["twin", "serve", "--source", "simulated", "--host", "0.0.0.0"]) == 2
    assert "without --auth" in capsys.readouterr().err
