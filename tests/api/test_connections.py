"""`/connections`: create, read, patch, delete, and every kind of bad input."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.chain import create, pg_body
from tests.support.ids import BQ_SPEC, FLOW, LAKE_SPEC, MISSING_ID, PG_SPEC
from tests.support.tenants import Tenant


def error_message(resp: Any) -> str:
    return str(resp.json()["report"]["detailed-message"])


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda b: b.pop("name"), "name"),
        (lambda b: b.pop("auth"), "auth"),
        (lambda b: b.pop("connectionSpec"), "connectionSpec"),
        (lambda b: b.update(name=12), "name"),
        (lambda b: b.update(name=""), "name"),
        (lambda b: b.update(nmae="x"), "did you mean name"),  # a misspelt field is refused, an unknown one ignored
        (lambda b: b["auth"].update(specName="Kerberos"), "Kerberos"),
        (lambda b: b["auth"].update(params="x"), "params"),
        (lambda b: b["auth"]["params"].pop("password"), "password"),
        (lambda b: b["auth"]["params"].update(port="70000"), "port"),
        (lambda b: b["auth"]["params"].update(port="abc"), "port"),
        (lambda b: b["auth"]["params"].update(port=True), "port"),
        (lambda b: b["auth"]["params"].update(sslMode="Sometimes"), "sslMode"),
        (lambda b: b["auth"]["params"].update(hostaddr="1.2.3.4"), "hostaddr"),
        (lambda b: b["connectionSpec"].update(id="not-a-spec"), "spec"),
        (lambda b: b["connectionSpec"].update(id=LAKE_SPEC), "spec"),
    ],
)
def test_create_rejects_bad_bodies_with_the_field_named(
    refused_api: tuple[TestClient, Tenant], mutate: Any, needle: str
) -> None:
    client, tenant = refused_api
    body = pg_body()
    mutate(body)
    resp = client.post(f"{FLOW}/connections", json=body, headers=tenant.headers())
    assert resp.status_code == 400, resp.text
    assert needle in error_message(resp)
    assert "pw-Marker1" not in resp.text


@pytest.mark.parametrize(
    ("conn_string", "needle"),
    [
        ("Server=h;Database=d;Port=99999;UID=u;Password=pw-Marker1", "Port"),
        ("Server=h;Database=d;Port=5432;UID=u;Password=pw-Marker1;Color=blue", "item 6 has a key that is not allowed"),
        ("Server=h;Port=5432;UID=u;Password=pw-Marker1", "Database"),
        ("Server=h;Database=d;UID=u;Password=pw-Marker1;EncryptionMethod=3", "EncryptionMethod"),
        ("Server=h;Database=d;UID=u;Password=pw-Marker1;ValidateServerCertificate=yes", "ValidateServerCertificate"),
        ("Server=h;Database=d;UID=u;Password={pw-Marker1", "unterminated"),
        ("just some text", "malformed"),
        ("Server=h;Server=i;Database=d;UID=u;Password=pw-Marker1", "repeats"),
    ],
)
def test_connection_string_is_parsed_and_checked(
    client: TestClient, tenant: Tenant, conn_string: str, needle: str
) -> None:
    body = {
        "name": "pg",
        "auth": {"specName": "Connection String Based Authentication", "params": {"connectionString": conn_string}},
        "connectionSpec": {"id": PG_SPEC},
    }
    resp = client.post(f"{FLOW}/connections", json=body, headers=tenant.headers())
    assert resp.status_code == 400, resp.text
    assert needle in error_message(resp)
    assert "pw-Marker1" not in resp.text


def test_wire_level_bad_input(client: TestClient, tenant: Tenant) -> None:
    h = tenant.headers()
    resp = client.post(f"{FLOW}/connections", content=b'{"name": ', headers={**h, "content-type": "application/json"})
    assert resp.status_code == 400 and "not valid JSON" in error_message(resp)
    resp = client.post(f"{FLOW}/connections", content=b"", headers={**h, "content-type": "application/json"})
    assert resp.status_code == 400
    resp = client.post(f"{FLOW}/connections", content=b"[1, 2]", headers={**h, "content-type": "application/json"})
    assert resp.status_code == 400
    resp = client.post(f"{FLOW}/connections", content=b"name=x", headers={**h, "content-type": "text/plain"})
    assert resp.status_code == 415 and resp.json()["type"].endswith("FLOW-1004-415")
    huge = b'{"name": "' + b"x" * 2_000_000 + b'"}'
    resp = client.post(f"{FLOW}/connections", content=huge, headers={**h, "content-type": "application/json"})
    assert resp.status_code == 413
    resp = client.get(f"{FLOW}/nothing-here", headers=h)
    assert resp.status_code == 404 and "request-id" in resp.json()["report"]
    resp = client.put(f"{FLOW}/connections", json={}, headers=h)
    assert resp.status_code == 405
    assert resp.headers["x-request-id"]


def test_get_masks_secrets_and_is_isolated(client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
    created = create(client, tenant, pg_body())
    resp = client.get(f"{FLOW}/connections/{created['id']}", headers=tenant.headers())
    assert resp.status_code == 200
    item = resp.json()["items"][0]
    assert item["auth"]["params"]["password"] == "********"
    assert item["etag"] == created["etag"] == resp.headers["etag"]
    for headers in (tenant.headers("dev"), other_tenant.headers()):
        for method in ("GET", "DELETE"):
            r = client.request(method, f"{FLOW}/connections/{created['id']}", headers=headers)
            assert r.status_code == 404, (method, r.text)
        r = client.patch(
            f"{FLOW}/connections/{created['id']}",
            json=[{"op": "replace", "path": "/name", "value": "x"}],
            headers={**headers, "If-Match": created["etag"]},
        )
        assert r.status_code == 404
        assert client.get(f"{FLOW}/connections", headers=headers).json()["items"] == []
    assert client.get(f"{FLOW}/connections/not-a-uuid", headers=tenant.headers()).status_code == 404


def test_patch_rules(client: TestClient, tenant: Tenant) -> None:
    created = create(client, tenant, pg_body())
    url = f"{FLOW}/connections/{created['id']}"
    h = tenant.headers()
    op = [{"op": "replace", "path": "/name", "value": "renamed"}]
    resp = client.patch(url, json=op, headers=h)
    assert resp.status_code == 400 and resp.json()["type"].endswith("FLOW-1403-400")
    resp = client.patch(url, json=op, headers={**h, "If-Match": '"stale"'})
    assert resp.status_code == 412 and resp.json()["type"].endswith("FLOW-1404-412")
    # Unquoted and quoted etags both match; the etag changes on every update.
    resp = client.patch(url, json=op, headers={**h, "If-Match": created["etag"].strip('"')})
    assert resp.status_code == 200, resp.text
    etag2 = resp.json()["etag"]
    assert etag2 != created["etag"]
    resp = client.patch(url, json=op, headers={**h, "If-Match": created["etag"]})
    assert resp.status_code == 412
    cases = [
        ([{"op": "replace", "path": "/connectionSpec/id", "value": "x"}], "1414"),
        ([{"op": "move", "path": "/name", "from": "/description"}], "1434"),
        ([{"op": "replace", "path": "/createdAt", "value": 1}], "1365"),
        ([{"op": "replace", "path": "/auth/params/nothere/x", "value": 1}], "1365"),
        ([{"op": "replace", "path": "/name"}], "1455"),
        ([{"op": "replace", "path": "/auth/params/port", "value": "0"}], "1304"),
        ([{"op": "add", "path": "/auth/params/extra", "value": "x"}], "1304"),
        ([{"op": "replace", "path": "/name", "value": 5}], "1455"),
        ([], "1405"),
        ([{"op": "replace", "path": "name", "value": "x"}], "1365"),
    ]
    for body, code in cases:
        resp = client.patch(url, json=body, headers={**h, "If-Match": etag2})
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["type"].endswith(f"FLOW-{code}-400"), (body, resp.text)
    # A single op object is accepted too (the OAS form), ops are case-insensitive.
    resp = client.patch(
        url, json={"op": "REPLACE", "path": "/auth/params/username", "value": "v2"}, headers={**h, "If-Match": etag2}
    )
    assert resp.status_code == 200, resp.text
    item = client.get(url, headers=h).json()["items"][0]
    assert item["name"] == "renamed" and item["auth"]["params"]["username"] == "v2"
    assert item["auth"]["params"]["password"] == "********"


def test_patch_keeps_and_replaces_secrets(client: TestClient, tenant: Tenant, services: Any) -> None:
    created = create(client, tenant, pg_body())
    url = f"{FLOW}/connections/{created['id']}"
    resp = client.patch(
        url,
        json=[{"op": "replace", "path": "/auth/params/server", "value": "db2.internal"}],
        headers={**tenant.headers(), "If-Match": created["etag"]},
    )
    assert resp.status_code == 200
    from headwater.service import Context
    from headwater.store import Scope

    ctx = Context(principal=None, scope=Scope(tenant.org, "prod"))  # type: ignore[arg-type]
    _, auth, _ = services.connections.resolve(ctx, created["id"])
    assert auth.server == "db2.internal"
    assert auth.password.get_secret_value() == "pw-Marker1"
    resp = client.patch(
        url,
        json=[{"op": "replace", "path": "/auth/params/password", "value": "pw-Marker2"}],
        headers={**tenant.headers(), "If-Match": resp.json()["etag"]},
    )
    _, auth, _ = services.connections.resolve(ctx, created["id"])
    assert auth.password.get_secret_value() == "pw-Marker2"


def test_delete(client: TestClient, tenant: Tenant) -> None:
    created = create(client, tenant, pg_body())
    url = f"{FLOW}/connections/{created['id']}"
    assert client.delete(url, headers=tenant.headers()).status_code == 204
    assert client.get(url, headers=tenant.headers()).status_code == 404
    assert client.delete(url, headers=tenant.headers()).status_code == 404
    assert client.delete(url + "/", headers=tenant.headers()).status_code == 404


def test_bigquery_auth_validation(client: TestClient, tenant: Tenant) -> None:
    body = {
        "name": "bq",
        "auth": {"specName": "Service Authentication", "params": {"projectId": "p", "keyFileContent": "bm90IGpzb24="}},
        "connectionSpec": {"id": BQ_SPEC},
    }
    resp = client.post(f"{FLOW}/connections", json=body, headers=tenant.headers())
    assert resp.status_code == 400 and "keyFileContent" in error_message(resp)
    body["auth"] = {"specName": "Basic Authentication", "params": {"project": "p", "clientId": "c"}}
    resp = client.post(f"{FLOW}/connections", json=body, headers=tenant.headers())
    assert resp.status_code == 400
    assert "clientSecret" in error_message(resp) and "refreshToken" in error_message(resp)


def test_explore_and_test_validate_parameters(client: TestClient, tenant: Tenant) -> None:
    created = create(client, tenant, pg_body())
    url = f"{FLOW}/connections/{created['id']}/explore"
    resp = client.get(url, params={"objectType": "folder"}, headers=tenant.headers())
    assert resp.status_code == 400 and resp.json()["type"].endswith("FLOW-1358-400")
    resp = client.get(url, params={"objectType": "table"}, headers=tenant.headers())
    assert resp.status_code == 400 and resp.json()["type"].endswith("FLOW-1337-400")
    resp = client.get(
        url, params={"objectType": "table", "object": "a.b", "preview": "maybe"}, headers=tenant.headers()
    )
    assert resp.status_code == 400
    missing = f"{FLOW}/connections/{MISSING_ID}"
    assert client.get(missing + "/explore?objectType=root", headers=tenant.headers()).status_code == 404
    assert client.get(missing + "/test", headers=tenant.headers()).status_code == 404
