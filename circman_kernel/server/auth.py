"""Sign-in for the team server: password hashes, the signing secret, tokens, brute-force limit.

- Passwords are hashed with argon2id (``argon2-cffi``'s defaults: 64 MiB, 3 passes); the
  store keeps the hash only.
- A session (browser cookie) and an API bearer token are the same thing: a JWT signed with
  HS256 (PyJWT) carrying the user name, the role at issue time, ``iat`` and ``exp`` (8 h by
  default). Verification accepts HS256 only (so ``alg: none`` and other algorithms fail),
  needs ``exp``, ``iat`` and ``sub``, and then looks the user up in the store: a removed
  user, or a token issued before the user was (re)created, is refused, and the role that
  counts is the store's current one, never the token's.
- The secret comes from ``$CIRCMAN_AUTH_SECRET`` or from a file readable by its owner only
  (``$CIRCMAN_AUTH_SECRET_FILE``, default ``~/.config/circman/auth-secret``), generated on
  first use. The file is re-read when it changes, so :func:`rotate_secret` signs everyone
  out without a restart.
- Five failed sign-ins for one user name within a minute lock that name for the rest of the
  minute (:class:`TooManyAttempts`, HTTP 429), whatever the password.
"""

from __future__ import annotations

import os
import secrets
import stat
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from circman_kernel.core.errors import CircmanError, ConfigError, ParameterError
from circman_kernel.core.roles import ROLES

__all__ = [
    "AuthenticationError",
    "Authenticator",
    "Identity",
    "SigningSecret",
    "SignInLimiter",
    "TooManyAttempts",
    "hash_password",
    "parse_duration",
    "rotate_secret",
    "secret_file",
    "verify_password",
]

SECRET_ENV = "CIRCMAN_AUTH_SECRET"
SECRET_FILE_ENV = "CIRCMAN_AUTH_SECRET_FILE"
ALGORITHM = "HS256"
ISSUER = "circman"
DEFAULT_SESSION_S = 8 * 3600.0
MIN_PASSWORD = 8
MIN_SECRET_BYTES = 32


class AuthenticationError(CircmanError, PermissionError):
    """A sign-in or token was refused (HTTP 401); the message says why, never the secret."""

    status = 401


class TooManyAttempts(AuthenticationError):
    """Too many failed sign-ins for one user name (HTTP 429); retry after ``retry_after_s``."""

    status = 429

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


