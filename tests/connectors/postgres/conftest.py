"""PostgreSQL fixtures: a schema per test on the local server, and a private SSL + scram cluster.

The local server (127.0.0.1:5432, trust auth, SSL off) holds the data tests. Certificate and
password checks need a server we configure, so a session fixture runs initdb/pg_ctl as the
`postgres` OS user (initdb refuses root) on a free port, with a CA and server certificate made here.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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

LOCAL_DSN = os.environ.get("HEADWATER_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
PG_BIN = Path(os.environ.get("HEADWATER_PG_BIN", "/usr/lib/postgresql/15/bin"))
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def _as_postgres(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, check=False, timeout=60
    )


@pytest.fixture(scope="session")
def ssl_cluster() -> Iterator[SslCluster]:
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL server binaries are required in {PG_BIN} (set HEADWATER_PG_BIN)")
    try:
        pg_user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("an OS user named 'postgres' is required to run initdb (it refuses to run as root)")
    root = Path(tempfile.mkdtemp(prefix="hw-pg-ssl-"))
    os.chown(root, pg_user.pw_uid, pg_user.pw_gid)
    data = root / "data"
    ca_key, ca = make_ca("Headwater Test CA")
    _, other_ca = make_ca("Some Other CA")
    key, cert = make_server_cert(ca_key, ca, dns="localhost")
    files = {
        "server.key": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii"),
        "server.crt": pem(cert),
        "pwfile": PASSWORD + "\n",
    }
    for name, text in files.items():
        path = root / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
        os.chown(path, pg_user.pw_uid, pg_user.pw_gid)
    port = _free_port()
    started = False
    try:
        out = _as_postgres(
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--pwfile",
            str(root / "pwfile"),
            "-A",
            "scram-sha-256",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale",
            "C",
        )
        if out.returncode != 0:
            pytest.fail(f"initdb failed: {out.stdout}\n{out.stderr}")
        with (data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                f"\nport = {port}\nlisten_addresses = 'localhost'\nunix_socket_directories = '{root}'\n"
                f"ssl = on\nssl_cert_file = '{root / 'server.crt'}'\nssl_key_file = '{root / 'server.key'}'\n"
                "password_encryption = 'scram-sha-256'\nfsync = off\n"
            )
        hba = ["local all all trust"]
        for net in ("127.0.0.1/32", "::1/128"):
            hba += [
                f"hostssl all sslonly {net} scram-sha-256",
                f"hostnossl all plainonly {net} scram-sha-256",
                f"host all reader {net} scram-sha-256",
            ]
        (data / "pg_hba.conf").write_text("\n".join(hba) + "\n", encoding="utf-8")
        out = _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "30", "start")
        if out.returncode != 0:
            log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
            pytest.fail(f"pg_ctl start failed: {out.stdout}\n{out.stderr}\n{log}")
        started = True
        with psycopg.connect(host=str(root), port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
            for role in ("reader", "sslonly", "plainonly"):
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), PASSWORD))
            conn.execute("CREATE DATABASE appdb OWNER reader")
        with psycopg.connect(host=str(root), port=port, user="reader", dbname="appdb", autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE public.items AS SELECT g AS id, 'item ' || g AS label FROM generate_series(1, 10) g"
            )
            conn.execute("CREATE TABLE public.private_items (id int)")  # not granted: never listed for sslonly
            conn.execute("GRANT SELECT ON public.items TO sslonly")
        yield SslCluster(port=port, ca_pem=pem(ca), other_ca_pem=pem(other_ca), socket_dir=str(root))
    finally:
        if started:
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def make_local_auth() -> object:
    return local_auth
