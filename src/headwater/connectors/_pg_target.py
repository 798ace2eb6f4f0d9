"""The libpq target both PostgreSQL auth forms resolve to, and the value rules they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass(frozen=True)
class PgTarget:
    """Where and how to connect: everything libpq needs, the password kept as a SecretStr."""

    host: str
    port: int
    database: str
    user: str
    password: SecretStr
    sslmode: str = "prefer"
    sslrootcert: str | None = None  # PEM text of the CA to trust, for verify-ca/verify-full
    # The checked addresses of `host` to connect to (libpq hostaddr); empty: libpq resolves `host`.
    hostaddr: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"PgTarget(host={self.host!r}, port={self.port}, database={self.database!r}, "
            f"user={self.user!r}, sslmode={self.sslmode!r})"
        )


def parse_port(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("port must be a number between 1 and 65535")
    try:
        port = int(str(value).strip())
    except ValueError:
        raise ValueError("port must be a number between 1 and 65535") from None
    if not 1 <= port <= 65535:
        raise ValueError("port must be a number between 1 and 65535")
    return port


def normalize_ssl_mode(value: str) -> str:
    """Accept Adobe's spellings (`Verify Ca`, `Verify-Full`, `true`) and return a libpq sslmode."""
    raw = value.strip().lower().replace(" ", "-").replace("_", "-")
    if raw in ("true", "false"):
        return "require" if raw == "true" else "disable"
    if raw in SSL_MODES:
        return raw
    raise ValueError("sslMode must be one of Disable, Allow, Prefer, Require, Verify Ca, Verify Full, true or false")


# libpq strings end at a NUL: a name with one would silently mean another name.
NO_NUL = "must not contain a NUL character"
EMPTY_PASSWORD = (
    "is empty: give the source user's password (Headwater never falls back to the server's own PostgreSQL credentials)"
)