# -- passwords ------------------------------------------------------------------------------


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's recommended costs


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password`` (at least 8 characters)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ParameterError(
            f"a password needs at least {MIN_PASSWORD} characters", name="password"
        )
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Return whether ``password`` matches ``password_hash`` (``None``: no such user).

    An unknown user costs one hash as well, so timing does not tell which names exist.
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _hasher()
    if password_hash is None:
        hasher.hash(password or "-")
        return False
    try:
        return bool(hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


# -- the signing secret ---------------------------------------------------------------------


def secret_file() -> Path:
    """Return where the generated signing secret lives (``$CIRCMAN_AUTH_SECRET_FILE`` wins)."""
    env = os.environ.get(SECRET_FILE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "circman" / "auth-secret"


def _write_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_hex(MIN_SECRET_BYTES).encode("ascii"))
    finally:
        os.close(fd)
    os.replace(partial, path)  # readers see the old secret or the new one, never half


def rotate_secret(path: Path | None = None) -> Path:
    """Write a new random secret file (owner-only); every session and token is then void."""
    if os.environ.get(SECRET_ENV):
        raise ConfigError(
            f"the secret comes from ${SECRET_ENV}; set a new value there and restart the server"
        )
    target = path or secret_file()
    try:
        _write_secret(target)
    except OSError as exc:
        raise ConfigError(f"cannot write the signing secret {target}: {exc}") from exc
    return target


class SigningSecret:
    """The HS256 key: ``$CIRCMAN_AUTH_SECRET``, or the owner-only file (re-read on change).

    Parameters
    ----------
    path : Path, optional
        The secret file (default :func:`secret_file`).
    create : bool
        Generate the file when missing (the server and ``circman token`` do; tests of a
        missing secret do not).
    """

    def __init__(self, path: Path | None = None, *, create: bool = True) -> None:
        self._env = os.environ.get(SECRET_ENV) or None
        self.path = path or secret_file()
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._key = b""
        if self._env is not None:
            if len(self._env) < MIN_SECRET_BYTES:
                raise ConfigError(f"${SECRET_ENV} must hold at least {MIN_SECRET_BYTES} characters")
            self._key = self._env.encode("utf-8")
            return
        if create and not self.path.exists():
            try:
                _write_secret(self.path)
            except (OSError, FileExistsError) as exc:
                raise ConfigError(f"cannot create the signing secret {self.path}: {exc}") from exc
        self.key()

    @property
    def source(self) -> str:
        """Where the key comes from, safe to print (never the key)."""
        return f"${SECRET_ENV}" if self._env is not None else str(self.path)

    def key(self) -> bytes:
        """Return the current key (re-read when the file changed); raise if unusable."""
        if self._env is not None:
            return self._key
        try:
            st = self.path.stat()
        except OSError as exc:
            raise ConfigError(
                f"no signing secret at {self.path} ({exc.strerror}); set ${SECRET_ENV} or "
                "start the server once to generate it"
            ) from exc
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"the signing secret {self.path} is readable by others; chmod 600 it "
                "(then rotate it: anyone may have copied it)"
            )
        stamp = (st.st_mtime_ns, st.st_ino)
        with self._lock:
            if stamp != self._stamp:
                key = self.path.read_bytes().strip()
                if len(key) < MIN_SECRET_BYTES:
                    raise ConfigError(f"the signing secret {self.path} is too short; rotate it")
                self._key, self._stamp = key, stamp
            return self._key


# -- tokens ---------------------------------------------------------------------------------


def parse_duration(text: str | float) -> float:
    """Return a duration in seconds from ``"8h"``, ``"30m"``, ``"2d"``, ``"90s"`` or a number."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        raw = str(text).strip().lower()
        units = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
        scale = units.get(raw[-1:])
        number = raw[:-1] if scale is not None else raw
        try:
            seconds = float(number) * (scale or 1.0)
        except ValueError:
            raise ParameterError(
                f"duration {text!r} is not like 8h, 30m, 2d or 90s", name="expires", value=text
            ) from None
    if not 0 < seconds <= 366 * 86400:
        raise ParameterError(
            "a duration must be > 0 and at most 366 days", name="expires", value=text
        )
    return seconds


@dataclass(frozen=True)
class Identity:
    """A verified user: name and current role (from the store), and when the proof expires."""

    name: str
    role: str
    expires_at: datetime | None = None
    token: str = field(default="", repr=False)


class SignInLimiter:
    """Counts failed sign-ins per user name; locks a name after ``max_failures`` in ``window_s``."""

    def __init__(self, max_failures: int = 5, window_s: float = 60.0, max_names: int = 10_000):
        self.max_failures = int(max_failures)
        self.window_s = float(window_s)
        self.max_names = int(max_names)
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, name: str, now: float) -> deque[float]:
        times = self._failures.get(name)
        if times is None:
            return deque()
        while times and now - times[0] > self.window_s:
            times.popleft()
        if not times:
            del self._failures[name]
        return times

    def check(self, name: str) -> None:
        """Raise :class:`TooManyAttempts` while ``name`` is locked."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(name, now)
            if len(times) >= self.max_failures:
                wait = self.window_s - (now - times[0])
                raise TooManyAttempts(
                    f"too many failed sign-ins for {name!r}; try again in {wait:.0f} s",
                    retry_after_s=max(wait, 1.0),
                )

    def failed(self, name: str) -> None:
        """Count one failed sign-in for ``name``."""
        now = time.monotonic()
        with self._lock:
            if name not in self._failures and len(self._failures) >= self.max_names:
                for key in list(self._failures):  # forget expired names before refusing room
                    self._recent(key, now)
                if len(self._failures) >= self.max_names:
                    self._failures.pop(next(iter(self._failures)))
            self._failures.setdefault(name, deque()).append(now)

    def succeeded(self, name: str) -> None:
        """Forget ``name``'s failures after a correct password."""
        with self._lock:
            self._failures.pop(name, None)


