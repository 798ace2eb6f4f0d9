"""Explore: datasets and tables, schemas mapped to Arrow and platform types, preview rows."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from google.cloud import bigquery

from headwater.connectors._bq_auth import BqOAuth, BqServiceAccount
from headwater.connectors.bigquery import BigQueryConnector
from headwater.errors import NotFound
from headwater.service.explore_wire import explore_item_json, table_preview_json, table_schema_json

from .conftest import S
from .emulator import PROJECT, TokenServer, service_account_key


def test_list_objects_lists_dataset_tables(
    connector: BigQueryConnector, oauth: BqOAuth, admin: bigquery.Client, dataset: str
) -> None:
    for name in ("b_table", "a_table"):
        admin.create_table(bigquery.Table(f"{PROJECT}.{dataset}.{name}", schema=[S("id", "INT64")]), timeout=10)
    items = [explore_item_json(i) for i in connector.list_objects(oauth) if i.path.startswith(f"{dataset}.")]
    assert items == [
        {"type": "table", "name": f"{dataset}.a_table", "path": f"{dataset}.a_table", "canPreview": True,
         "canFetchSchema": True},
        {"type": "table", "name": f"{dataset}.b_table", "path": f"{dataset}.b_table", "canPreview": True,
         "canFetchSchema": True},
    ]  # fmt: skip


def test_service_account_dataset_restriction_limits_explore(
    connector: BigQueryConnector, token_server: TokenServer, admin: bigquery.Client, dataset: str, mixed_table: str
) -> None:
    auth = BqServiceAccount.model_validate(
        {"projectId": PROJECT, "keyFileContent": service_account_key(token_server.private_pem), "datasetId": dataset}
    )
    assert [i.path for i in connector.list_objects(auth)] == [mixed_table]


def test_describe_maps_every_type(connector: BigQueryConnector, oauth: BqOAuth, mixed_table: str) -> None:
    schema = connector.describe(oauth, mixed_table)
    assert schema.arrow_schema == pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("amount", pa.decimal128(38, 9)),
            pa.field("ratio", pa.float64()),
            pa.field("name", pa.string()),
            pa.field("active", pa.bool_()),
            pa.field("updated_at", pa.timestamp("us", tz="UTC")),
            pa.field("local_at", pa.timestamp("us")),
            pa.field("day", pa.date32()),
            pa.field("clock", pa.time64("us")),
            pa.field("blob", pa.binary()),
            pa.field("doc", pa.string()),
            pa.field("tags", pa.list_(pa.string())),
            pa.field("address", pa.struct([pa.field("city", pa.string()), pa.field("zips", pa.list_(pa.int64()))])),
        ]
    )
    columns = {c["name"]: c for c in table_schema_json(schema)["schema"]["columns"]}
    assert table_schema_json(schema)["format"] == "flat"
    assert columns["id"] == {
        "name": "id",
        "type": "long",
        "xdm": {"type": "integer"},
        "meta": {"originalType": "INT64"},
    }
    assert columns["ratio"]["type"] == "double" and columns["ratio"]["xdm"] == {"type": "number"}
    assert columns["active"]["type"] == "boolean"
    assert columns["updated_at"]["meta:xdmType"] == "date-time"
    assert columns["updated_at"]["xdm"] == {"type": "string", "format": "date-time"}
    assert columns["local_at"]["meta:xdmType"] == "date-time"
    assert columns["day"]["xdm"] == {"type": "string", "format": "date"}
    # NUMERIC has 38 digits: a double would round it, so explore calls it a string.
    assert columns["amount"]["type"] == "string"
    assert columns["tags"]["meta"] == {"originalType": "ARRAY<STRING>"}
    assert columns["address"]["meta"] == {"originalType": "STRUCT<city STRING, zips ARRAY<INT64>>"}
    for name in ("clock", "blob", "doc", "tags", "address"):
        assert columns[name]["type"] == "string" and columns[name]["xdm"] == {"type": "string"}


def test_describe_geography_is_wkt_text(
    connector: BigQueryConnector, oauth: BqOAuth, admin: bigquery.Client, dataset: str
) -> None:
    # The emulator can create the column but not store values without DuckDB spatial (offline).
    admin.create_table(bigquery.Table(f"{PROJECT}.{dataset}.geo", schema=[S("g", "GEOGRAPHY")]), timeout=10)
    column = connector.describe(oauth, f"{dataset}.geo").columns[0]
    assert (column.arrow_type, column.platform_type, column.source_type) == (pa.string(), "string", "GEOGRAPHY")


def test_preview_returns_json_ready_rows(connector: BigQueryConnector, oauth: BqOAuth, mixed_table: str) -> None:
    preview = connector.preview(oauth, mixed_table, limit=2)
    assert len(preview.rows) == 2
    row = next(r for r in preview.rows if r["id"] == 1)
    assert json.loads(row.pop("doc")) == {"i": 1}
    assert row == {
        "id": 1,
        "amount": "1.125000000",
        "ratio": 0.25,
        "name": "name 1",
        "active": False,
        "updated_at": "2024-01-01T10:00:00.123456",
        "local_at": "2024-01-01T10:00:00",
        "day": "2024-01-01",
        "clock": "12:34:56.500000",
        "blob": "YjE=",
        "tags": '["t1","x"]',
        "address": '{"city":"c1","zips":[1,2]}',
    }
    assert "data" in table_preview_json(preview)


@pytest.mark.parametrize("path", ["missing_ds.people", "no_dots", "a.b.c.d"])
def test_unknown_table_is_not_found(connector: BigQueryConnector, oauth: BqOAuth, path: str) -> None:
    with pytest.raises(NotFound):
        connector.describe(oauth, path)
    with pytest.raises(NotFound):
        connector.preview(oauth, path)


def test_unknown_table_in_existing_dataset_is_not_found(
    connector: BigQueryConnector, oauth: BqOAuth, dataset: str
) -> None:
    with pytest.raises(NotFound):
        connector.describe(oauth, f"{dataset}.nothing")


def test_is_a_registered_connector(bq_settings: object) -> None:
    from headwater.connectors.base import Connector, ConnectorRegistry
    from headwater.connectors.bigquery import BIGQUERY_SPEC_ID
    from headwater.settings import Settings

    assert isinstance(bq_settings, Settings)
    connector = ConnectorRegistry.load(bq_settings).get(BIGQUERY_SPEC_ID)
    assert isinstance(connector, Connector) and isinstance(connector, BigQueryConnector)
