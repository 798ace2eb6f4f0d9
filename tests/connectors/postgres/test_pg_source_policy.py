"""What a tenant's PostgreSQL connection may reach: strict hosts, the deny list, pinned addresses, CA files.

Real resolver, real files, real connections to the local server and the SSL + scram cluster.
"""

from __future__ import annotations

import os
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr, ValidationError

from headwater.connectors._pg_auth import PgBasicAuth, PgTarget, target_of
from headwater.connectors._pg_ca import MAX_CA_BYTES, NO_SUCH_CA_FILE, read_trust_store_file, validated_ca
from headwater.connectors._pg_conn import ABSENT, adbc_connection, catalog_connection
from headwater.connectors._source_policy import (
    SourcePolicy,
    is_this_host,
    metadata_rule,
    parse_deny_list,
    parse_entry,
    valid_host,
)
from headwater.connectors.postgres import PostgresConnector
from headwater.errors import BadRequest, ConfigError
from headwater.settings import Settings
from tests.connectors.postgres.live import own_address

POLICY_REFUSAL = "refused by this Headwater server's source policy"


@pytest.mark.parametrize(
    "host",
    ["db.example.com", "DB-1.internal", "my_db", "localhost", "10.0.0.1", "::1", "2001:db8::5", "::ffff:10.0.0.1"],
)
def test_hosts_that_are_names_or_addresses_are_accepted(host: str) -> None:
    assert valid_host(host) == host


@pytest.mark.parametrize(
    "host",
    [
        "/var/run/postgresql",
        "@abstract",
        "a,b",
        "h h",
        " h",
        "h\n",
        "h?sslmode=disable",
        "u@h",
        "h/x",
        "h=x",
        "h:5432",
        "[::1]",
        "fe80::1%eth0",
        "a" * 64,
        "",
    ],
)
def test_socket_paths_lists_and_url_characters_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match="host name") as info:
        valid_host(host)
    if len(host.strip()) > 3:
        assert host.strip() not in str(info.value)


def _denied(policy: SourcePolicy, host: str, port: int) -> bool:
    try:
        policy.check(host, port)
    except ConfigError as exc:
        assert POLICY_REFUSAL in exc.message
        return True
    return False


def test_deny_entries_hosts_cidrs_and_ports() -> None:
    policy = SourcePolicy(parse_deny_list("db.internal, 10.0.0.0/8, :5433, 192.0.2.7:5432, [2001:db8::9]:6543"))
    assert _denied(policy, "db.internal", 5432) and _denied(policy, "DB.Internal", 1)  # by name, any port
    assert _denied(policy, "10.200.3.4", 5432) and _denied(policy, "::ffff:10.1.1.1", 5432)  # IPv4-mapped
    assert _denied(policy, "198.51.100.1", 5433)  # a port alone: every host
    assert _denied(policy, "192.0.2.7", 5432) and not _denied(policy, "192.0.2.7", 5434)
    assert _denied(policy, "2001:db8::9", 6543) and not _denied(policy, "2001:db8::9", 6544)
    assert not _denied(policy, "11.0.0.1", 5432) and not _denied(policy, "db.external", 5432)


@pytest.mark.parametrize("entry", ["127.0.0.1:5432", "localhost:5432", "[::1]:5432", "0.0.0.0:5432", "127.0.0.9:5432"])
def test_a_denied_loopback_address_denies_every_local_spelling_on_its_port(entry: str) -> None:
    policy = SourcePolicy((parse_entry(entry),))
    for host in ("127.0.0.1", "127.1.2.3", "localhost", "::1", "0.0.0.0", "::", "::ffff:127.0.0.1", "127.1"):
        assert _denied(policy, host, 5432), host
    assert not _denied(policy, "127.0.0.1", 5433)


