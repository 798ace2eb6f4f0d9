"""The BigQuery tutorial calls end to end: connection test (good and bad credentials), explore, preview."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headwater.api import create_app
from headwater.connectors.bigquery import BIGQUERY_SPEC_ID
from headwater.service import Services
from headwater.settings import Settings

from .emulator import CLIENT_ID, CLIENT_SECRET, PROJECT, REFRESH_TOKEN

FLOW = "/data/foundation/flowservice"
ORG = "5C1328435BF324E90A49402A@AdobeOrg"


@pytest.fixture
def api(bq_settings: Settings, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = bq_settings.model_copy(update={"data_dir": tmp_path / "data", "run_embedded_executor": False})
    services = Services(settings)
    services.migrate()
    creds = services.tokens.create_credentials(ORG)
    headers = {
        "Authorization": f"Bearer {services.tokens.exchange(creds.client_id, creds.client_secret)}",
        "x-api-key": creds.client_id,
        "x-gw-ims-org-id": ORG,
        "x-sandbox-name": "prod",
    }
    with TestClient(create_app(settings, services=services), raise_server_exceptions=False) as client:
        yield client, headers


def _connection(client: TestClient, headers: dict[str, str], refresh_token: str) -> str:
    body: dict[str, Any] = {
        "name": "Google BigQuery connection with basic authentication",
        "auth": {
            "specName": "Basic Authentication",
            "type": "OAuth2.0",
            "params": {
                "project": PROJECT,
                "clientId": CLIENT_ID,
                "clientSecret": CLIENT_SECRET,
                "refreshToken": refresh_token,
            },
        },
        "connectionSpec": {"id": BIGQUERY_SPEC_ID, "version": "1.0"},
    }
    resp = client.post(f"{FLOW}/connections", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def test_connection_test_reports_bad_credentials(api: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = api
    bad = _connection(client, headers, "revoked-refresh-token")
    resp = client.get(f"{FLOW}/connections/{bad}/test", headers=headers)
    body = resp.json()
    assert body["result"] is False, body
    assert "refused the BigQuery credentials (invalid_grant)" in body["errors"][0]["message"]
    assert "revoked-refresh-token" not in resp.text and CLIENT_SECRET not in resp.text

    good = _connection(client, headers, REFRESH_TOKEN)
    assert client.get(f"{FLOW}/connections/{good}/test", headers=headers).json() == {"result": True}


def test_explore_and_preview_through_the_api(api: tuple[TestClient, dict[str, str]], mixed_table: str) -> None:
    client, headers = api
    conn = _connection(client, headers, REFRESH_TOKEN)
    root = client.get(f"{FLOW}/connections/{conn}/explore?objectType=root", headers=headers)
    assert root.status_code == 200, root.text
    assert {"type": "table", "name": mixed_table, "path": mixed_table, "canPreview": True,
            "canFetchSchema": True} in root.json()  # fmt: skip
    table = client.get(f"{FLOW}/connections/{conn}/explore?objectType=table&object={mixed_table}", headers=headers)
    assert table.status_code == 200, table.text
    assert [c["name"] for c in table.json()["schema"]["columns"]][:3] == ["id", "amount", "ratio"]
    preview = client.get(
        f"{FLOW}/connections/{conn}/explore?objectType=table&object={mixed_table}&preview=true", headers=headers
    )
    assert preview.status_code == 200, preview.text
    assert sorted(row["id"] for row in preview.json()["data"]) == [1, 2, 3, 4, 5]
    missing = client.get(
        f"{FLOW}/connections/{conn}/explore?objectType=table&object={mixed_table}_nope", headers=headers
    )
    assert missing.status_code == 404, missing.text
