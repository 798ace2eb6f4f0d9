"""Each sslMode / EncryptionMethod form maps to the libpq behaviour it names, on both drivers.

The private cluster has ssl = on and lets `reader` in with or without SSL, so whether a session is
encrypted is decided by the client's mode alone: `pg_stat_ssl` of the session says which it got.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from headwater.connectors._pg_auth import PgConnectionStringAuth, PgTarget, target_of
from headwater.connectors._pg_conn import adbc_connection, catalog_connection
from headwater.connectors.postgres import PostgresConnector
from headwater.errors import ConfigError
from headwater.settings import Settings

SSL_OF_SESSION = "SELECT ssl FROM pg_catalog.pg_stat_ssl WHERE pid = pg_backend_pid()"


def session_ssl(target: PgTarget) -> tuple[bool, bool]:
    """(psycopg session encrypted?, ADBC session encrypted?) for one target."""
    with catalog_connection(target) as conn:
        row = conn.execute(SSL_OF_SESSION).fetchone()
        assert row is not None
        catalog = bool(row[0])
    with adbc_connection(target) as conn:
        cursor = conn.cursor()
        try:
            cursor.execute(SSL_OF_SESSION)
            fetched = cursor.fetchone()
        finally:
            cursor.close()
    assert fetched is not None
    return catalog, bool(fetched[0])


# Allow tries a plain connection first and the server accepts it; Prefer tries SSL first.
MODES = [
    ("Disable", False),
    ("Allow", False),
    ("Prefer", True),
    ("Require", True),
    ("true", True),
    ("false", False),
    ("disable", False),
    ("REQUIRE", True),
]


@pytest.mark.parametrize(("mode", "encrypted"), MODES)
def test_ssl_mode_decides_encryption(ssl_cluster: Any, mode: str, encrypted: bool) -> None:
    assert session_ssl(target_of(ssl_cluster.auth(sslMode=mode))) == (encrypted, encrypted)


@pytest.mark.parametrize("mode", ["Verify Ca", "Verify Full", "verify_full", "Verify-Ca"])
def test_verifying_modes_encrypt_on_both_drivers(ssl_cluster: Any, mode: str) -> None:
    auth = ssl_cluster.auth(server="localhost", sslMode=mode, sslRootCert=ssl_cluster.ca_pem)
    assert session_ssl(target_of(auth)) == (True, True)


def test_no_ssl_mode_means_prefer(ssl_cluster: Any) -> None:
    auth = ssl_cluster.auth(sslMode=None)
    assert target_of(auth).sslmode == "prefer"
    assert session_ssl(target_of(auth)) == (True, True)


@pytest.mark.parametrize("mode", ["Verify Ca", "Verify Full"])
def test_verifying_modes_refuse_another_ca_on_both_drivers(
    ssl_cluster: Any, connector: PostgresConnector, password: str, mode: str
) -> None:
    target = target_of(ssl_cluster.auth(server="localhost", sslMode=mode, sslRootCert=ssl_cluster.other_ca_pem))
    for opener in (catalog_connection, adbc_connection):
        with pytest.raises(ConfigError) as info, opener(target):
            pass
        text = f"{info.value} {info.value!r}"
        assert "not trusted" in text and "sslRootCert" in text
        assert password not in text and "Pa55" not in text


def _text(cluster: Any, password: str, **extra: str) -> str:
    pairs = {
        "Server": "127.0.0.1",
        "Port": str(cluster.port),
        "Database": "appdb",
        "UID": "reader",
        "Password": "{" + password + "}",
        **extra,
    }
    return ";".join(f"{k}={v}" for k, v in pairs.items())


def _conn_string(cluster: Any, password: str, **extra: str) -> PgConnectionStringAuth:
    return PgConnectionStringAuth(connectionString=SecretStr(_text(cluster, password, **extra)))


@pytest.mark.parametrize(
    ("extra", "encrypted"),
    [
        ({}, True),  # absent: prefer
        ({"EncryptionMethod": "0"}, False),
        ({"EncryptionMethod": "6"}, True),
        ({"EncryptionMethod": "1"}, True),
        ({"EncryptionMethod": "1", "ValidateServerCertificate": "0"}, True),
        ({"EncryptionMethod": "0", "ValidateServerCertificate": "0"}, False),
    ],
)
def test_connection_string_encryption_method(
    ssl_cluster: Any, password: str, extra: dict[str, str], encrypted: bool
) -> None:
    auth = _conn_string(ssl_cluster, password, **extra)
    assert session_ssl(target_of(auth)) == (encrypted, encrypted)


def _trust_store_checks(
    ssl_cluster: Any, connector: PostgresConnector, password: str, good: Any, wrong_ca: Any
) -> None:
    """`good(**pairs)` / `wrong_ca(**pairs)`: connection strings with the cluster's CA / another CA."""
    strict = {"EncryptionMethod": "1", "ValidateServerCertificate": "1"}
    valid = good(Server="localhost", **strict)
    assert target_of(valid).sslmode == "verify-full"
    assert session_ssl(target_of(valid)) == (True, True)
    connector.check(valid)
    # Validation checks the host name too: the certificate names localhost, not 127.0.0.1.
    with pytest.raises(ConfigError, match=r"not issued for host '127\.0\.0\.1'") as info:
        connector.check(good(**strict))
    assert password not in repr(info.value)
    with pytest.raises(ConfigError, match="not trusted"):
        connector.check(wrong_ca(Server="localhost", **strict))


