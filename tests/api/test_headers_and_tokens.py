"""Gateway rules: token, API key, org and sandbox headers; the token endpoint."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from headwater.identity import Principal
from headwater.service import Services
from tests.support.ids import FLOW
from tests.support.tenants import Tenant

ENDPOINTS = [
    ("GET", f"{FLOW}/connections"),
    ("GET", f"{FLOW}/connectionSpecs"),
    ("POST", f"{FLOW}/connections"),
    ("GET", f"{FLOW}/connections/00000000-0000-0000-0000-000000000000"),
    ("GET", f"{FLOW}/flows"),
    ("GET", f"{FLOW}/sourceConnections"),
    ("GET", "/data/foundation/catalog/dataSets"),
]


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.request(method, path, headers=headers, json={} if method == "POST" else None)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_missing_token_is_401_in_gateway_shape(refused_api: tuple[TestClient, Tenant], method: str, path: str) -> None:
    client, tenant = refused_api
    headers = tenant.headers()
    del headers["Authorization"]
    resp = _call(client, method, path, headers)
    assert resp.status_code == 401
    assert resp.json() == {"error_code": "403010", "message": "Oauth token is missing."}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "bad",
    ["Bearer nope", "Bearer hw1.e30.AAAA", "Basic dXNlcjpwYXNz", "Bearer ", "hw1.x.y"],
)
def test_bad_token_is_401(refused_api: tuple[TestClient, Tenant], method: str, path: str, bad: str) -> None:
    client, tenant = refused_api
    resp = _call(client, method, path, {**tenant.headers(), "Authorization": bad})
    assert resp.status_code == 401
    assert resp.json()["error_code"] in ("401013", "403010")


def test_tampered_and_expired_tokens_are_rejected(client: TestClient, tenant: Tenant, services: Services) -> None:
    head, body, sig = tenant.token.split(".")
    forged = f"{head}.{body[:-2]}AA.{sig}"
    resp = client.get(f"{FLOW}/connections", headers={**tenant.headers(), "Authorization": f"Bearer {forged}"})
    assert resp.status_code == 401
    services.tokens.ttl_seconds = -5
    expired = services.tokens.mint(Principal(tenant.client_id, tenant.org))
    resp = client.get(f"{FLOW}/connections", headers={**tenant.headers(), "Authorization": f"Bearer {expired}"})
    assert resp.status_code == 401 and "expired" in resp.json()["message"]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_api_key_org_and_sandbox_rules(refused_api: tuple[TestClient, Tenant], method: str, path: str) -> None:
    client, tenant = refused_api
    h = tenant.headers()
    no_key = {k: v for k, v in h.items() if k != "x-api-key"}
    assert _call(client, method, path, no_key).json() == {"error_code": "403000", "message": "Api Key is required"}
    resp = _call(client, method, path, {**h, "x-api-key": "someone-else"})
    assert resp.status_code == 403 and resp.json()["error_code"] == "403003"
    no_org = {k: v for k, v in h.items() if k != "x-gw-ims-org-id"}
    resp = _call(client, method, path, no_org)
    assert resp.status_code == 400 and resp.json()["error_code"] == "400003"
    resp = _call(client, method, path, {**h, "x-gw-ims-org-id": "OTHER@AdobeOrg"})
    assert resp.status_code == 403 and resp.json()["error_code"] == "403025"
    no_sandbox = {k: v for k, v in h.items() if k != "x-sandbox-name"}
    resp = _call(client, method, path, no_sandbox)
    assert resp.status_code == 400
    assert resp.json()["type"].endswith("FLOW-2105-400")
    assert "x-sandbox-name" in resp.json()["report"]["detailed-message"]
    resp = _call(client, method, path, {**h, "x-sandbox-name": "Prod; drop"})
    assert resp.status_code == 400


def test_token_endpoint_form_json_and_errors(client: TestClient, tenant: Tenant) -> None:
    form = {"grant_type": "client_credentials", "client_id": tenant.client_id, "client_secret": tenant.client_secret}
    resp = client.post("/ims/token/v3", data=form)
    assert resp.status_code == 200
    assert resp.json()["token_type"] == "bearer"
    assert resp.headers["cache-control"] == "no-store"
    assert client.post("/ims/token/v3", json=form).status_code == 200
    bad = client.post("/ims/token/v3", data={**form, "client_secret": "wrong"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert client.post("/ims/token/v3", data={**form, "grant_type": "password"}).json()["error"] == (
        "unsupported_grant_type"
    )
    assert client.post("/ims/token/v3", data={"grant_type": "client_credentials"}).status_code == 400
    assert (
        client.post("/ims/token/v3", content=b"[1,2", headers={"content-type": "application/json"}).status_code == 400
    )
    unknown = client.post("/ims/token/v3", data={**form, "client_id": "nope"})
    assert unknown.status_code == 401


def test_tokens_expire_on_time(services: Services, tenant: Tenant) -> None:
    services.tokens.ttl_seconds = 1
    token = services.tokens.mint(Principal(tenant.client_id, tenant.org))
    assert services.tokens.verify(token).org == tenant.org
    deadline = time.monotonic() + 2.1  # exp is in whole seconds: at most 2 s from now
    while time.monotonic() < deadline:
        try:
            services.tokens.verify(token)
        except Exception:
            break
        time.sleep(0.05)
    with pytest.raises(Exception, match="expired"):
        services.tokens.verify(token)
