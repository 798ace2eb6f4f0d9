"""PostgreSQL credentials: the two auth methods of Adobe's spec, parsed into one libpq target.

Mapping to libpq `sslmode` (documented in docs/types.md, PostgreSQL, Connections):
- Connection string: EncryptionMethod=0 -> disable; 6 (RequestSSL) -> prefer;
  1 (SSL) -> require, or verify-full when ValidateServerCertificate=1. Absent -> prefer.
- Basic auth sslMode: Disable/Allow/Prefer/Require/Verify Ca/Verify Full (any case, space, dash or
  underscore) -> the libpq mode of the same name; the AWS boolean form "true" -> require, "false" -> disable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, field_validator

from headwater.connectors.base import AuthMethod
from headwater.errors import BadRequest

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

    def __repr__(self) -> str:
        return (
            f"PgTarget(host={self.host!r}, port={self.port}, database={self.database!r}, "
            f"user={self.user!r}, sslmode={self.sslmode!r})"
        )


def _port(value: Any) -> int:
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


Port = Annotated[int, BeforeValidator(_port), Field(json_schema_extra={"type": ["string", "integer"]})]


class PgConnectionStringAuth(BaseModel):
    """Connection String Based Authentication."""

    model_config = ConfigDict(extra="forbid")

    connectionString: SecretStr = Field(
        description=(
            "Server={SERVER};Database={DATABASE};Port={PORT};UID={USERNAME};Password={PASSWORD}"
            "[;EncryptionMethod=0|1|6][;ValidateServerCertificate=0|1]"
        )
    )

    @field_validator("connectionString")
    @classmethod
    def _parses(cls, value: SecretStr) -> SecretStr:
        parse_connection_string(value.get_secret_value())
        return value

    def target(self) -> PgTarget:
        return parse_connection_string(self.connectionString.get_secret_value())


class PgBasicAuth(BaseModel):
    """Basic Authentication (server, port, database, username, password, sslMode)."""

    model_config = ConfigDict(extra="forbid")

    server: str = Field(min_length=1, description="Host name or IP address of the PostgreSQL server")
    port: Port = Field(description="TCP port, usually 5432")
    database: str = Field(min_length=1, description="Database name")
    username: str = Field(min_length=1, description="User name")
    password: SecretStr = Field(description="Password")
    sslMode: str | None = Field(
        default=None,
        description="Disable, Allow, Prefer, Require, Verify Ca, Verify Full, or true/false",
    )
    sslRootCert: str | None = Field(
        default=None, description="PEM text of the CA certificate to trust (Verify Ca / Verify Full)"
    )

    @field_validator("sslMode")
    @classmethod
    def _ssl(cls, value: str | None) -> str | None:
        if value is not None:
            normalize_ssl_mode(value)
        return value

    def target(self) -> PgTarget:
        return PgTarget(
            host=self.server,
            port=self.port,
            database=self.database,
            user=self.username,
            password=self.password,
            sslmode=normalize_ssl_mode(self.sslMode) if self.sslMode else "prefer",
            sslrootcert=self.sslRootCert,
        )


# Keys of the ODBC-style connection string, case-insensitive, with the aliases DataDirect accepts.
_KEYS = {
    "server": "host",
    "host": "host",
    "hostname": "host",
    "database": "database",
    "databasename": "database",
    "db": "database",
    "port": "port",
    "portnumber": "port",
    "uid": "user",
    "user": "user",
    "userid": "user",
    "user id": "user",
    "username": "user",
    "password": "password",
    "pwd": "password",
    "encryptionmethod": "encryption",
    "validateservercertificate": "validate",
    "validationservercertificate": "validate",  # a typo in Adobe's own table, accepted
    "truststore": "truststore",
}


def _split_pairs(text: str) -> list[tuple[str, str]]:
    """Split `k=v;k={v;with;semicolons}` ODBC-style; `}}` escapes a brace inside braces."""
    pairs: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in "; \t":
            i += 1
        if i >= n:
            break
        eq = text.find("=", i)
        if eq < 0:
            raise BadRequest(f"Connection string is malformed near position {i}: expected key=value.", code="1304")
        key = text[i:eq].strip()
        i = eq + 1
        if i < n and text[i] == "{":
            i += 1
            value_chars: list[str] = []
            while True:
                if i >= n:
                    raise BadRequest(f"Connection string: unterminated '{{' in the value of {key}.", code="1304")
                if text[i] == "}":
                    if i + 1 < n and text[i + 1] == "}":
                        value_chars.append("}")
                        i += 2
                        continue
                    i += 1
                    break
                value_chars.append(text[i])
                i += 1
            value = "".join(value_chars)
        else:
            end = text.find(";", i)
            end = n if end < 0 else end
            value = text[i:end].strip()
            i = end
        pairs.append((key, value))
    return pairs


def parse_connection_string(text: str) -> PgTarget:
    """Parse `Server=…;Database=…;Port=…;UID=…;Password=…[;EncryptionMethod=…]` into a PgTarget.

    Errors name the offending key, never a value: the string holds a password.
    """
    found: dict[str, str] = {}
    for key, value in _split_pairs(text):
        canonical = _KEYS.get(key.strip().lower())
        if canonical is None:
            raise BadRequest(
                f"Connection string has an unknown key {key.strip()[:64]!r}. Allowed keys: Server, Database, "
                "Port, UID, Password, EncryptionMethod, ValidateServerCertificate, TrustStore.",
                code="1304",
            )
        if canonical in found:
            raise BadRequest(f"Connection string repeats the key {key.strip()!r}.", code="1304")
        found[canonical] = value
    for required, label in (("host", "Server"), ("database", "Database"), ("user", "UID"), ("password", "Password")):
        if not found.get(required) and required != "password":
            raise BadRequest(f"Connection string is missing {label}.", code="1304")
        if required == "password" and required not in found:
            raise BadRequest("Connection string is missing Password.", code="1304")
    try:
        port = _port(found.get("port", "5432"))
    except ValueError:
        raise BadRequest("Connection string Port must be a number between 1 and 65535.", code="1304") from None
    encryption = found.get("encryption", "").strip()
    validate = found.get("validate", "").strip()
    if encryption not in ("", "0", "1", "6"):
        raise BadRequest("Connection string EncryptionMethod must be 0, 1 or 6.", code="1304")
    if validate not in ("", "0", "1"):
        raise BadRequest("Connection string ValidateServerCertificate must be 0 or 1.", code="1304")
    if encryption == "0":
        sslmode = "disable"
    elif encryption == "6":
        sslmode = "prefer"
    elif encryption == "1":
        sslmode = "verify-full" if validate == "1" else "require"
    else:
        sslmode = "verify-full" if validate == "1" else "prefer"
    return PgTarget(
        host=found["host"],
        port=port,
        database=found["database"],
        user=found["user"],
        password=SecretStr(found["password"]),
        sslmode=sslmode,
        sslrootcert=_read_truststore(found.get("truststore")),
    )


def _read_truststore(path: str | None) -> str | None:
    if not path:
        return None
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except OSError:
        raise BadRequest("Connection string TrustStore file cannot be read by the server.", code="1304") from None


CONNECTION_STRING_AUTH = AuthMethod(
    name="Connection String Based Authentication",
    type="connectionStringAuth",
    model=PgConnectionStringAuth,
    description="defines auth params required for connecting to PostgreSQL",
    aliases=("Basic Authentication for PostgreSQL",),
)
BASIC_AUTH = AuthMethod(
    name="Basic Authentication",
    type="BasicAuthentication",
    model=PgBasicAuth,
    description="defines auth params required for connecting to PostgreSQL with a user name and password",
)


def target_of(auth: BaseModel) -> PgTarget:
    """The libpq target of either auth model."""
    if isinstance(auth, PgConnectionStringAuth | PgBasicAuth):
        return auth.target()
    raise TypeError(f"not a PostgreSQL auth model: {type(auth).__name__}")
