"""BigQuery's row estimate is the table's `numRows` (the emulator keeps it as BigQuery does); a view has none."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from google.cloud import bigquery

from headwater.connectors._bq_auth import BqOAuth
from headwater.connectors._estimates import estimate_rows
from headwater.connectors.bigquery import BigQueryConnector
from headwater.settings import Settings
from tests.connectors.bigquery.emulator import (
    CLIENT_ID,
    CLIENT_SECRET,
    PROJECT,
    REFRESH_TOKEN,
    TIMEOUTS,
    bq_admin,
    bq_emulator,
    bq_settings,
    token_server,
)

__all__ = ["bq_admin", "bq_emulator", "bq_settings", "token_server"]  # fixtures this module uses


@pytest.fixture
def dataset(bq_admin: bigquery.Client) -> Iterator[str]:
    name = f"hw_est_{uuid.uuid4().hex[:12]}"
    bq_admin.create_dataset(f"{PROJECT}.{name}", timeout=10, retry=TIMEOUTS.rest_retry())
    yield name
    bq_admin.delete_dataset(f"{PROJECT}.{name}", delete_contents=True, not_found_ok=True, timeout=10)


def test_a_table_gives_num_rows_and_a_view_none(bq_settings: Settings, bq_admin: bigquery.Client, dataset: str) -> None:
    table = bq_admin.create_table(
        bigquery.Table(f"{PROJECT}.{dataset}.t", schema=[bigquery.SchemaField("id", "INT64")]), timeout=10
    )
    assert bq_admin.insert_rows_json(table, [{"id": i} for i in range(7)], timeout=10) == []
    view = bigquery.Table(f"{PROJECT}.{dataset}.v")
    view.view_query = f"SELECT id FROM `{PROJECT}.{dataset}.t`"
    bq_admin.create_table(view, timeout=10)
    connector = BigQueryConnector(bq_settings, timeouts=TIMEOUTS)
    auth = BqOAuth.model_validate(
        {"project": PROJECT, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "refreshToken": REFRESH_TOKEN}
    )
    assert estimate_rows(connector, auth, f"{dataset}.t") == 7
    assert estimate_rows(connector, auth, f"{dataset}.v") is None
    assert estimate_rows(connector, auth, f"{dataset}.missing") is None
