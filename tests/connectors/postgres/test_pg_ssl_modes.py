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


def _conn_string(cluster: Any, password: str, **extra: str) -> PgConnectionStringAuth:
    pairs = {
        "Server": "127.0.0.1",
        "Port": str(cluster.port),
        "Database": "appdb",
        "UID": "reader",
        "Password": "{" + password + "}",
        **extra,
    }
    return PgConnectionStringAuth(connectionString=SecretStr(";".join(f"{k}={v}" for k, v in pairs.items())))


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


def test_connection_string_validation_with_a_trust_store(
    ssl_cluster: Any, connector: PostgresConnector, password: str, tmp_path: Path
) -> None:
    store = tmp_path / "ca.pem"
    store.write_text(ssl_cluster.ca_pem, encoding="ascii")
    good = _conn_string(
        ssl_cluster,
        password,
        Server="localhost",
        EncryptionMethod="1",
        ValidateServerCertificate="1",
        TrustStore=str(store),
    )
    assert target_of(good).sslmode == "verify-full"
    assert session_ssl(target_of(good)) == (True, True)
    connector.check(good)
    # Validation checks the host name too: the certificate names localhost, not 127.0.0.1.
    wrong_host = _conn_string(
        ssl_cluster, password, EncryptionMethod="1", ValidateServerCertificate="1", TrustStore=str(store)
    )
    with pytest.raises(ConfigError, match=r"not issued for host '127\.0\.0\.1'") as info:
        connector.check(wrong_host)
    assert password not in repr(info.value)
    other = tmp_path / "other.pem"
    other.write_text(ssl_cluster.other_ca_pem, encoding="ascii")
    wrong_ca = _conn_string(
        ssl_cluster,
        password,
        Server="localhost",
        EncryptionMethod="1",
        ValidateServerCertificate="1",
        TrustStore=str(other),
    )
    with pytest.raises(ConfigError, match="not trusted"):
        connector.check(wrong_ca)


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
