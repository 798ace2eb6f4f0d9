"""check(): a real connection, with an actionable error for each way it can fail (SSL + scram cluster)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from pydantic import SecretStr

from headwater.connectors._pg_auth import PgConnectionStringAuth
from headwater.connectors.postgres import PostgresConnector
from headwater.errors import ConfigError, HeadwaterError, TransientError


def _fails(connector: PostgresConnector, auth: Any, kind: type[HeadwaterError], password: str) -> str:
    with pytest.raises(kind) as info:
        connector.check(auth)
    text = f"{info.value} {info.value!r} {info.value.report}"
    assert password not in text
    assert "Pa55" not in text
    return info.value.message


@pytest.mark.parametrize("mode", ["Disable", "Allow", "Prefer", "Require", "true", "false"])
def test_every_non_verifying_ssl_mode_connects(ssl_cluster: Any, connector: PostgresConnector, mode: str) -> None:
    connector.check(ssl_cluster.auth(sslMode=mode))


@pytest.mark.parametrize("mode", ["Verify Ca", "verify-full"])
def test_verifying_modes_connect_with_the_right_ca(ssl_cluster: Any, connector: PostgresConnector, mode: str) -> None:
    connector.check(ssl_cluster.auth(server="localhost", sslMode=mode, sslRootCert=ssl_cluster.ca_pem))


def test_ssl_is_really_used_when_required(ssl_cluster: Any, connector: PostgresConnector, password: str) -> None:
    # `sslonly` may only connect over SSL: Require succeeds, Disable is told SSL is required.
    connector.check(ssl_cluster.auth(username="sslonly", sslMode="Require"))
    msg = _fails(connector, ssl_cluster.auth(username="sslonly", sslMode="Disable"), ConfigError, password)
    assert "requires SSL" in msg and "sslMode" in msg


def test_ssl_refused_by_pg_hba(ssl_cluster: Any, connector: PostgresConnector, password: str) -> None:
    connector.check(ssl_cluster.auth(username="plainonly", sslMode="Prefer"))  # falls back to plain
    msg = _fails(connector, ssl_cluster.auth(username="plainonly", sslMode="Require"), ConfigError, password)
    assert "without SSL" in msg and "Disable" in msg


def test_ssl_refused_by_a_server_without_ssl(connector: PostgresConnector, make_local_auth: Any, password: str) -> None:
    # The local server runs with ssl = off.
    auth = make_local_auth(sslMode="Require", password=SecretStr(password))
    msg = _fails(connector, auth, ConfigError, password)
    assert "does not accept SSL" in msg


def test_wrong_password(ssl_cluster: Any, connector: PostgresConnector, password: str) -> None:
    wrong = password + "x"
    msg = _fails(connector, ssl_cluster.auth(password=SecretStr(wrong)), ConfigError, password)
    assert "password" in msg.lower() and "'reader'" in msg
    assert wrong not in msg


def test_database_missing(ssl_cluster: Any, connector: PostgresConnector, password: str) -> None:
    msg = _fails(connector, ssl_cluster.auth(database="nosuchdb"), ConfigError, password)
    assert "'nosuchdb' does not exist" in msg


def test_certificate_of_an_unknown_ca_is_not_trusted(
    ssl_cluster: Any, connector: PostgresConnector, password: str
) -> None:
    auth = ssl_cluster.auth(server="localhost", sslMode="Verify Ca", sslRootCert=ssl_cluster.other_ca_pem)
    msg = _fails(connector, auth, ConfigError, password)
    assert "not trusted" in msg


def test_verify_without_a_ca_is_not_trusted(ssl_cluster: Any, connector: PostgresConnector, password: str) -> None:
    msg = _fails(connector, ssl_cluster.auth(sslMode="Verify Full"), ConfigError, password)
    assert "not trusted" in msg or "CA certificate" in msg


def test_verify_full_checks_the_host_name(ssl_cluster: Any, connector: PostgresConnector, password: str) -> None:
    # The certificate names `localhost` only; 127.0.0.1 passes Verify Ca but not Verify Full.
    connector.check(ssl_cluster.auth(sslMode="Verify Ca", sslRootCert=ssl_cluster.ca_pem))
    auth = ssl_cluster.auth(sslMode="Verify Full", sslRootCert=ssl_cluster.ca_pem)
    msg = _fails(connector, auth, ConfigError, password)
    assert "not issued for host '127.0.0.1'" in msg


def test_host_unreachable_is_transient(connector: PostgresConnector, make_local_auth: Any, password: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        msg = _fails(connector, make_local_auth(port=port, password=SecretStr(password)), TransientError, password)
    assert "unreachable" in msg and str(port) in msg


def test_unknown_host_name(connector: PostgresConnector, make_local_auth: Any, password: str) -> None:
    msg = _fails(
        connector, make_local_auth(server="no-such-host.invalid", password=SecretStr(password)), ConfigError, password
    )
    assert "cannot be resolved" in msg


def test_connection_string_auth_maps_encryption(ssl_cluster: Any, connector: PostgresConnector, password: str) -> None:
    def conn_string(**extra: str) -> PgConnectionStringAuth:
        pairs = {
            "Server": "127.0.0.1",
            "Port": str(ssl_cluster.port),
            "Database": "appdb",
            "UID": "sslonly",
            "Password": "{" + password + "}",
            **extra,
        }
        text = ";".join(f"{k}={v}" for k, v in pairs.items())
        return PgConnectionStringAuth(connectionString=SecretStr(text))

    connector.check(conn_string(EncryptionMethod="1"))
    connector.check(conn_string(EncryptionMethod="6"))
    msg = _fails(connector, conn_string(EncryptionMethod="0"), ConfigError, password)
    assert "requires SSL" in msg
    # ValidateServerCertificate=1 means verify-full; no trust store here, so the certificate is untrusted.
    _fails(connector, conn_string(EncryptionMethod="1", ValidateServerCertificate="1"), ConfigError, password)


def test_reads_work_over_verified_ssl(ssl_cluster: Any, connector: PostgresConnector) -> None:
    from headwater.domain import ReadRequest

    auth = ssl_cluster.auth(
        server="localhost", username="sslonly", sslMode="Verify Full", sslRootCert=ssl_cluster.ca_pem
    )
    assert [o.path for o in connector.list_objects(auth)] == ["public.items"]
    rows = sum(b.num_rows for b in connector.read(auth, ReadRequest(table="public.items")))
    assert rows == 10


def test_read_with_a_wrong_password_names_no_secret(
    ssl_cluster: Any, connector: PostgresConnector, password: str
) -> None:
    from headwater.domain import ReadRequest

    with pytest.raises(ConfigError) as info:
        list(connector.read(ssl_cluster.auth(password=SecretStr(password + "!")), ReadRequest(table="public.items")))
    assert password not in repr(info.value) and "Pa55" not in str(info.value)
