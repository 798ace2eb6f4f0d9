"""Helpers for the token and credential tests: credentials from the CLI, tokens over HTTP."""

from __future__ import annotations

import json

import httpx

from tests.support.ids import FLOW, TOKEN_PATH
from tests.support.server import LiveServer, cli


def create_credentials(server: LiveServer, org: str) -> dict[str, str]:
    return dict(json.loads(cli(server.data_dir, "credentials", "create", "--org", org, "--json")))


def exchange(http: httpx.Client, client_id: str, client_secret: str) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    return http.post(TOKEN_PATH, data=form)


def headers(token: str, client_id: str, org: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "x-api-key": client_id,
        "x-gw-ims-org-id": org,
        "x-sandbox-name": "prod",
    }


def list_connections(http: httpx.Client, token: str, client_id: str, org: str) -> httpx.Response:
    return http.get(f"{FLOW}/connections", headers=headers(token, client_id, org))


def client_from(server: LiveServer, address: str = "127.0.0.1") -> httpx.Client:
    """An HTTP client whose connections come from `address` (any 127.x.y.z reaches a loopback server)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.base_url, transport=transport, timeout=30)
