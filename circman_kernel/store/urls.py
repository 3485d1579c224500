"""Where a run store lives: a DuckDB file or a PostgreSQL server, chosen by one string.

- a path, ``duckdb:///abs/path.duckdb``, ``duckdb://rel/path.duckdb`` or ``:memory:`` is the
  embedded DuckDB store;
- ``postgresql://user[:password]@host[:port]/dbname[?param=value...]`` (also
  ``postgres://``) or a libpq keyword string (``host=db.lab dbname=circman user=ana``) is the
  team store on PostgreSQL.

Passwords never leave this module in text meant for people: :func:`redact` replaces them
(in URLs and keyword strings) with ``***``, and every store message uses
:attr:`Location.display`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from circman_kernel.core.errors import ParameterError
from circman_kernel.core.paths import DB_ENV, default_db_path

__all__ = ["Location", "parse_location", "redact"]

#: seconds libpq waits for a server before giving up (overridable in the URL)
DEFAULT_CONNECT_TIMEOUT_S = 5

# libpq connection keywords (https://www.postgresql.org/docs/15/libpq-connect.html)
_LIBPQ_KEYWORDS = frozenset(
    [
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "channel_binding",
        "connect_timeout",
        "client_encoding",
        "options",
        "application_name",
        "fallback_application_name",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "replication",
        "gssencmode",
        "sslmode",
        "requiressl",
        "sslcompression",
        "sslcert",
        "sslkey",
        "sslpassword",
        "sslrootcert",
        "sslcrl",
        "sslcrldir",
        "sslsni",
        "requirepeer",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "krbsrvname",
        "gsslib",
        "service",
        "target_session_attrs",
    ]
)
_KEYWORD_PAIR = re.compile(r"\s*(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)")
_URL_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)([^@\s]*)(@)", re.IGNORECASE)
_KW_PASSWORD = re.compile(
    r"((?:^|[\s?&])(?:password|sslpassword)\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)", re.IGNORECASE
)


@dataclass(frozen=True)
class Location:
    """A parsed store location.

    ``backend`` is ``"duckdb"`` or ``"postgresql"``; ``target`` is the file path (or
    ``":memory:"``) or the libpq connection string; ``display`` is safe to print.
    """

    backend: str
    target: str = field(repr=False)  # may hold the password: never printed
    display: str = ""
    host: str = ""
    port: str = ""
    dbname: str = ""
    user: str = ""

    @property
    def server(self) -> str:
        """``host:port`` (a Unix socket as ``socket DIR/.s.PGSQL.PORT``), safe to print."""
        if self.host.startswith("/"):
            return f"socket {self.host}/.s.PGSQL.{self.port} (host {self.host}, port {self.port})"
        return f"{self.host}:{self.port}"

    def scrub(self, text: str) -> str:
        """Return ``text`` with this location's password (and any URL password) hidden."""
        text = redact(text)
        secret = _password(self.target) if self.backend == "postgresql" else ""
        return text.replace(secret, "***") if secret and len(secret) >= 3 else text


def redact(text: str) -> str:
    """Return ``text`` with any password in a PostgreSQL URL or keyword string as ``***``."""
    text = _URL_PASSWORD.sub(r"\1***\3", str(text))
    return _KW_PASSWORD.sub(r"\1***", text)


def _password(target: str) -> str:
    if "://" in target:
        parts = urlsplit(target)
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        return unquote(parts.password or "") or unquote(query.get("password", ""))
    return _keywords(target).get("password", "")


def _is_keyword_string(text: str) -> bool:
    if "=" not in text or "://" in text:
        return False
    pos, found = 0, 0
    while pos < len(text):
        m = _KEYWORD_PAIR.match(text, pos)
        if not m or m.end() == pos:
            return text[pos:].strip() == "" and found > 0
        if m.group(1).lower() not in _LIBPQ_KEYWORDS:
            return False
        found += 1
        pos = m.end()
    return found > 0


def _keywords(text: str) -> dict[str, str]:
    out = {}
    for m in _KEYWORD_PAIR.finditer(text):
        value = m.group(2)
        if value.startswith("'") and value.endswith("'") and len(value) >= 2:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out[m.group(1).lower()] = value
    return out


def _postgres(target: str) -> Location:
    if "://" in target:
        parts = urlsplit(target)
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        host = unquote(parts.hostname or "") or unquote(query.get("host", ""))
        try:
            port = str(parts.port or query.get("port", "") or "")
        except ValueError as exc:
            raise ParameterError(
                f"{redact(target)}: the port is not a number", name="url", value=redact(target)
            ) from exc
        dbname = unquote(parts.path.lstrip("/")) or unquote(query.get("dbname", ""))
        user = unquote(parts.username or "") or unquote(query.get("user", ""))
        has_timeout = "connect_timeout" in query
        conninfo = target
        if not has_timeout:
            conninfo += (
                "&" if parts.query else "?"
            ) + f"connect_timeout={DEFAULT_CONNECT_TIMEOUT_S}"
    else:
        kw = _keywords(target)
        host, port = kw.get("host", ""), kw.get("port", "")
        dbname, user = kw.get("dbname", ""), kw.get("user", "")
        conninfo = target
        if "connect_timeout" not in kw:
            conninfo += f" connect_timeout={DEFAULT_CONNECT_TIMEOUT_S}"
    host = host or os.environ.get("PGHOST", "") or "localhost"
    port = port or os.environ.get("PGPORT", "") or "5432"
    return Location(
        "postgresql", conninfo, redact(target), host=host, port=port, dbname=dbname, user=user
    )


def parse_location(url: str | os.PathLike[str] | None = None) -> Location:
    """Return where ``url`` points (``None``: ``$CIRCMAN_DB`` or ``data/circman.duckdb``).

    Raises
    ------
    ParameterError
        An empty string, an unknown URL scheme or a malformed PostgreSQL URL.
    """
    if url is None:
        env = os.environ.get(DB_ENV, "").strip()
        url = env if env and _looks_remote(env) else default_db_path()
    text = os.fspath(url) if isinstance(url, os.PathLike) else url
    if not isinstance(text, str):
        raise ParameterError(
            f"store location must be a path or URL string, got {type(url).__name__}",
            name="url",
            value=url,
        )
    text = text.strip()
    if not text:
        raise ParameterError("store location is empty; give a path or a URL", name="url")
    if _looks_remote(text):
        return _postgres(text)
    lower = text.lower()
    if lower.startswith("duckdb://"):
        text = text[len("duckdb://") :]
        if not text:
            raise ParameterError("duckdb:// needs a path, e.g. duckdb:///data/runs.duckdb")
    elif re.match(r"^[a-z][a-z0-9+.-]*://", lower):
        scheme = lower.split("://", 1)[0]
        raise ParameterError(
            f"unknown store URL scheme {scheme!r}; use a path, duckdb:///path or "
            "postgresql://user@host:port/db",
            name="url",
            value=redact(text),
        )
    if text == ":memory:":
        return Location("duckdb", text, text)
    path = str(Path(text).expanduser().absolute())
    return Location("duckdb", path, path)


def _looks_remote(text: str) -> bool:
    lower = text.lower()
    return lower.startswith(("postgresql://", "postgres://")) or _is_keyword_string(text)
