"""PostgreSQL credentials: the two auth methods of Adobe's spec, parsed into one libpq target.

Mapping to libpq `sslmode` (documented in docs/types.md, PostgreSQL, Connections): the connection
string's EncryptionMethod and ValidateServerCertificate as in `_pg_connstr`; basic auth sslMode
Disable/Allow/Prefer/Require/Verify Ca/Verify Full (any case, space, dash or underscore) -> the libpq
mode of the same name, the AWS boolean form "true" -> require, "false" -> disable.

Both forms are checked when parsed, with the policy of the connector that parses them (passed as the
pydantic validation context): a strict host, a non-empty password, a CA that is PEM X.509 text, and
an address the operator allows. The CA (`sslRootCert`) is a secret field like the password, so it is
stored encrypted and masked in responses.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from headwater.connectors._pg_ca import validated_ca
from headwater.connectors._pg_connstr import parse_connection_string
from headwater.connectors._pg_target import EMPTY_PASSWORD, NO_NUL, SSL_MODES, PgTarget, normalize_ssl_mode, parse_port
from headwater.connectors._source_policy import policy_in, valid_host
from headwater.connectors.base import AuthMethod

__all__ = [
    "BASIC_AUTH",
    "CONNECTION_STRING_AUTH",
    "SSL_MODES",
    "PgBasicAuth",
    "PgConnectionStringAuth",
    "PgTarget",
    "normalize_ssl_mode",
    "parse_connection_string",
    "target_of",
]

Port = Annotated[int, BeforeValidator(parse_port), Field(json_schema_extra={"type": ["string", "integer"]})]

SSL_ROOT_CERT_DESCRIPTION = (
    "PEM text of the CA certificate to trust (Verify Ca / Verify Full), at most 1 MiB; stored encrypted"
)


def _ca_field(value: SecretStr | None, label: str) -> SecretStr | None:
    if value is None or not value.get_secret_value().strip():
        return None
    validated_ca(value.get_secret_value(), label)
    return value


class PgConnectionStringAuth(BaseModel):
    """Connection String Based Authentication."""

    model_config = ConfigDict(extra="forbid")

    connectionString: SecretStr = Field(
        description=(
            "Server={SERVER};Database={DATABASE};Port={PORT};UID={USERNAME};Password={PASSWORD}"
            "[;EncryptionMethod=0|1|6][;ValidateServerCertificate=0|1][;TrustStore={PEM of the CA}]"
        )
    )
    sslRootCert: SecretStr | None = Field(default=None, description=SSL_ROOT_CERT_DESCRIPTION)
    _target: PgTarget | None = PrivateAttr(default=None)

    @field_validator("sslRootCert")
    @classmethod
    def _ca(cls, value: SecretStr | None) -> SecretStr | None:
        return _ca_field(value, "sslRootCert")

    @model_validator(mode="after")
    def _parses(self, info: ValidationInfo) -> PgConnectionStringAuth:
        # Parsed once, with the connector's policy (a TrustStore file is read now), then kept.
        policy = policy_in(info.context)
        root_cert = self.sslRootCert.get_secret_value() if self.sslRootCert else None
        target = parse_connection_string(self.connectionString.get_secret_value(), policy, root_cert=root_cert)
        policy.check(target.host, target.port)
        self._target = target
        return self

    def target(self) -> PgTarget:
        if self._target is None:  # built without validation (model_construct)
            root_cert = self.sslRootCert.get_secret_value() if self.sslRootCert else None
            return parse_connection_string(self.connectionString.get_secret_value(), root_cert=root_cert)
        return self._target


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
    sslRootCert: SecretStr | None = Field(default=None, description=SSL_ROOT_CERT_DESCRIPTION)

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        return valid_host(value)

    @field_validator("database", "username")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError(NO_NUL)
        return value

    @field_validator("password")
    @classmethod
    def _password(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError(f"the password {EMPTY_PASSWORD}")
        if "\x00" in value.get_secret_value():
            raise ValueError(NO_NUL)
        return value

    @field_validator("sslMode")
    @classmethod
    def _ssl(cls, value: str | None) -> str | None:
        if value is not None:
            normalize_ssl_mode(value)
        return value

    @field_validator("sslRootCert")
    @classmethod
    def _ca(cls, value: SecretStr | None) -> SecretStr | None:
        return _ca_field(value, "sslRootCert")

    @model_validator(mode="after")
    def _allowed(self, info: ValidationInfo) -> PgBasicAuth:
        policy_in(info.context).check(self.server, self.port)
        return self

    def target(self) -> PgTarget:
        return PgTarget(
            host=self.server,
            port=self.port,
            database=self.database,
            user=self.username,
            password=self.password,
            sslmode=normalize_ssl_mode(self.sslMode) if self.sslMode else "prefer",
            sslrootcert=validated_ca(self.sslRootCert.get_secret_value(), "sslRootCert") if self.sslRootCert else None,
        )


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
