"""Secrets never leak: marker passwords and keys through every endpoint and failure path.

Connections are created with marker secrets (PostgreSQL basic auth and connection string, BigQuery
OAuth client secret and refresh token, a service-account key); the test drives success and
failure (bad host, closed port, wrong password, a token server refusing the grant, a run whose
source refuses the password) and then searches every response, every log record (DEBUG) or the
server's log file, every run error and the raw bytes of every file in the data directory
(SQLite metadata database and its WAL included) for the markers and their encodings.
"""

from __future__ import annotations

import base64
import http.server
import json
import logging
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from psycopg import sql

from headwater.api import create_app
from headwater.runs.model import RunSettings
from headwater.service import Services
from headwater.settings import Settings
from tests.support.chain import basic_auth, connection_body, make_chain
from tests.support.cluster import Cluster
from tests.support.ids import BQ_SPEC, FLOW
from tests.support.net import free_port
from tests.support.server import cli, start_server
from tests.support.tenants import make_tenant

pytestmark = pytest.mark.slow  # a private cluster and a live server

FAST_RUNS = {"lease_seconds": 5.0, "heartbeat_seconds": 0.5, "backoff_base_seconds": 0.05, "poll_seconds": 0.1}


@dataclass
class Markers:
    """Secrets whose every trace (raw, URL-encoded, a distinctive core) is searched for."""

    secrets: dict[str, str] = field(default_factory=dict)

    def new(self, kind: str) -> str:
        # Characters that need escaping in URIs, connection strings and SQL, around a unique core.
        value = f"p@ss:/{kind}{uuid.uuid4().hex[:14]}%;'\u00e9"
        self.secrets[kind] = value
        return value

    def add(self, kind: str, value: str) -> None:
        self.secrets[kind] = value

    def needles(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for kind, value in self.secrets.items():
            core = value[6:-4] if value.startswith("p@ss:/") else value
            found[f"{kind} (core)"] = core
            found[f"{kind} (raw)"] = value
            found[f"{kind} (url-encoded)"] = urllib.parse.quote(value, safe="")
            found[f"{kind} (url-encoded+)"] = urllib.parse.quote_plus(value)
        return found

    def scan(self, where: str, text: str | bytes) -> list[str]:
        if isinstance(text, bytes):
            hits = [k for k, v in self.needles().items() if v.encode("utf-8") in text]
        else:
            hits = [k for k, v in self.needles().items() if v in text]
        return [f"{where}: {h}" for h in hits]


class _TokenServer(http.server.BaseHTTPRequestHandler):
    """A Google token endpoint that refuses every grant, as Google does for a revoked refresh token."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0") or 0))
        body = json.dumps({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def token_uri() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TokenServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token"
    finally:
        server.shutdown()


def _service_account_key(markers: Markers) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    info = {
        "type": "service_account",
        "project_id": "hw-secrets",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "loader@hw-secrets.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    encoded = base64.b64encode(json.dumps(info).encode()).decode("ascii")
    body = "".join(pem.splitlines()[5:7])  # two lines from the middle of the private key
    markers.add("service-account private key", body)
    markers.add("service-account keyFileContent", encoded[200:260])
    return encoded


@dataclass
class Session:
    """Sends requests and keeps every response for the final scan."""

    http: Any
    headers: dict[str, str]
    responses: list[str] = field(default_factory=list)

    def call(self, method: str, url: str, **kwargs: Any) -> Any:
        extra = kwargs.pop("headers", {})
        response = self.http.request(method, url, headers={**self.headers, **extra}, **kwargs)
        self.responses.append(
            f"{method} {url} -> {response.status_code}\n"
            + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
            + "\n"
            + response.text
        )
        # 503 is the documented answer for an unreachable source (TransientError); any other 5xx is a bug.
        assert response.status_code < 500 or response.status_code == 503, f"{method} {url}: {response.text}"
        return response


def _setup_source(cluster: Cluster, markers: Markers) -> tuple[str, str, str]:
    """Two roles with marker passwords and a table they can read; returns (password1, password2, table)."""
    pw1, pw2 = markers.new("pg-basic-password"), markers.new("pg-connstring-password")
    role1, role2 = f"sec_{uuid.uuid4().hex[:8]}", f"sec_{uuid.uuid4().hex[:8]}"
    schema = f"sec_{uuid.uuid4().hex[:8]}"
    with cluster.admin() as conn:
        for role, pw in ((role1, pw1), (role2, pw2)):
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(pw)))
        conn.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(sql.Identifier(schema), sql.Identifier(role1)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.customers (id bigint primary key, name text, updated_at timestamptz not null)"
            ).format(sql.Identifier(schema))
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.customers SELECT g, 'n' || g, timestamptz '2024-01-01' + g * interval '1 minute' "
                "FROM generate_series(1, 50) g"
            ).format(sql.Identifier(schema))
        )
        for role in (role1, role2):
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(role)))
            conn.execute(
                sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
                    sql.Identifier(schema), sql.Identifier(role)
                )
            )
    return f"{role1}\t{pw1}", f"{role2}\t{pw2}", f"{schema}.customers"


def _auth(cluster: Cluster, role_pw: str, **over: Any) -> dict[str, Any]:
    role, pw = role_pw.split("\t")
    auth = basic_auth(pw, port=cluster.port)
    auth["params"].update(username=role, **over)
    return auth


def drive(
    s: Session, cluster: Cluster, markers: Markers, run_until_done: Callable[[list[str]], list[dict[str, Any]]]
) -> dict[str, Any]:
    """Every endpoint and failure path that handles a secret; returns figures for the report."""
    good, good2, table = _setup_source(cluster, markers)
    role1 = good.split("\t")[0]
    conns: dict[str, str] = {}

    def create(name: str, body: dict[str, Any]) -> str:
        r = s.call("POST", f"{FLOW}/connections", json=body)
        assert r.status_code == 201, r.text
        conns[name] = r.json()["id"]
        return conns[name]

    create("basic", connection_body(_auth(cluster, good)))
    role2, pw2 = good2.split("\t")
    connstr = f"Server=127.0.0.1;Database=postgres;Port={cluster.port};UID={role2};Password={{{pw2}}}"
    markers.add("pg-connection-string", connstr)
    create(
        "connstring",
        connection_body(
            {"specName": "Connection String Based Authentication", "params": {"connectionString": connstr}}
        ),
    )
    create("wrong password", connection_body(_auth(cluster, f"{role1}\t{markers.new('pg-wrong-password')}")))
    create("bad host", connection_body(_auth(cluster, good, server="no-such-host.invalid")))
    create(
        "closed port", connection_body(_auth(cluster, f"{role1}\t{markers.new('pg-closed-port')}", port=free_port()))
    )
    oauth = {
        "project": "hw-secrets",
        "clientId": "client-1",
        "clientSecret": markers.new("bq-client-secret"),
        "refreshToken": markers.new("bq-refresh-token"),
    }
    create("bq oauth", connection_body({"specName": "Basic Authentication", "params": oauth}, spec=BQ_SPEC))
    key = _service_account_key(markers)
    create(
        "bq service account",
        connection_body(
            {"specName": "Service Authentication", "params": {"projectId": "hw-secrets", "keyFileContent": key}},
            spec=BQ_SPEC,
        ),
    )
    # Invalid bodies that carry secrets: the 400 must name the field, not echo the value.
    bad = _auth(cluster, f"{role1}\t{markers.new('pg-invalid-body')}")
    bad["params"]["port"] = "not-a-port"
    assert s.call("POST", f"{FLOW}/connections", json=connection_body(bad)).status_code == 400
    bad_cs = {
        "specName": "Connection String Based Authentication",
        "params": {"connectionString": "Password=" + markers.new("pg-bad-connstring") + ";Nonsense"},
    }
    assert s.call("POST", f"{FLOW}/connections", json=connection_body(bad_cs)).status_code == 400
    bad_key = {
        "specName": "Service Authentication",
        "params": {"projectId": "p", "keyFileContent": markers.new("bq-bad-key")},
    }
    assert s.call("POST", f"{FLOW}/connections", json=connection_body(bad_key, spec=BQ_SPEC)).status_code == 400

    results: dict[str, bool] = {}
    for name, cid in conns.items():
        got = s.call("GET", f"{FLOW}/connections/{cid}")
        assert got.status_code == 200
        test = s.call("GET", f"{FLOW}/connections/{cid}/test")
        results[name] = bool(test.json().get("result"))
        s.call("GET", f"{FLOW}/connections/{cid}/explore", params={"objectType": "root"})
        s.call("GET", f"{FLOW}/connections/{cid}/explore", params={"objectType": "table", "object": table})
        s.call(
            "GET",
            f"{FLOW}/connections/{cid}/explore",
            params={"objectType": "table", "object": table, "preview": "true"},
        )
    assert results["basic"] and results["connstring"], f"the good connections must test OK: {results}"
    assert not any(v for k, v in results.items() if k not in ("basic", "connstring")), results
    s.call("GET", f"{FLOW}/connections")
    s.call("GET", f"{FLOW}/connections", params={"property": f"id=={conns['basic']}"})

    # PATCH a password (to another marker), stale and current etag, then test again.
    cid = conns["wrong password"]
    etag = s.call("GET", f"{FLOW}/connections/{cid}").headers["ETag"]
    patch = [{"op": "replace", "path": "/auth/params/password", "value": markers.new("pg-patched-password")}]
    s.call("PATCH", f"{FLOW}/connections/{cid}", json=patch, headers={"If-Match": '"stale"'})
    s.call("PATCH", f"{FLOW}/connections/{cid}", json=patch, headers={"If-Match": etag})
    s.call("GET", f"{FLOW}/connections/{cid}/test")
    bad_patch = [{"op": "replace", "path": "/auth/params/port", "value": markers.new("pg-patched-port")}]
    etag = s.call("GET", f"{FLOW}/connections/{cid}").headers["ETag"]
    s.call("PATCH", f"{FLOW}/connections/{cid}", json=bad_patch, headers={"If-Match": etag})

    # A run that succeeds, then one that fails because the source refuses the password.
    chain = make_chain(s.http, s.headers, table, auth=_auth(cluster, good))
    assert chain.run is not None
    first = run_until_done([chain.run])
    with cluster.admin() as conn:
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role1), sql.Literal(uuid.uuid4().hex)))
    second = s.call("POST", f"{FLOW}/runs", json={"flowId": chain.flow}).json()["items"][0]["id"]
    failed = run_until_done([second])
    s.call("GET", f"{FLOW}/runs", params={"property": f"flowId=={chain.flow}"})
    for rid in (chain.run, second):
        s.call("GET", f"{FLOW}/runs/{rid}")
    s.call("DELETE", f"{FLOW}/connections/{conns['bad host']}")
    return {
        "connections": len(conns),
        "tests": results,
        "run ok": first[0]["metrics"]["statusSummary"]["status"],
        "run failed": failed[0]["metrics"]["statusSummary"]["status"],
        "run error": failed[0]["metrics"]["statusSummary"].get("errors"),
    }


def _scan_files(markers: Markers, root: Path) -> tuple[list[str], int]:
    hits: list[str] = []
    scanned = 0
    for path in sorted(root.rglob("*")):
        if path.is_file():
            scanned += 1
            hits += markers.scan(str(path.relative_to(root)), path.read_bytes())
    return hits, scanned


def test_no_secret_in_responses_logs_runs_or_metadata_in_process(
    tmp_path: Path, running_cluster: Cluster, token_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(
        data_dir=tmp_path / "data",
        run_embedded_executor=False,
        google_token_uri=token_uri,
        run=RunSettings(**FAST_RUNS),
    )
    services = Services(settings)
    services.migrate()
    tenant = make_tenant(services, "SECRETS000000000000000000@AdobeOrg")
    markers = Markers()
    with TestClient(create_app(settings, services=services), raise_server_exceptions=False) as client:
        s = Session(client, tenant.headers())
        engine = services.engine(workers=1, schedule=False)

        def run_until_done(ids: list[str]) -> list[dict[str, Any]]:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                engine.work_once("secrets-test")
                runs = [s.call("GET", f"{FLOW}/runs/{rid}").json()["items"][0] for rid in ids]
                if all(r["metrics"]["statusSummary"]["status"] in ("success", "failed") for r in runs):
                    return runs
                time.sleep(0.05)
            raise AssertionError(f"runs did not finish: {runs}")

        figures = drive(s, running_cluster, markers, run_until_done)
    print(f"secrets[in-process]: {figures}")
    assert figures["run ok"] == "success" and figures["run failed"] == "failed", figures
    assert "password" in json.dumps(figures["run error"]).lower(), figures  # it failed for the right reason
    # The scanner itself finds what it looks for (raw, and URL-encoded as in a libpq URI).
    secret = next(iter(markers.secrets.values()))
    assert markers.scan("self-check", f"x{secret}x") and markers.scan("self-check", urllib.parse.quote(secret))

    hits: list[str] = []
    for i, text in enumerate(s.responses):
        hits += markers.scan(f"response {i}: {text.splitlines()[0]}", text)
    log_text = caplog.text + "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    hits += markers.scan("log records", log_text)
    file_hits, scanned = _scan_files(markers, settings.data_dir)
    hits += file_hits
    print(
        f"secrets[in-process]: {len(markers.secrets)} markers, {len(s.responses)} responses, "
        f"{len(caplog.records)} log records, {scanned} files scanned, {len(hits)} leaks"
    )
    assert len(caplog.records) > 0
    assert not hits, "secrets leaked:\n" + "\n".join(hits)


def test_no_secret_in_responses_or_log_of_a_live_server(
    tmp_path: Path, running_cluster: Cluster, token_uri: str
) -> None:
    env = {"HEADWATER_GOOGLE_TOKEN_URI": token_uri, "HEADWATER_SCHEDULER_INTERVAL_SECONDS": "0.5"}
    env |= {f"HEADWATER_RUN_{k.upper()}": str(v) for k, v in FAST_RUNS.items()}
    data = tmp_path / "live"
    data.mkdir()
    creds = json.loads(cli(data, "credentials", "create", "--org", "SECRETSLIVE00000000000000@AdobeOrg", "--json"))
    server = start_server(data, env)
    markers = Markers()
    try:
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            token = http.post(
                "/ims/token/v3",
                data={
                    "client_id": creds["client_id"],
                    "client_secret": creds["client_secret"],
                    "grant_type": "client_credentials",
                },
            ).json()["access_token"]
            headers = {
                "Authorization": f"Bearer {token}",
                "x-api-key": creds["client_id"],
                "x-gw-ims-org-id": "SECRETSLIVE00000000000000@AdobeOrg",
                "x-sandbox-name": "prod",
            }
            s = Session(http, headers)

            def run_until_done(ids: list[str]) -> list[dict[str, Any]]:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    runs = [s.call("GET", f"{FLOW}/runs/{rid}").json()["items"][0] for rid in ids]
                    if all(r["metrics"]["statusSummary"]["status"] in ("success", "failed") for r in runs):
                        return runs
                    time.sleep(0.2)
                raise AssertionError(f"runs did not finish: {runs}")

            figures = drive(s, running_cluster, markers, run_until_done)
    finally:
        server.process.terminate()
        server.process.wait(timeout=15)
    print(f"secrets[live server]: {figures}")
    hits: list[str] = []
    for i, text in enumerate(s.responses):
        hits += markers.scan(f"response {i}: {text.splitlines()[0]}", text)
    log = server.log_text()
    hits += markers.scan("server log", log)
    file_hits, scanned = _scan_files(markers, data)
    hits += file_hits
    print(
        f"secrets[live server]: {len(markers.secrets)} markers, {len(s.responses)} responses, "
        f"{len(log.splitlines())} log lines, {scanned} files scanned, {len(hits)} leaks"
    )
    assert not hits, "secrets leaked:\n" + "\n".join(hits)