class Authenticator:
    """Signs users in and verifies their tokens against the store's ``users`` table.

    Parameters
    ----------
    store : RunStore
        Where users live (``get_user``); both backends.
    secret : SigningSecret
    session_s : float
        Lifetime of a sign-in [s] (default 8 h).
    user_cache_s : float
        How long [s] a verified user's row is reused before the store is asked again, so
        a removed user or a changed role takes effect within this time (0: every request).
    limiter : SignInLimiter, optional
    """

    def __init__(
        self,
        store: Any,
        secret: SigningSecret,
        *,
        session_s: float = DEFAULT_SESSION_S,
        user_cache_s: float = 2.0,
        limiter: SignInLimiter | None = None,
    ) -> None:
        self.store = store
        self.secret = secret
        self.session_s = parse_duration(session_s)
        self.user_cache_s = float(user_cache_s)
        self.limiter = limiter or SignInLimiter()
        self._users: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def issue(self, name: str, *, expires_s: float | None = None) -> tuple[str, datetime]:
        """Return a signed token for the existing user ``name`` and when it expires (UTC)."""
        import jwt

        user = self._user(name, fresh=True)
        if user is None:
            raise ParameterError(f"no user {name!r}; add it with circman users add", name="user")
        now = time.time()
        exp = now + (self.session_s if expires_s is None else parse_duration(expires_s))
        claims = {
            "iss": ISSUER,
            "sub": name,
            "role": user["role"],
            "iat": int(now),
            "exp": int(exp),
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self.secret.key(), algorithm=ALGORITHM)
        return token, datetime.fromtimestamp(int(exp), UTC)

    def sign_in(self, name: str, password: str) -> tuple[Identity, str, datetime]:
        """Check a name and password; return the identity, a new token and its expiry.

        Raises
        ------
        TooManyAttempts
            The name had five failed sign-ins within the last minute.
        AuthenticationError
            Wrong name or password (one message for both).
        """
        if not isinstance(name, str) or not isinstance(password, str) or not name:
            raise AuthenticationError("user name and password are required")
        self.limiter.check(name)
        user = self._user(name, fresh=True)
        if not verify_password(user["password_hash"] if user else None, password):
            self.limiter.failed(name)
            raise AuthenticationError("wrong user name or password")
        self.limiter.succeeded(name)
        token, expires = self.issue(name)
        return Identity(name, user["role"], expires, token), token, expires

    def verify(self, token: str) -> Identity:
        """Return the identity a token proves; raise :class:`AuthenticationError` if none."""
        import jwt

        if not token:
            raise AuthenticationError("sign in first (no session or bearer token)")
        try:
            claims = jwt.decode(
                token,
                self.secret.key(),
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("the session has expired; sign in again") from None
        except jwt.PyJWTError:
            raise AuthenticationError("the session or token is not valid; sign in again") from None
        name = claims["sub"]
        user = self._user(name) if isinstance(name, str) else None
        if user is None:
            raise AuthenticationError("the user of this token no longer exists")
        created = user["created_at"].replace(tzinfo=UTC).timestamp()
        if claims["iat"] + 1 < created:  # issued to an earlier account of the same name
            raise AuthenticationError("the token predates this user account; sign in again")
        if user["role"] not in ROLES:
            raise AuthenticationError(f"user {name!r} has an unknown role; ask an admin")
        expires = datetime.fromtimestamp(claims["exp"], UTC)
        return Identity(name, user["role"], expires, token)

    def _user(self, name: str, *, fresh: bool = False) -> dict[str, Any] | None:
        now = time.monotonic()
        if not fresh and self.user_cache_s > 0:
            with self._lock:
                hit = self._users.get(name)
            if hit is not None and now - hit[0] < self.user_cache_s:
                return hit[1]
        user = self.store.get_user(name)
        with self._lock:
            if len(self._users) > 10_000:
                self._users.clear()
            self._users[name] = (now, user)
        return user