def test_a_denied_loopback_address_denies_this_machines_other_addresses_too() -> None:
    # A metadata database on localhost may listen on every interface: its LAN address is the same server.
    own = own_address()
    assert is_this_host(ip_address(own)) and not is_this_host(ip_address("198.51.100.1"))
    policy = SourcePolicy((parse_entry("127.0.0.1:5999"),))
    assert _denied(policy, own, 5999) and not _denied(policy, own, 5998)
    assert not _denied(policy, "198.51.100.1", 5999)
    # Any other rule only refuses what it names.
    assert not _denied(SourcePolicy((parse_entry("198.51.100.0/24:5999"),)), own, 5999)


@pytest.mark.parametrize("entry", ["db..internal", "10.0.0.0/33", ":0", ":70000", "host:port", "[::1", "[::1]x", "a b"])
def test_a_bad_deny_entry_stops_the_server_from_starting(entry: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="HEADWATER_SOURCE_DENY"):
        PostgresConnector(Settings(data_dir=tmp_path, source_deny=entry))


def test_the_metadata_database_endpoint_is_always_denied(tmp_path: Path) -> None:
    sqlite = Settings(data_dir=tmp_path)
    assert SourcePolicy.from_settings(sqlite).rules == ()
    for url in (
        "postgresql+psycopg://hw@127.0.0.1/meta",
        "postgresql://hw:pw@localhost:5432/meta",
        "postgresql+psycopg://hw@/meta?host=/var/run/postgresql",
        "postgresql+psycopg://hw@[::1]:5432/meta",
    ):
        policy = SourcePolicy.from_settings(Settings(data_dir=tmp_path, database_url=url))
        for host in ("127.0.0.1", "localhost", "0.0.0.0", "::1"):
            assert _denied(policy, host, 5432), (url, host)
        assert not _denied(policy, "127.0.0.1", 5433), url
    rule = metadata_rule("postgresql+psycopg://hw@meta.internal:6432/meta")
    assert rule is not None and rule.name == "meta.internal" and rule.port == 6432
    # Added to the operator's own entries, never replacing them.
    both = SourcePolicy.from_settings(
        Settings(data_dir=tmp_path, database_url="postgresql://hw@127.0.0.1:7000/m", source_deny="10.0.0.0/8")
    )
    assert _denied(both, "10.0.0.1", 5432) and _denied(both, "localhost", 7000)


def test_a_connection_saved_before_the_deny_list_fails_at_every_connect(tmp_path: Path, auth: PgBasicAuth) -> None:
    # `auth` was parsed without any policy, as a connection stored before the operator set the list.
    target = target_of(auth)
    PostgresConnector().check(auth)
    denied = PostgresConnector(Settings(data_dir=tmp_path, source_deny=f"{target.host}:{target.port}"))
    for call in (
        lambda: denied.check(auth),
        lambda: denied.list_objects(auth),
        lambda: denied.describe(auth, "pg_catalog.pg_class"),
        lambda: denied.preview(auth, "pg_catalog.pg_class"),
    ):
        with pytest.raises(ConfigError, match=POLICY_REFUSAL):
            call()
    # Parsing with the connector's policy (creating, or resolving a stored connection) refuses it too.
    method = denied.spec.auth_method("Basic Authentication")
    params = {**auth.model_dump(), "password": "unused"}
    with pytest.raises(ConfigError, match=POLICY_REFUSAL):
        method.parse(params)


def test_connections_go_to_the_checked_address_not_a_new_lookup() -> None:
    # `host` never resolves; libpq must connect to `hostaddr`, the address the policy checked.
    target = PgTarget(
        host="pinned.invalid",
        port=5432,
        database="postgres",
        user="postgres",
        password=SecretStr("unused"),
        sslmode="disable",
        hostaddr=("127.0.0.1",),
    )
    with catalog_connection(target) as conn:
        assert str(conn.execute("SELECT inet_server_addr()").fetchone()[0]) == "127.0.0.1"  # type: ignore[index]
    with adbc_connection(target) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
        cursor.close()


def test_the_absent_path_is_no_file_to_libpq(ssl_cluster: Any, password: str) -> None:
    # Even when a client certificate would be sent (sslcertmode=allow), ABSENT is "no file", not an error.
    files = {"sslcert": ABSENT, "sslkey": ABSENT, "sslrootcert": ABSENT, "sslcrl": ABSENT}
    common = {"host": "localhost", "port": ssl_cluster.port, "user": "reader", "dbname": "appdb", "password": password}
    with psycopg.connect(**common, **files, sslmode="require", sslcertmode="allow") as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    with pytest.raises(psycopg.OperationalError, match=r"root certificate file .* does not exist"):
        psycopg.connect(**common, **files, sslmode="verify-ca")


