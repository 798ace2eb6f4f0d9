"""The BigQuery test services, shared by the BigQuery tests and the connector contract suite.

Session fixtures: the bqemulator process, a local Google token endpoint, settings pointing at both,
and an admin client for seeding data. They are registered by tests/connectors/conftest.py. The
emulator runs from its own venv (scripts/install-bqemulator.sh): installed in the test venv it
registers a pytest plugin that breaks every run.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from headwater.connectors._bq_clients import BqTimeouts
from headwater.settings import Settings
from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[3]
EMULATOR_VENV = Path(os.environ.get("HEADWATER_BQEMULATOR_VENV", REPO / ".venv-bqemulator"))
PROJECT = "headwater-test"
CLIENT_ID = "headwater-client"
CLIENT_SECRET = "client-secret-value"
REFRESH_TOKEN = "refresh-token-value"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
SA_EMAIL = "reader@headwater-test.iam.gserviceaccount.com"
# Short limits: a 500 from the emulator would otherwise be retried for 600 s.
TIMEOUTS = BqTimeouts(request=10.0, deadline=15.0)


@dataclass(frozen=True)
class Emulator:
    rest: str  # http://127.0.0.1:PORT
    grpc: str  # http://127.0.0.1:PORT (plaintext gRPC)


@pytest.fixture(scope="session")
def bq_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    rest_port, grpc_port = free_port(), free_port()
    process = launch(rest_port, grpc_port, tmp_path_factory.mktemp("bqemulator") / "emulator.log")
    try:
        yield Emulator(rest=f"http://127.0.0.1:{rest_port}", grpc=f"http://127.0.0.1:{grpc_port}")
    finally:
        # In-memory and ephemeral: nothing to flush, and its graceful shutdown takes 5-10 s.
        process.kill()
        process.wait(timeout=10)


def launch(rest_port: int, grpc_port: int, log_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    """Start bqemulator on these ports (with `extra` arguments, e.g. `--data-dir D`) and wait until it answers."""
    python = EMULATOR_VENV / "bin" / "python"
    if not python.exists():
        pytest.fail(
            f"The BigQuery emulator venv is missing ({EMULATOR_VENV}). Install it with "
            "`scripts/install-bqemulator.sh` (or set HEADWATER_BQEMULATOR_VENV to an existing one).",
            pytrace=False,
        )
    env = {
        **os.environ,
        # Avro support downloads a DuckDB extension; offline that costs seconds and achieves nothing.
        "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false",
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(python), str(Path(__file__).with_name("emulator_main.py")), "start",
             "--rest-host", "127.0.0.1", "--rest-port", str(rest_port),
             "--grpc-host", "127.0.0.1", "--grpc-port", str(grpc_port),
             "--project", PROJECT, "--log-level", "warning", *extra],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    _wait_ready(process, rest_port, grpc_port, log_path)
    return process


def _wait_ready(process: subprocess.Popen[bytes], rest_port: int, grpc_port: int, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    url = f"http://127.0.0.1:{rest_port}/bigquery/v2/projects/{PROJECT}/datasets"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            pytest.fail(f"bqemulator exited with {process.returncode} at start-up:\n{tail}", pytrace=False)
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                with socket.create_connection(("127.0.0.1", grpc_port), timeout=2):
                    return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.2)
    process.kill()
    pytest.fail("bqemulator did not become ready within 60 s", pytrace=False)


# --- a local Google OAuth token endpoint -------------------------------------------------------


@dataclass
class TokenServer:
    url: str
    public_pem: bytes
    private_pem: str
    grants: list[str]


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="session")
def token_server() -> Iterator[TokenServer]:
    """Accepts one refresh token and JWT assertions signed by one RSA key made here; else invalid_grant."""
    from google.auth import jwt

    key = rsa_key()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    grants: list[str] = []
    port = free_port()
    url = f"http://127.0.0.1:{port}/token"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            form = {k: v[0] for k, v in parse_qs(body).items()}
            grant = form.get("grant_type", "")
            ok = False
            if grant == "refresh_token":
                ok = (form.get("client_id"), form.get("client_secret"), form.get("refresh_token")) == (
                    CLIENT_ID,
                    CLIENT_SECRET,
                    REFRESH_TOKEN,
                )
            elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
                try:
                    # google-auth always signs for Google's token URI, whichever URI it posts to.
                    claims = jwt.decode(form.get("assertion", ""), certs=public_pem, audience=[url, GOOGLE_TOKEN_URI])
                    ok = claims.get("iss") == SA_EMAIL and "bigquery" in claims.get("scope", "")
                except Exception:
                    ok = False
            grants.append(f"{grant}:{'ok' if ok else 'rejected'}")
            if ok:
                status, answer = 200, {"access_token": uuid.uuid4().hex, "expires_in": 3600, "token_type": "Bearer"}
            else:
                status, answer = 400, {"error": "invalid_grant", "error_description": "Bad Request"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield TokenServer(url=url, public_pem=public_pem, private_pem=pem(key), grants=grants)
    finally:
        server.shutdown()
        server.server_close()


def service_account_key(private_pem: str, *, email: str = SA_EMAIL) -> str:
    info = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "k1",
        "private_key": private_pem,
        "client_email": email,
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return base64.b64encode(json.dumps(info).encode()).decode()


@pytest.fixture(scope="session")
def bq_settings(bq_emulator: Emulator, token_server: TokenServer, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("hw"),
        google_token_uri=token_server.url,
        bigquery_api_endpoint=bq_emulator.rest,
        bigquery_read_endpoint=bq_emulator.grpc,
    )


@pytest.fixture(scope="session")
def bq_admin(bq_emulator: Emulator) -> bigquery.Client:
    """A client for seeding data (the emulator does not check credentials)."""
    return bigquery.Client(
        project=PROJECT, credentials=AnonymousCredentials(), client_options={"api_endpoint": bq_emulator.rest}
    )
