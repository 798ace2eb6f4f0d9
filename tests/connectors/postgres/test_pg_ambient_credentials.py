"""Tenant connections never use the server account's PostgreSQL credentials (real server, real cluster).

The server runs with every ambient source libpq knows, each holding what would let a tenant in:
PGPASSWORD and a PGPASSFILE with the right password for `reader`, a ~/.pgpass with it too, the
cluster's CA as ~/.postgresql/root.crt and PGSSLROOTCERT, and unreadable client certificate files.
Control connections made without Headwater's parameters show each of them really is picked up by
libpq; a tenant's connection through the API must use none.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.connectors.postgres.conftest import PASSWORD
from tests.connectors.postgres.live import BASIC, CONN_STRING, Tenant, message, serving

pytestmark = pytest.mark.slow  # each test starts a `headwater serve` process

WRONG = "Wrong-Pw-7781"


def _pgpass_line(password: str) -> str:
    escaped = password.replace("\\", "\\\\").replace(":", "\\:")
    return f"*:*:*:reader:{escaped}\n"


def _private(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def ambient_env(tmp_path_factory: pytest.TempPathFactory, ssl_cluster: Any) -> dict[str, str]:
    root = tmp_path_factory.mktemp("ambient")
    home = root / "home"
    _private(home / ".pgpass", _pgpass_line(PASSWORD))
    root_crt = _private(home / ".postgresql" / "root.crt", ssl_cluster.ca_pem)
    garbage_cert = _private(home / ".postgresql" / "postgresql.crt", "not a certificate\n")
    _private(home / ".postgresql" / "postgresql.key", "not a key\n")
    return {
        "HOME": str(home),
        "PGPASSFILE": str(_private(root / "passfile", _pgpass_line(PASSWORD))),
        "PGPASSWORD": PASSWORD,
        "PGUSER": "reader",
        "PGDATABASE": "appdb",
        "PGSSLROOTCERT": str(root_crt),
        "PGSSLCERT": str(garbage_cert),
    }


def _raw_libpq(env: dict[str, str], port: int, **params: str) -> str:
    """Connect with plain psycopg in a fresh process with `env`: 'ok' or the error text."""
    code = (
        "import psycopg, sys\n"
        "try:\n"
        f"    psycopg.connect(host='localhost', port={port}, connect_timeout=5, **{params!r}).close()\n"
        "    print('ok')\n"
        "except psycopg.Error as exc:\n"
        "    print(exc)\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    out = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.strip()


def test_the_ambient_sources_are_real(ambient_env: dict[str, str], ssl_cluster: Any) -> None:
    no_client_cert = {"sslcert": "/nonexistent/client.crt"}
    # PGPASSWORD / PGPASSFILE and PGSSLROOTCERT: no password, no CA given, yet verify-full gets in.
    assert _raw_libpq(ambient_env, ssl_cluster.port, sslmode="verify-full", **no_client_cert) == "ok"
    # HOME alone: ~/.pgpass and ~/.postgresql/root.crt do the same.
    home_only = {"HOME": ambient_env["HOME"]}
    assert (
        _raw_libpq(home_only, ssl_cluster.port, user="reader", dbname="appdb", sslmode="verify-full", **no_client_cert)
        == "ok"
    )
    # ~/.postgresql/postgresql.crt is loaded whenever SSL is used.
    failed = _raw_libpq(home_only, ssl_cluster.port, user="reader", dbname="appdb", sslmode="require")
    assert "certificate" in failed.lower(), failed


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory, ambient_env: dict[str, str]) -> Iterator[Tenant]:
    with serving(tmp_path_factory.mktemp("served") / "data", ambient_env) as tenant:
        yield tenant


def _basic(cluster: Any, password: str, **extra: Any) -> dict[str, Any]:
    return {
        "server": "127.0.0.1",
        "port": cluster.port,
        "database": "appdb",
        "username": "reader",
        "password": password,
        **extra,
    }


def _conn_string(cluster: Any, password: str, extra: str = "") -> dict[str, Any]:
    text = f"Server=127.0.0.1;Port={cluster.port};Database=appdb;UID=reader;Password={{{password}}}{extra}"
    return {"connectionString": text}


def test_a_wrong_password_is_never_replaced_by_the_servers_own(tenant: Tenant, ssl_cluster: Any) -> None:
    for params, spec in ((_basic(ssl_cluster, WRONG), BASIC), (_conn_string(ssl_cluster, WRONG), CONN_STRING)):
        connection = tenant.create_ok(params, spec)
        result = tenant.test(connection)
        assert result["result"] is False
        assert "Wrong user name or password for user 'reader'" in result["errors"][0]["message"]
        preview = tenant.preview(connection, "public.items")
        assert preview.status_code == 400, preview.text
        assert "item 1" not in preview.text and "Wrong user name or password" in message(preview)


def test_empty_or_absent_passwords_are_refused_at_creation(tenant: Tenant, ssl_cluster: Any) -> None:
    for params, spec, needle in (
        (_basic(ssl_cluster, ""), BASIC, "password is empty"),
        (_conn_string(ssl_cluster, ""), CONN_STRING, "Password is empty"),
        (
            {"connectionString": f"Server=127.0.0.1;Port={ssl_cluster.port};Database=appdb;UID=reader;Password="},
            CONN_STRING,
            "Password is empty",
        ),
        ({k: v for k, v in _basic(ssl_cluster, "x").items() if k != "password"}, BASIC, "password"),
    ):
        resp = tenant.create(params, spec)
        assert resp.status_code == 400, resp.text
        assert needle in message(resp)


def test_the_servers_certificate_files_are_not_used(tenant: Tenant, ssl_cluster: Any, password: str) -> None:
    # Unreadable client certificate files in ~/.postgresql and PGSSLCERT: never loaded.
    connection = tenant.create_ok(_basic(ssl_cluster, password, sslMode="Require"))
    assert tenant.test(connection) == {"result": True}
    rows = tenant.preview(connection, "public.items")
    assert rows.status_code == 200 and len(rows.json()["data"]) == 10, rows.text
    # The cluster's CA as ~/.postgresql/root.crt and PGSSLROOTCERT: verifying without a CA given fails.
    unverified = tenant.create_ok(_basic(ssl_cluster, password, server="localhost", sslMode="Verify Full"))
    result = tenant.test(unverified)
    assert result["result"] is False and "not trusted" in result["errors"][0]["message"]


def test_unix_sockets_are_refused(tenant: Tenant, ssl_cluster: Any, password: str) -> None:
    for server in ("/var/run/postgresql", ssl_cluster.socket_dir, "@headwater"):
        resp = tenant.create(_basic(ssl_cluster, password, server=server))
        assert resp.status_code == 400 and "socket paths" in message(resp), resp.text
        text = f"Server={server};Port={ssl_cluster.port};Database=appdb;UID=reader;Password=x"
        resp = tenant.create({"connectionString": text}, CONN_STRING)
        assert resp.status_code == 400 and "socket paths" in message(resp), resp.text


def test_the_ca_given_in_the_request_is_used_and_stored_encrypted(
    tenant: Tenant, ssl_cluster: Any, password: str
) -> None:
    by_field = tenant.create_ok(
        _basic(ssl_cluster, password, server="localhost", sslMode="Verify Full", sslRootCert=ssl_cluster.ca_pem)
    )
    strict = ";EncryptionMethod=1;ValidateServerCertificate=1;TrustStore={" + ssl_cluster.ca_pem + "}"
    in_string = _conn_string(ssl_cluster, password, strict)
    in_string["connectionString"] = in_string["connectionString"].replace("127.0.0.1", "localhost")
    by_trust_store = tenant.create_ok(in_string, CONN_STRING)
    for connection in (by_field, by_trust_store):
        assert tenant.test(connection) == {"result": True}
    assert tenant.get(by_field)["auth"]["params"]["sslRootCert"] == "********"
    shown = tenant.get(by_trust_store)["auth"]["params"]["connectionString"]
    assert "TrustStore=********" in shown and "Password=********" in shown and "BEGIN" not in shown
    stored = [p for p in tenant.server.data_dir.rglob("*") if p.is_file()]
    assert stored
    for path in stored:
        data = path.read_bytes()
        assert b"BEGIN CERTIFICATE" not in data, path
        assert password.encode() not in data, path


def test_the_server_log_names_the_removed_variables_only(tenant: Tenant, password: str) -> None:
    log = tenant.server.log_text()
    assert "removed PostgreSQL client variables" in log
    assert "PGPASSWORD" in log and "PGPASSFILE" in log
    assert password not in log and WRONG not in log
