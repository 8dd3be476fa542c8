"""Database URLs: parsed strictly, and described without their secrets.

A password with an unescaped `@` or `/` makes a URL mean something else entirely (libpq would read part of
the password as the host name and then print it in its errors), so such URLs are refused, not guessed at.
Nothing here ever puts a password, or any part of one, into a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote

SQLITE_SCHEMES = frozenset({"sqlite"})
POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})
# Query parameters of a libpq URL whose values are secrets (or name where the secrets are).
SECRET_PARAMETERS = frozenset({"password", "sslpassword", "passfile", "sslkey", "sslcert"})
REDACTED = "***"
USAGE = "use sqlite:///absolute/path.db or postgresql://user:password@host:port/dbname"


class DatabaseUrlError(ValueError):
    """The URL cannot be used; the message never contains the URL's secrets."""


@dataclass(frozen=True)
class DatabaseUrl:
    scheme: str
    url: str  # as given: only ever handed to the driver
    redacted: str
    password: str | None = None
    sqlite_file: Path | None = None

    @classmethod
    def parse(cls, url: str) -> DatabaseUrl:
        scheme, separator, rest = url.strip().partition("://")
        scheme = scheme.lower()
        if not separator or scheme not in SQLITE_SCHEMES | POSTGRES_SCHEMES:
            shown = scheme if separator and scheme.isalnum() else "none"
            raise DatabaseUrlError(f"unsupported database URL scheme {shown!r}: {USAGE}")
        if scheme in SQLITE_SCHEMES:
            path = sqlite_path(url.strip())
            return cls(scheme, url.strip(), f"sqlite://{path}", sqlite_file=path)
        return cls._parse_postgres(scheme, url.strip(), rest)

    @classmethod
    def _parse_postgres(cls, scheme: str, url: str, rest: str) -> DatabaseUrl:
        location, _, query = rest.partition("?")
        userinfo, at, hostpart = location.rpartition("@")
        if not at:
            userinfo, hostpart = "", location
        user, _, password = userinfo.partition(":")
        redacted_query = redact_query(query)
        shown_user = unquote(user) if user and not set(user) & set("/@?#") else ""
        credentials = f"{shown_user}:{REDACTED}@" if password else (f"{shown_user}@" if shown_user else "")
        host, slash, dbname = hostpart.partition("/")
        redacted = f"{scheme}://{credentials}{host}{slash}{dbname}" + (f"?{redacted_query}" if query else "")
        if set(userinfo) & set("/@?#"):
            # The last '@' was taken as the end of the credentials; anything like this before it means the
            # password (or user) was not percent-encoded, and the URL is ambiguous.
            raise DatabaseUrlError(
                "the database URL's user or password has an unescaped '@', '/', '?' or '#': percent-encode "
                f"them (for example %40 for @, %2F for /). URL: {scheme}://{shown_user or '?'}:{REDACTED}@{host}/…"
            )
        if not host and "host=" not in query:
            raise DatabaseUrlError(f"the PostgreSQL URL names no host: {redacted}")
        return cls(scheme, url, redacted, password=unquote(password) if password else None)

    def scrub(self, text: str) -> str:
        """`text` with this URL and its password (raw and decoded) replaced: for driver error messages."""
        text = text.replace(self.url, self.redacted)
        for secret in {self.password, self._raw_password()} - {None, ""}:
            text = text.replace(secret, REDACTED)  # type: ignore[arg-type]  # None filtered out above
        return text

    def _raw_password(self) -> str | None:
        if self.password is None:
            return None
        location = self.url.partition("://")[2].partition("?")[0]
        return location.rpartition("@")[0].partition(":")[2] or None


def redact_query(query: str) -> str:
    if not query:
        return ""
    parts = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        parts.append(f"{key}={REDACTED if key.lower() in SECRET_PARAMETERS else value}")
    return "&".join(parts)


def sqlite_path(database_url: str) -> Path:
    """`sqlite:///abs/path.db` and `sqlite:////abs/path.db` both mean /abs/path.db."""
    path = database_url.partition("://")[2]
    if not path.startswith("/") or path.strip("/") in ("", ":memory:"):
        raise DatabaseUrlError("a SQLite database URL needs an absolute file path: sqlite:///absolute/path.db")
    return Path("/" + path.lstrip("/"))