@pytest.mark.parametrize(
    "value",
    [
        "postgres host=/var/run/postgresql",
        "dbname=postgres host=/var/run/postgresql sslmode=disable",
        "postgresql:///postgres?host=/var/run/postgresql",
        "x' host='/tmp",
    ],
)
def test_database_and_user_cannot_add_connection_parameters(value: str, make_local_auth: Any) -> None:
    # Each value is a name as a whole on both drivers: the database (or role) of that name does not exist.
    for field, needle in (("database", "does not exist"), ("username", "does not exist")):
        target = target_of(make_local_auth(**{field: value}))
        for opener in (catalog_connection, adbc_connection):
            with pytest.raises(ConfigError, match=needle), opener(target):
                pass


def test_empty_passwords_are_refused(make_local_auth: Any) -> None:
    with pytest.raises(ValidationError, match="password is empty"):
        make_local_auth(password=SecretStr(""))


def test_pg_variables_are_removed_from_the_environment(caplog: pytest.LogCaptureFixture) -> None:
    planted = {"PGPASSWORD": "Planted-Pw-1", "PGSERVICE": "x", "PGSSLCERT": "/nowhere", "PGSYSCONFDIR": "/nowhere"}
    os.environ.update(planted)
    try:
        with caplog.at_level("WARNING", logger="headwater.connectors.postgres"):
            PostgresConnector()
        assert not any(name.startswith("PG") for name in os.environ)
        assert all(name in caplog.text for name in planted)
        assert "Planted-Pw-1" not in caplog.text
    finally:
        for name in planted:
            os.environ.pop(name, None)


# -- the CA ------------------------------------------------------------------------------------------


def test_the_ca_must_be_pem_x509_and_at_most_one_mebibyte(ssl_cluster: Any) -> None:
    assert "BEGIN CERTIFICATE" in validated_ca(ssl_cluster.ca_pem, "sslRootCert")
    for bad in ("hello", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "é", ""):
        with pytest.raises(BadRequest, match=r"not a PEM X\.509 certificate"):
            validated_ca(bad, "sslRootCert")
    with pytest.raises(BadRequest, match="larger than 1 MiB"):
        validated_ca(ssl_cluster.ca_pem + " " * MAX_CA_BYTES, "sslRootCert")


def test_trust_store_files_outside_the_directory_are_never_read(tmp_path: Path, ssl_cluster: Any) -> None:
    store = tmp_path / "cas"
    store.mkdir()
    (store / "ca.pem").write_text(ssl_cluster.ca_pem, encoding="ascii")
    outside = tmp_path / "outside.pem"
    outside.write_text(ssl_cluster.ca_pem, encoding="ascii")
    (store / "to-outside.pem").symlink_to(outside)
    (store / "to-zero").symlink_to("/dev/zero")
    (store / "sub").mkdir()
    os.mkfifo(store / "fifo")
    assert read_trust_store_file(store, "ca.pem") == ssl_cluster.ca_pem
    assert read_trust_store_file(store, str(store / "ca.pem")) == ssl_cluster.ca_pem
    refused = [
        "to-outside.pem",
        "../outside.pem",
        str(outside),
        "to-zero",
        "/dev/zero",
        "/etc/shadow",
        "/etc/passwd",
        "missing.pem",
        "sub",
        ".",
        "fifo",
        "ca.pem\x00x",
    ]
    for name in refused:
        with pytest.raises(BadRequest) as info:
            read_trust_store_file(store, name)
        assert info.value.message == NO_SUCH_CA_FILE, name
    (store / "big.pem").write_bytes(b"x" * (MAX_CA_BYTES + 1))
    with pytest.raises(BadRequest, match="larger than 1 MiB"):
        read_trust_store_file(store, "big.pem")
