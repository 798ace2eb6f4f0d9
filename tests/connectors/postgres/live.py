"""A real `headwater serve` process and one tenant's calls to it, for the PostgreSQL security tests."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.ids import FLOW, ORG, PG_SPEC
from tests.support.server import LiveServer, cli, start_server

BASIC = "Basic Authentication"
CONN_STRING = "Connection String Based Authentication"
POLICY_REFUSAL = "refused by this Headwater server's source policy"


@dataclass
class Tenant:
    """One org's HTTP calls to a running server."""

    server: LiveServer
    http: httpx.Client

    def create(self, params: dict[str, Any], spec_name: str = BASIC) -> httpx.Response:
        body = {"name": "pg", "auth": {"specName": spec_name, "params": params}, "connectionSpec": {"id": PG_SPEC}}
        return self.http.post(f"{FLOW}/connections", json=body)

    def create_ok(self, params: dict[str, Any], spec_name: str = BASIC) -> str:
        resp = self.create(params, spec_name)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    def get(self, connection_id: str) -> dict[str, Any]:
        resp = self.http.get(f"{FLOW}/connections/{connection_id}")
        assert resp.status_code == 200, resp.text
        return dict(resp.json()["items"][0])

    def test(self, connection_id: str) -> dict[str, Any]:
        resp = self.http.get(f"{FLOW}/connections/{connection_id}/test")
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def explore(self, connection_id: str, **query: str) -> httpx.Response:
        return self.http.get(f"{FLOW}/connections/{connection_id}/explore", params=query)

    def preview(self, connection_id: str, table: str) -> httpx.Response:
        return self.explore(connection_id, objectType="table", object=table, preview="true")


def own_address() -> str:
    """This machine's address on its default route (loopback if it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.255", 9))  # UDP: nothing is sent
        except OSError:
            return "127.0.0.1"
        return str(probe.getsockname()[0])


def message(resp: httpx.Response) -> str:
    return str(resp.json()["report"]["detailed-message"])


@contextmanager
def serving(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[Tenant]:
    """Start the server with `env` added to this process's environment; yield a tenant with a token."""
    server = start_server(data_dir, env)
    try:
        token = json.loads(cli(data_dir, "token", "--org", ORG, "--json", extra_env=env))
        headers = {
            "Authorization": f"Bearer {token['access_token']}",
            "x-api-key": token["api_key"],
            "x-gw-ims-org-id": ORG,
            "x-sandbox-name": "prod",
        }
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as http:
            yield Tenant(server, http)
    finally:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