def test_connection_string_validation_with_a_trust_store_as_pem_text(
    ssl_cluster: Any, connector: PostgresConnector, password: str
) -> None:
    def with_ca(ca: str) -> Any:
        return lambda **pairs: _conn_string(ssl_cluster, password, TrustStore="{" + ca + "}", **pairs)

    _trust_store_checks(
        ssl_cluster, connector, password, with_ca(ssl_cluster.ca_pem), with_ca(ssl_cluster.other_ca_pem)
    )


def test_connection_string_validation_with_ssl_root_cert(
    ssl_cluster: Any, connector: PostgresConnector, password: str
) -> None:
    def with_ca(ca: str) -> Any:
        def make(**pairs: str) -> PgConnectionStringAuth:
            text = _text(ssl_cluster, password, **pairs)
            return PgConnectionStringAuth(connectionString=SecretStr(text), sslRootCert=SecretStr(ca))

        return make

    _trust_store_checks(
        ssl_cluster, connector, password, with_ca(ssl_cluster.ca_pem), with_ca(ssl_cluster.other_ca_pem)
    )


def test_connection_string_validation_with_a_file_of_the_configured_trust_store(
    ssl_cluster: Any, password: str, tmp_path: Path
) -> None:
    store = tmp_path / "cas"
    store.mkdir()
    (store / "ca.pem").write_text(ssl_cluster.ca_pem, encoding="ascii")
    (store / "other.pem").write_text(ssl_cluster.other_ca_pem, encoding="ascii")
    connector = PostgresConnector(Settings(data_dir=tmp_path / "data", truststore_dir=store))
    method = connector.spec.auth_method("Connection String Based Authentication")

    def with_file(name: str) -> Any:
        def make(**pairs: str) -> Any:
            return method.parse({"connectionString": _text(ssl_cluster, password, TrustStore=name, **pairs)})

        return make

    # A name relative to the directory, or the file's absolute path inside it.
    _trust_store_checks(ssl_cluster, connector, password, with_file("ca.pem"), with_file(str(store / "other.pem")))


def test_errors_of_the_read_driver_are_explained_too(ssl_cluster: Any, password: str) -> None:
    # The ADBC path (reads) maps failures exactly like the catalog path (check, explore).
    cases = [
        (ssl_cluster.auth(password=SecretStr(password + "x")), "password"),
        (ssl_cluster.auth(database="nosuchdb"), "'nosuchdb' does not exist"),
        (ssl_cluster.auth(username="sslonly", sslMode="Disable"), "requires SSL"),
        (ssl_cluster.auth(username="plainonly", sslMode="Require"), "without SSL"),
        (ssl_cluster.auth(sslMode="Verify Full", sslRootCert=ssl_cluster.ca_pem), "not issued for host"),
    ]
    for auth, needle in cases:
        with pytest.raises(ConfigError) as info, adbc_connection(target_of(auth)):
            pass
        text = f"{info.value} {info.value!r}"
        assert needle in text, text
        assert password not in text and "Pa55" not in text


def test_require_with_a_wrong_ca_says_the_ca_is_checked(
    ssl_cluster: Any, connector: PostgresConnector, password: str
) -> None:
    # libpq checks a given root certificate even in require mode: the advice must not be "use Require".
    auth = ssl_cluster.auth(server="localhost", sslMode="Require", sslRootCert=ssl_cluster.other_ca_pem)
    with pytest.raises(ConfigError) as info:
        connector.check(auth)
    assert "not signed by the CA certificate given" in info.value.message
    assert "use sslMode Require" not in info.value.message
    assert password not in repr(info.value)
    connector.check(ssl_cluster.auth(server="localhost", sslMode="Require", sslRootCert=ssl_cluster.ca_pem))
    connector.check(ssl_cluster.auth(server="localhost", sslMode="Require"))
