"""Fixtures shared by the whole suite: an in-process API client and a real `headwater serve` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from headwater.api import create_app
from headwater.service import Services
from headwater.settings import Settings

PG_ADMIN_DSN = os.environ.get("HEADWATER_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
FLOW = "/data/foundation/flowservice"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_admin() -> psycopg.Connection:
    try:
        return psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN_DSN!r} (set HEADWATER_TEST_PG): {exc}")


@dataclass
class Tenant:
    """An org with API credentials, and the headers a client sends for one sandbox."""

    org: str
    client_id: str
    client_secret: str
    token: str

    def headers(self, sandbox: str = "prod") -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "x-api-key": self.client_id,
            "x-gw-ims-org-id": self.org,
            "x-sandbox-name": sandbox,
        }


def make_tenant(services: Services, org: str) -> Tenant:
    creds = services.tokens.create_credentials(org)
    return Tenant(
        org, creds.client_id, creds.client_secret, services.tokens.exchange(creds.client_id, creds.client_secret)
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", run_embedded_executor=False)


@pytest.fixture
def services(settings: Settings) -> Services:
    svc = Services(settings)
    svc.migrate()
    return svc


@pytest.fixture
def client(settings: Settings, services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(settings, services=services), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def tenant(services: Services) -> Tenant:
    return make_tenant(services, "5C1328435BF324E90A49402A@AdobeOrg")


@pytest.fixture
def other_tenant(services: Services) -> Tenant:
    return make_tenant(services, "OTHERORG0000000000000000@AdobeOrg")


@dataclass
class LiveServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(data_dir: Path, extra_env: dict[str, str] | None = None) -> LiveServer:
    """Start `headwater serve` as a real process and wait until it answers."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    env = {**os.environ, "HEADWATER_DATA_DIR": str(data_dir), "HEADWATER_PORT": str(port), **(extra_env or {})}
    handle = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "headwater.cli", "serve"], env=env, stdout=handle, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"headwater serve exited early:\n{log_path.read_text(errors='replace')}")
        try:
            httpx.get(base + "/openapi.json", timeout=1)
            return LiveServer(base, proc, log_path, data_dir)
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"headwater serve did not start:\n{log_path.read_text(errors='replace')}")


def cli(data_dir: Path, *args: str, extra_env: dict[str, str] | None = None) -> str:
    env = {**os.environ, "HEADWATER_DATA_DIR": str(data_dir), **(extra_env or {})}
    out = subprocess.run(
        [sys.executable, "-m", "headwater.cli", *args], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "live")
    try:
        yield server
    finally:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
