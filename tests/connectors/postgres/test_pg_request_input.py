"""What a request's PostgreSQL params can make the server say or read (real server).

Connection-string errors name keys and item numbers, never text of the string (it holds a password).
A TrustStore path is read only inside HEADWATER_TRUSTSTORE_DIR; anywhere else every path, existing
or not, gets the same answer, and nothing is read.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.connectors._pg_ca import NO_SUCH_CA_FILE, PATHS_NOT_ALLOWED
from tests.connectors.postgres.live import BASIC, CONN_STRING, Tenant, message, serving

pytestmark = pytest.mark.slow  # each test starts a `headwater serve` process

SECRET = "MySecretPw123"
BASE = "Server=db.example.com;Database=d;Port=5432;UID=u"
PEM_WITH_SECRET = "-----BEGIN CERTIFICATE-----\n" + SECRET + "\n-----END CERTIFICATE-----"

MALFORMED = [
    f"{BASE};Password {SECRET};Port=5432",  # a missing '=' after a key
    f"{BASE};Password={{{SECRET}",  # unterminated brace
    f"{BASE};Password={{{SECRET}}}{SECRET};EncryptionMethod=1",  # text after the closing brace
    f"{BASE};{SECRET}=1;Password=p",  # unknown key
    f"{BASE};Password={SECRET};Pwd={SECRET}",  # repeated key
    f"{BASE};Password={SECRET};{SECRET}",  # an item without '='
    f"={SECRET};{BASE};Password=p",  # an item without a key
    SECRET,
    f"Server={SECRET}/x;Database=d;UID=u;Password=p",  # a bad host
    f"Server={SECRET},h2;Database=d;UID=u;Password=p",
    f"{BASE};Password=p;Port={SECRET}",
    f"{BASE};Password=p;EncryptionMethod={SECRET}",
    f"{BASE};Password=p;ValidateServerCertificate={SECRET}",
    f"{BASE};Password=p;TrustStore=/{SECRET}",
    f"{BASE};Password=p;TrustStore={{{PEM_WITH_SECRET}}}",
    f"{BASE};Password=p;TrustStore={{{PEM_WITH_SECRET}}};Password={SECRET}",
    f"Server=h;Database=d;UID=u{SECRET}\x00;Password=p",
    f"Server=h;Database=d;Password={SECRET}",  # missing UID
    f"{BASE};Password=",
    f"{BASE};Password={SECRET};Server=other",
]


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenant]:
    with serving(tmp_path_factory.mktemp("plain") / "data") as tenant:
        yield tenant


def test_connection_string_errors_never_quote_the_string(plain: Tenant) -> None:
    for text in MALFORMED:
        resp = plain.create({"connectionString": text}, CONN_STRING)
        assert resp.status_code == 400, (text, resp.text)
        assert SECRET not in resp.text and SECRET.lower() not in resp.text.lower(), (text, resp.text)
    for params in ({"connectionString": f"{BASE};Password=p", "sslRootCert": PEM_WITH_SECRET},):
        resp = plain.create(params, CONN_STRING)
        assert resp.status_code == 400 and SECRET not in resp.text, resp.text
    basic = {"server": "h", "port": 5432, "database": "d", "username": "u", "password": SECRET}
    for field, value in (("server", f"{SECRET}/x"), ("port", SECRET), ("sslMode", SECRET), ("sslRootCert", SECRET)):
        resp = plain.create({**basic, field: value}, BASIC)
        assert resp.status_code == 400 and SECRET not in resp.text, (field, resp.text)
    assert SECRET not in plain.server.log_text()


def test_without_a_trust_store_directory_every_path_answers_alike(plain: Tenant, tmp_path: Path) -> None:
    binary = tmp_path / "binary"
    binary.write_bytes(os.urandom(4096))
    paths = [
        "/etc/shadow",
        "/dev/zero",
        "/dev/urandom",
        "/nonexistent/ca.pem",
        "/etc",
        "/etc/hostname",
        str(binary),
        str(plain.server.data_dir / "secret.key"),
        "ca.pem",
        "../../etc/passwd",
    ]
    answers = set()
    started = time.monotonic()
    for path in paths:
        resp = plain.create({"connectionString": f"{BASE};Password=p;TrustStore={path}"}, CONN_STRING)
        assert resp.status_code == 400, resp.text
        answers.add(resp.text.split('"request-id"')[0])
        assert path not in resp.text
    assert len(answers) == 1 and PATHS_NOT_ALLOWED in answers.pop()
    assert time.monotonic() - started < 30  # nothing was read from /dev/zero


@pytest.fixture(scope="module")
def trust_store(tmp_path_factory: pytest.TempPathFactory, ssl_cluster: Any) -> Path:
    root = tmp_path_factory.mktemp("truststore")
    store = root / "cas"
    store.mkdir()
    (store / "ca.pem").write_text(ssl_cluster.ca_pem, encoding="ascii")
    (store / "not-a-ca.pem").write_text("hello\n", encoding="ascii")
    (root / "outside.pem").write_text(ssl_cluster.ca_pem, encoding="ascii")
    (store / "to-outside.pem").symlink_to(root / "outside.pem")
    (store / "to-zero").symlink_to("/dev/zero")
    (store / "to-shadow").symlink_to("/etc/shadow")
    os.mkfifo(store / "fifo")
    return store


def test_a_configured_trust_store_directory_confines_paths(
    tmp_path: Path, trust_store: Path, ssl_cluster: Any, password: str
) -> None:
    with serving(tmp_path / "data", {"HEADWATER_TRUSTSTORE_DIR": str(trust_store)}) as tenant:
        strict = f"Server=localhost;Port={ssl_cluster.port};Database=appdb;UID=reader;Password={{{password}}};"
        strict += "EncryptionMethod=1;ValidateServerCertificate=1;TrustStore="
        for name in ("ca.pem", str(trust_store / "ca.pem")):
            connection = tenant.create_ok({"connectionString": strict + name}, CONN_STRING)
            assert tenant.test(connection) == {"result": True}
        refused = [
            "../outside.pem",
            str(trust_store.parent / "outside.pem"),
            "to-outside.pem",
            "to-zero",
            "to-shadow",
            "fifo",
            "missing.pem",
            "/etc/shadow",
            "/dev/zero",
            ".",
        ]
        for name in refused:
            resp = tenant.create({"connectionString": f"{BASE};Password=p;TrustStore={name}"}, CONN_STRING)
            assert resp.status_code == 400 and message(resp) == NO_SUCH_CA_FILE, (name, resp.text)
        resp = tenant.create({"connectionString": f"{BASE};Password=p;TrustStore=not-a-ca.pem"}, CONN_STRING)
        assert resp.status_code == 400 and "not a PEM X.509 certificate" in message(resp)
