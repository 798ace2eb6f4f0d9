"""PostgreSQL fixtures: a schema per test on the local server, and a private SSL + scram cluster.

The local server (127.0.0.1:5432, trust auth, SSL off) holds the data tests. Certificate and
password checks need a server we configure: a private cluster (tests/support/cluster.py) with a CA
and server certificate made here.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from psycopg import sql
from pydantic import SecretStr

from headwater.connectors._pg_auth import PgBasicAuth
from headwater.connectors.postgres import PostgresConnector
from tests.support.cluster import create_cluster

LOCAL_DSN = os.environ.get("HEADWATER_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
# Special characters on purpose: the password must survive URIs and never appear in errors.
PASSWORD = "Pa55;w0rd'\"é%@/:secret"


def admin() -> psycopg.Connection:
    try:
        return psycopg.connect(LOCAL_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required at {LOCAL_DSN!r} (set HEADWATER_TEST_PG): {exc}")


def local_auth(**overrides: object) -> PgBasicAuth:
    info = psycopg.conninfo.conninfo_to_dict(LOCAL_DSN)
    params: dict[str, object] = {
        "server": info.get("host", "127.0.0.1"),
        "port": int(str(info.get("port", 5432))),
        "database": info.get("dbname", "postgres"),
        "username": info.get("user", "postgres"),
        "password": SecretStr(str(info.get("password", "unused"))),
        "sslMode": "disable",
    }
    params.update(overrides)
    return PgBasicAuth.model_validate(params)


@pytest.fixture
def connector() -> PostgresConnector:
    return PostgresConnector()


@pytest.fixture
def auth() -> PgBasicAuth:
    return local_auth()


@dataclass
class Schema:
    """A uniquely named schema on the local server, dropped at teardown."""

    name: str
    conn: psycopg.Connection

    def execute(self, query: str) -> None:
        """Run SQL with `{s}` standing for the quoted schema name (other braces are literal)."""
        self.conn.execute(query.replace("{s}", sql.Identifier(self.name).as_string(self.conn)).encode())

    def path(self, table: str) -> str:
        from headwater.connectors._pg_sql import format_path

        return format_path(self.name, table)


@pytest.fixture
def schema() -> Iterator[Schema]:
    conn = admin()
    name = f"hw_test_{uuid.uuid4().hex[:10]}"
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield Schema(name, conn)
    finally:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
        conn.close()


# -- the SSL + scram cluster -------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_server_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, *, dns: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(dns))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        # Only a DNS name: connecting by IP address must fail verify-full (host name mismatch).
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass(frozen=True)
class SslCluster:
    """A private PostgreSQL with SSL on and scram passwords.

    Users: `reader` (SSL optional), `sslonly` (hostssl only), `plainonly` (hostnossl only), all
    with PASSWORD; database `appdb` exists.
    """

    port: int
    ca_pem: str
    other_ca_pem: str
    socket_dir: str

    def auth(self, **overrides: object) -> PgBasicAuth:
        params: dict[str, object] = {
            "server": "127.0.0.1",
            "port": self.port,
            "database": "appdb",
            "username": "reader",
            "password": SecretStr(PASSWORD),
            "sslMode": "prefer",
        }
        params.update(overrides)
        return PgBasicAuth.model_validate(params)


@pytest.fixture(scope="session")
def ssl_cluster() -> Iterator[SslCluster]:
    ca_key, ca = make_ca("Headwater Test CA")
    _, other_ca = make_ca("Some Other CA")
    key, cert = make_server_cert(ca_key, ca, dns="localhost")
    server_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    hba = ["local all all trust"]
    for net in ("127.0.0.1/32", "::1/128"):
        hba += [
            f"hostssl all sslonly {net} scram-sha-256",
            f"hostnossl all plainonly {net} scram-sha-256",
            f"host all reader {net} scram-sha-256",
        ]
    cluster = create_cluster(
        "hw-pg-ssl-",
        files={"server.key": server_key, "server.crt": pem(cert)},
        password=PASSWORD,
        listen="localhost",
        conf="ssl = on\nssl_cert_file = '{root}/server.crt'\nssl_key_file = '{root}/server.key'\n"
        "password_encryption = 'scram-sha-256'\n",
        hba="\n".join(hba) + "\n",
    )
    try:
        with cluster.admin() as conn:
            for role in ("reader", "sslonly", "plainonly"):
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), PASSWORD))
            conn.execute("CREATE DATABASE appdb OWNER reader")
        with psycopg.connect(
            host=str(cluster.root), port=cluster.port, user="reader", dbname="appdb", autocommit=True
        ) as conn:
            conn.execute(
                "CREATE TABLE public.items AS SELECT g AS id, 'item ' || g AS label FROM generate_series(1, 10) g"
            )
            conn.execute("CREATE TABLE public.private_items (id int)")  # not granted: never listed for sslonly
            conn.execute("GRANT SELECT ON public.items TO sslonly")
        yield SslCluster(port=cluster.port, ca_pem=pem(ca), other_ca_pem=pem(other_ca), socket_dir=str(cluster.root))
    finally:
        cluster.remove()


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def make_local_auth() -> object:
    return local_auth
