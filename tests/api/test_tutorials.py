"""Adobe's tutorial requests, sent verbatim over HTTP to a real `headwater serve` process."""

from __future__ import annotations

import json

import httpx

from tests.support.ids import BQ_SPEC, FLOW, PG_SPEC
from tests.support.server import LiveServer, cli

ORG = "5C1328435BF324E90A49402A@AdobeOrg"


def _login(server: LiveServer) -> dict[str, str]:
    creds = json.loads(cli(server.data_dir, "credentials", "create", "--org", ORG, "--json"))
    # The token call exactly as Adobe's OAuth server-to-server docs show it (form-encoded).
    resp = httpx.post(
        f"{server.base_url}/ims/token/v3",
        data={
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "scope": "openid,AdobeID,read_organizations",
        },
    )
    assert resp.status_code == 200, resp.text
    token = resp.json()
    assert token["token_type"] == "bearer" and token["expires_in"] > 0
    return {
        "Authorization": f"Bearer {token['access_token']}",
        "x-api-key": creds["client_id"],
        "x-gw-ims-org-id": ORG,
        "x-sandbox-name": "prod",
    }


def test_postgres_tutorial_connection_string_and_basic_auth(live_server: LiveServer) -> None:
    headers = _login(live_server)
    base = live_server.base_url + FLOW
    conn_string_body = """{
        "name": "Test connection for PostgreSQL",
        "description": "Test connection for PostgreSQL",
        "auth": {
            "specName": "Connection String Based Authentication",
            "params": {
                "connectionString": "Server=pg.example.com;Database=acme;Port=5432;UID=acme;Password=TutorialPw1"
            }
        },
        "connectionSpec": {
            "id": "74a1c565-4e59-48d7-9d67-7c03b8a13137",
            "version": "1.0"
        }
    }"""
    resp = httpx.post(
        f"{base}/connections", content=conn_string_body, headers={**headers, "Content-Type": "application/json"}
    )
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert set(created) == {"id", "etag"}
    assert created["etag"].startswith('"') and created["etag"].endswith('"')
    assert resp.headers["location"].endswith(created["id"])

    basic_body = {
        "name": "PostgreSQL base connection",
        "description": "PostgreSQL base connection via basic authentication",
        "auth": {
            "specName": "Basic Authentication",
            "params": {
                "server": "localhost",
                "port": "3306",
                "database": "postgresql-acme",
                "username": "acme",
                "password": "TutorialPw2",
                "sslMode": "Allow",
            },
        },
        "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
    }
    resp = httpx.post(f"{base}/connections", json=basic_body, headers=headers)
    assert resp.status_code == 201, resp.text
    basic_id = resp.json()["id"]

    got = httpx.get(f"{base}/connections/{created['id']}", headers=headers).json()["items"][0]
    assert got["name"] == "Test connection for PostgreSQL"
    assert got["state"] == "enabled"
    assert got["connectionSpec"] == {"id": PG_SPEC, "version": "1.0"}
    assert got["auth"]["params"]["connectionString"] == (
        "Server=pg.example.com;Database=acme;Port=5432;UID=acme;Password=********"
    )
    assert {"createdAt", "updatedAt", "createdBy", "etag", "imsOrgId", "sandboxName"} <= set(got)
    got_basic = httpx.get(f"{base}/connections/{basic_id}", headers=headers).json()["items"][0]
    assert got_basic["auth"]["params"]["password"] == "********"
    assert got_basic["auth"]["params"]["server"] == "localhost"

    listing = httpx.get(f"{base}/connections", headers=headers).json()
    assert {c["id"] for c in listing["items"]} == {created["id"], basic_id}
    assert "TutorialPw" not in json.dumps(listing)
    assert "TutorialPw" not in live_server.log_text()


def test_bigquery_tutorial_spec_lookup_and_oauth_connection(live_server: LiveServer) -> None:
    headers = _login(live_server)
    base = live_server.base_url + FLOW
    resp = httpx.get(f'{base}/connectionSpecs?property=name=="google-big-query"', headers=headers)
    assert resp.status_code == 200, resp.text
    specs = resp.json()["items"]
    assert [s["id"] for s in specs] == [BQ_SPEC]
    auth_names = [a["name"] for a in specs[0]["authSpec"]]
    assert auth_names == ["Basic Authentication", "Service Authentication"]
    oauth_schema = specs[0]["authSpec"][0]["spec"]
    assert oauth_schema["properties"]["refreshToken"]["format"] == "password"
    assert set(oauth_schema["required"]) == {"project", "clientId", "clientSecret", "refreshToken"}

    body = {
        "name": "Google BigQuery connection with basic authentication",
        "description": "Google BigQuery connection with basic authentication",
        "auth": {
            "specName": "Basic Authentication",
            "type": "OAuth2.0",
            "params": {
                "project": "acme-project",
                "clientId": "1234.apps.googleusercontent.com",
                "clientSecret": "TutorialClientSecret",
                "refreshToken": "TutorialRefreshToken",
            },
        },
        "connectionSpec": {"id": BQ_SPEC, "version": "1.0"},
    }
    resp = httpx.post(f"{base}/connections", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    got = httpx.get(f"{base}/connections/{resp.json()['id']}", headers=headers).json()["items"][0]
    assert got["auth"]["type"] == "OAuth2.0"
    assert got["auth"]["params"] == {
        "project": "acme-project",
        "clientId": "1234.apps.googleusercontent.com",
        "clientSecret": "********",
        "refreshToken": "********",
    }
    assert "Tutorial" not in live_server.log_text()


def test_cli_token_is_accepted_by_the_server(live_server: LiveServer) -> None:
    out = json.loads(cli(live_server.data_dir, "token", "--org", ORG, "--json"))
    headers = {
        "Authorization": f"Bearer {out['access_token']}",
        "x-api-key": out["api_key"],
        "x-gw-ims-org-id": ORG,
        "x-sandbox-name": "prod",
    }
    resp = httpx.get(f"{live_server.base_url}{FLOW}/connectionSpecs", headers=headers)
    assert resp.status_code == 200
    names = {s["name"] for s in resp.json()["items"]}
    assert {"postgre-sql", "google-big-query", "data-lake"} <= names
