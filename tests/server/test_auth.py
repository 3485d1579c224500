"""Sign-in pieces without a server: hashes, the secret file, tokens, the failure limit, binding."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import jwt
import pytest

from circman_kernel.core.errors import ConfigError, ParameterError
from circman_kernel.server.auth import (
    AuthenticationError,
    Authenticator,
    SigningSecret,
    SignInLimiter,
    TooManyAttempts,
    hash_password,
    parse_duration,
    rotate_secret,
    verify_password,
)
from circman_kernel.server.context import check_bind, is_loopback, load_limits


@pytest.fixture
def secret(tmp_path, monkeypatch) -> SigningSecret:
    monkeypatch.delenv("CIRCMAN_AUTH_SECRET", raising=False)
    monkeypatch.setenv("CIRCMAN_AUTH_SECRET_FILE", str(tmp_path / "cfg" / "auth-secret"))
    return SigningSecret()


@pytest.fixture
def auth(store, secret) -> Authenticator:
    store.add_user("ana", "engineer", hash_password("ana-password"))
    return Authenticator(store, secret, user_cache_s=0)


def test_password_hash_is_argon2id_and_checks() -> None:
    h = hash_password("correct horse")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "correct horse") and not verify_password(h, "wrong horse")
    assert not verify_password(None, "anything")
    with pytest.raises(ParameterError, match="at least 8"):
        hash_password("short")


def test_secret_file_is_generated_owner_only_and_refused_when_readable(secret) -> None:
    assert secret.path.stat().st_mode & 0o777 == 0o600
    assert len(secret.key()) == 64
    os.chmod(secret.path, 0o644)
    with pytest.raises(ConfigError, match="readable by others; chmod 600"):
        secret.key()


def test_secret_from_the_environment_must_be_long(monkeypatch) -> None:
    monkeypatch.setenv("CIRCMAN_AUTH_SECRET", "short")
    with pytest.raises(ConfigError, match="at least 32"):
        SigningSecret()
    monkeypatch.setenv("CIRCMAN_AUTH_SECRET", "k" * 40)
    assert SigningSecret().key() == b"k" * 40
    with pytest.raises(ConfigError, match="restart"):
        rotate_secret()


def test_token_round_trip_and_the_stores_role_counts(auth, store) -> None:
    who, token, expires = auth.sign_in("ana", "ana-password")
    assert (who.name, who.role) == ("ana", "engineer")
    assert 8 * 3600 - 5 < expires.timestamp() - time.time() <= 8 * 3600
    store.set_user_role("ana", "viewer")
    assert auth.verify(token).role == "viewer"  # the token says engineer; the store wins
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["role"] == "engineer" and claims["iss"] == "circman"


def test_verify_refuses_every_bad_token(auth, store, secret) -> None:
    _, token, _ = auth.sign_in("ana", "ana-password")
    now = int(time.time())
    claims = {"iss": "circman", "sub": "ana", "role": "admin", "iat": now, "exp": now + 60}
    bad = {
        "other secret": jwt.encode(claims, "z" * 64, algorithm="HS256"),
        "HS512": jwt.encode(claims, secret.key(), algorithm="HS512"),
        "no exp": jwt.encode({k: v for k, v in claims.items() if k != "exp"}, secret.key()),
        "expired": jwt.encode({**claims, "exp": now - 1}, secret.key()),
        "other issuer": jwt.encode({**claims, "iss": "elsewhere"}, secret.key()),
        "unknown user": jwt.encode({**claims, "sub": "bob"}, secret.key()),
        "empty": "",
    }
    for name, forged in bad.items():
        with pytest.raises(AuthenticationError):
            auth.verify(forged)
        assert name
    store.remove_user("ana")
    with pytest.raises(AuthenticationError, match="no longer exists"):
        auth.verify(token)


def test_rotation_voids_tokens(auth, secret) -> None:
    _, token, _ = auth.sign_in("ana", "ana-password")
    rotate_secret(secret.path)
    with pytest.raises(AuthenticationError, match="not valid"):
        auth.verify(token)


def test_five_failures_lock_the_name_for_the_window() -> None:
    limiter = SignInLimiter(max_failures=5, window_s=0.5)
    for _ in range(5):
        limiter.check("ana")
        limiter.failed("ana")
    with pytest.raises(TooManyAttempts) as caught:
        limiter.check("ana")
    assert 0 < caught.value.retry_after_s <= 1.0
    limiter.check("bob")  # other names are free
    time.sleep(0.6)
    limiter.check("ana")  # the window passed


def test_durations() -> None:
    assert parse_duration("8h") == 28800 and parse_duration("30m") == 1800
    assert parse_duration("2d") == 172800 and parse_duration(90) == 90
    for bad in ("soon", "0s", "400d"):
        with pytest.raises(ParameterError):
            parse_duration(bad)


def test_binding_beyond_loopback_needs_sign_in() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("") and not is_loopback("10.1.2.3")
    check_bind("127.0.0.1", False)
    check_bind("0.0.0.0", True)
    with pytest.raises(ConfigError, match="without --auth"):
        check_bind("0.0.0.0", False)


def test_dashboard_cli_refuses_a_public_address_without_auth() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "circman_kernel.cli", "dashboard", "--host", "0.0.0.0",
         "--print-command"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert "refusing to bind 0.0.0.0 without --auth" in out.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "circman_kernel.cli", "dashboard", "--host", "0.0.0.0", "--auth",
         "--twin", "simulated:4", "--print-command"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "--CircmanVoila.auth=True" in ok.stdout
    assert "--CircmanVoila.twin_source=simulated:4" in ok.stdout


def test_limits_come_from_server_json(tmp_path) -> None:
    assert load_limits(tmp_path).max_body_bytes == 1_048_576
    (tmp_path / "server.json").write_text('{"limits": {"max_steps": 50, "user_cache_s": 0.5}}')
    limits = load_limits(tmp_path)
    assert (limits.max_steps, limits.user_cache_s) == (50, 0.5)
    (tmp_path / "server.json").write_text('{"limits": {"max_stepz": 50}}')
    with pytest.raises(ConfigError, match="unknown key limits.max_stepz"):
        load_limits(tmp_path)
