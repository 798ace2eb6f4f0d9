"""A real `headwater serve` process, and the CLI run as a subprocess. Starting one takes seconds: slow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.net import free_port, wait_for


@dataclass
class LiveServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


def start_server(data_dir: Path, extra_env: dict[str, str] | None = None, *, timeout: float = 60) -> LiveServer:
    """Start `headwater serve` as a real process and wait (up to `timeout` s, for a busy machine) until it answers."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    # One API process unless a test asks for more (or the environment sets it): the default of one
    # per core only slows start-up and spreads a test's log over processes.
    env = {
        "HEADWATER_WEB_WORKERS": "1",
        **os.environ,
        "HEADWATER_DATA_DIR": str(data_dir),
        "HEADWATER_PORT": str(port),
        **(extra_env or {}),
    }
    with log_path.open("wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "headwater.cli", "serve"], env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    server = LiveServer(f"http://127.0.0.1:{port}", proc, log_path, data_dir)

    def answers_or_exited() -> bool:
        if proc.poll() is not None:
            return True
        try:
            httpx.get(server.base_url + "/openapi.json", timeout=1)
        except httpx.HTTPError:
            return False
        return True

    try:
        wait_for("headwater serve to answer", answers_or_exited, timeout=timeout, every=0.1)
    except AssertionError:
        proc.kill()
        raise RuntimeError(f"headwater serve did not start:\n{server.log_text()}") from None
    if proc.poll() is not None:
        raise RuntimeError(f"headwater serve exited early:\n{server.log_text()}")
    return server


@contextmanager
def running_server(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    server = start_server(data_dir, env)
    try:
        yield server
    finally:
        server.stop()


def cli(data_dir: Path, *args: str, extra_env: dict[str, str] | None = None) -> str:
    env = {**os.environ, "HEADWATER_DATA_DIR": str(data_dir), **(extra_env or {})}
    out = subprocess.run(
        [sys.executable, "-m", "headwater.cli", *args], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout


def gateway_headers(server: LiveServer, org: str) -> dict[str, str]:
    """New credentials for `org`, exchanged for a token: the gateway headers, without a sandbox."""
    creds = json.loads(cli(server.data_dir, "credentials", "create", "--org", org, "--json"))
    form = {
        "grant_type": "client_credentials",
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
    }
    response = httpx.post(f"{server.base_url}/ims/token/v3", data=form, timeout=30)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    return {"Authorization": f"Bearer {token}", "x-api-key": creds["client_id"], "x-gw-ims-org-id": org}


@contextmanager
def sandbox_client(server: LiveServer, org: str, *, prefix: str = "t") -> Iterator[httpx.Client]:
    """An HTTP client of `server` with `org`'s gateway headers, in a new sandbox of its own."""
    headers = {**gateway_headers(server, org), "x-sandbox-name": f"{prefix}{uuid.uuid4().hex[:8]}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        yield client
