"""BigQuery fixtures: the connector, its two auth methods, and a dataset and table per test."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from google.cloud import bigquery

from headwater.connectors._bq_auth import BqOAuth, BqServiceAccount
from headwater.connectors.bigquery import BigQueryConnector
from headwater.settings import Settings
from tests.connectors.bigquery.emulator import (
    CLIENT_ID,
    CLIENT_SECRET,
    PROJECT,
    REFRESH_TOKEN,
    TIMEOUTS,
    TokenServer,
    pem,
    rsa_key,
    service_account_key,
)


@pytest.fixture
def other_private_pem() -> str:
    return pem(rsa_key())


# --- connector, auth and data --------------------------------------------------------------------


@pytest.fixture(scope="session")
def connector(bq_settings: Settings) -> BigQueryConnector:
    return BigQueryConnector(bq_settings, timeouts=TIMEOUTS)


@pytest.fixture(scope="session")
def oauth() -> BqOAuth:
    return BqOAuth.model_validate(
        {"project": PROJECT, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "refreshToken": REFRESH_TOKEN}
    )


@pytest.fixture(scope="session")
def service_account(token_server: TokenServer) -> BqServiceAccount:
    return BqServiceAccount.model_validate(
        {"projectId": PROJECT, "keyFileContent": service_account_key(token_server.private_pem)}
    )


@pytest.fixture(scope="session")
def admin(bq_admin: bigquery.Client) -> bigquery.Client:
    return bq_admin


@pytest.fixture
def dataset(admin: bigquery.Client) -> Iterator[str]:
    """A dataset owned by one test."""
    name = f"hw_{uuid.uuid4().hex[:12]}"
    admin.create_dataset(f"{PROJECT}.{name}", timeout=10, retry=TIMEOUTS.rest_retry())
    yield name
    admin.delete_dataset(
        f"{PROJECT}.{name}", delete_contents=True, not_found_ok=True, timeout=10, retry=TIMEOUTS.rest_retry()
    )


S = bigquery.SchemaField
MIXED_SCHEMA = [
    S("id", "INT64", mode="REQUIRED"),
    S("amount", "NUMERIC"),
    S("ratio", "FLOAT64"),
    S("name", "STRING"),
    S("active", "BOOL"),
    S("updated_at", "TIMESTAMP"),
    S("local_at", "DATETIME"),
    S("day", "DATE"),
    S("clock", "TIME"),
    S("blob", "BYTES"),
    S("doc", "JSON"),
    S("tags", "STRING", mode="REPEATED"),
    S("address", "RECORD", fields=[S("city", "STRING"), S("zips", "INT64", mode="REPEATED")]),
]


def mixed_rows(n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, n + 1):
        rows.append(
            {
                "id": i,
                "amount": f"{i}.125",
                "ratio": i / 4,
                "name": f"name {i}" if i != 3 else "it's",
                "active": i % 2 == 0,
                "updated_at": f"2024-01-{i:02d}T10:00:00.123456Z",
                "local_at": f"2024-01-{i:02d}T10:00:00",
                "day": f"2024-01-{i:02d}",
                "clock": "12:34:56.5",
                "blob": base64.b64encode(f"b{i}".encode()).decode(),
                "doc": json.dumps({"i": i}),
                "tags": [f"t{i}", "x"],
                "address": {"city": f"c{i}", "zips": [i, i + 1]},
            }
        )
    return rows


@pytest.fixture
def mixed_table(admin: bigquery.Client, dataset: str) -> str:
    """`dataset.people` with every emulator-supported type and 5 rows (ids 1..5, days 2024-01-01..05)."""
    table = admin.create_table(bigquery.Table(f"{PROJECT}.{dataset}.people", schema=MIXED_SCHEMA), timeout=10)
    errors = admin.insert_rows_json(table, mixed_rows(5), timeout=10, retry=TIMEOUTS.rest_retry())
    assert errors == []
    return f"{dataset}.people"
