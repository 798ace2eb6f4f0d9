"""The connector contract: every connector passes these tests (fixtures in conftest.py).

spec (auth models, JSON schemas), check, explore (list, describe, preview), read (full, selected
columns, windowed by a delta column, one key range, parallel), representative types, and errors.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from pydantic import BaseModel

from headwater.connectors.base import JSON_SCHEMA_DRAFT7, Connector, ConnectorRegistry
from headwater.domain import DeltaWindow, KeyRange, ReadRequest
from headwater.errors import ConfigError, InvalidAuth, NotFound, UnknownAuthSpec
from tests.connectors.contract.conftest import STANDARD_COLUMNS, STANDARD_ROWS, ContractSource

IDS = [row["id"] for row in STANDARD_ROWS]


@pytest.fixture(scope="session")
def auth(source: ContractSource) -> BaseModel:
    return source.connector.spec.auth_method(source.auth_spec).parse(source.auth_params)


@pytest.fixture(scope="session")
def table(source: ContractSource) -> str:
    return source.make_table()


def _read(source: ContractSource, auth: BaseModel, request: ReadRequest) -> pa.Table:
    batches = list(source.connector.read(auth, request))
    assert batches, "a read yields at least one batch or an empty table"
    return pa.Table.from_batches(batches)


# --- spec ----------------------------------------------------------------------------------------


def test_the_connector_is_registered_under_its_spec_id(source: ContractSource) -> None:
    spec = source.connector.spec
    assert str(uuid.UUID(spec.id)) == spec.id and spec.name and spec.label
    found = ConnectorRegistry.load(source.settings).get(spec.id)
    assert isinstance(found, Connector) and type(found) is type(source.connector)


def test_every_auth_method_serves_a_draft7_object_schema(source: ContractSource) -> None:
    methods = source.connector.spec.auth_methods
    assert methods
    for method in methods:
        schema = method.json_schema()
        assert schema["$schema"] == JSON_SCHEMA_DRAFT7 and schema["type"] == "object", method.name
        assert set(schema.get("required", ())) <= set(schema["properties"]), method.name
        assert method.secret_fields(), f"{method.name} declares no secret"
        json.dumps(schema)


def test_auth_params_parse_and_secrets_never_show(source: ContractSource, auth: BaseModel) -> None:
    method = source.connector.spec.auth_method(source.auth_spec)
    assert isinstance(auth, method.model)
    for name in method.secret_fields():
        secret = source.auth_params.get(name)
        if isinstance(secret, str) and secret:
            assert secret not in repr(auth) and secret not in str(auth)


@pytest.mark.parametrize("params", [{}, "not an object", {"unexpected": 1}])
def test_malformed_auth_params_are_invalid_auth(source: ContractSource, params: Any) -> None:
    with pytest.raises(InvalidAuth) as caught:
        source.connector.spec.auth_method(source.auth_spec).parse(params)
    assert caught.value.code == "1304"


def test_an_unknown_auth_spec_names_the_valid_ones(source: ContractSource) -> None:
    with pytest.raises(UnknownAuthSpec, match=source.auth_spec):
        source.connector.spec.auth_method("No Such Authentication")


# --- check ---------------------------------------------------------------------------------------


def test_check_accepts_good_credentials(source: ContractSource, auth: BaseModel) -> None:
    source.connector.check(auth)


def test_check_refuses_bad_credentials_with_a_config_error(source: ContractSource) -> None:
    refused = source.connector.spec.auth_method(source.auth_spec).parse(source.refused_params)
    with pytest.raises(ConfigError):
        source.connector.check(refused)


# --- explore -------------------------------------------------------------------------------------


def test_explore_lists_the_table(source: ContractSource, auth: BaseModel, table: str) -> None:
    items = source.connector.list_objects(auth)
    found = [item for item in items if item.path == table]
    assert len(found) == 1 and found[0].type == "table"


def test_describe_gives_columns_in_source_order(source: ContractSource, auth: BaseModel, table: str) -> None:
    schema = source.connector.describe(auth, table)
    assert [c.name for c in schema.columns] == list(STANDARD_COLUMNS)
    assert schema.arrow_schema.names == list(STANDARD_COLUMNS)
    for column in schema.columns:
        assert column.platform_type and column.source_type and isinstance(column.xdm, dict)


def test_preview_gives_json_ready_rows(source: ContractSource, auth: BaseModel, table: str) -> None:
    preview = source.connector.preview(auth, table, limit=3)
    assert len(preview.rows) == 3
    assert all(list(row) == list(STANDARD_COLUMNS) for row in preview.rows)
    json.dumps(preview.rows, allow_nan=False)


# --- read ----------------------------------------------------------------------------------------


def test_read_full_table_in_describes_schema(source: ContractSource, auth: BaseModel, table: str) -> None:
    expected = source.connector.describe(auth, table).arrow_schema
    batches = list(source.connector.read(auth, ReadRequest(table=table)))
    assert all(b.schema.equals(expected, check_metadata=False) for b in batches)
    got = pa.Table.from_batches(batches, schema=expected)
    assert sorted(got.column("id").to_pylist()) == IDS


def test_read_selected_columns(source: ContractSource, auth: BaseModel, table: str) -> None:
    got = _read(source, auth, ReadRequest(table=table, columns=("name", "id")))
    assert got.schema.names == ["name", "id"]
    assert sorted(got.column("id").to_pylist()) == IDS


def test_read_a_delta_window(source: ContractSource, auth: BaseModel, table: str) -> None:
    window = DeltaWindow("updated_at", start="2024-01-03T00:00:00+00:00", end="2024-01-06T00:00:00+00:00")
    got = _read(source, auth, ReadRequest(table=table, window=window))
    assert sorted(got.column("id").to_pylist()) == [3, 4, 5]


def test_read_one_key_range(source: ContractSource, auth: BaseModel, table: str) -> None:
    got = _read(source, auth, ReadRequest(table=table, partition=KeyRange("id", 3, 7)))
    assert sorted(got.column("id").to_pylist()) == [3, 4, 5, 6]


def test_read_in_parallel_gives_every_row_once(source: ContractSource, auth: BaseModel, table: str) -> None:
    request = ReadRequest(table=table, parallelism=4, options={"min_partition_rows": 1}, batch_rows=2)
    got = _read(source, auth, request)
    assert sorted(got.column("id").to_pylist()) == IDS


# --- types ---------------------------------------------------------------------------------------


def test_representative_types_keep_their_meaning(source: ContractSource, auth: BaseModel, table: str) -> None:
    got = _read(source, auth, ReadRequest(table=table))
    types = {f.name: f.type for f in got.schema}
    assert pa.types.is_integer(types["id"]) and pa.types.is_string(types["name"])
    assert pa.types.is_decimal(types["amount"]) and types["ratio"] == pa.float64()
    assert types["flag"] == pa.bool_() and types["day"] == pa.date32()
    assert types["updated_at"] == pa.timestamp("us", tz="UTC")
    by_id = {row["id"]: row for row in got.to_pylist()}
    for expected in STANDARD_ROWS:
        row = by_id[expected["id"]]
        assert row["amount"] == Decimal(expected["amount"]) and row["ratio"] == expected["ratio"]
        assert (row["name"], row["flag"], row["day"]) == (expected["name"], expected["flag"], expected["day"])
        assert row["updated_at"] == expected["updated_at"] and row["updated_at"].utcoffset() == dt.timedelta(0)


# --- errors --------------------------------------------------------------------------------------


def test_a_missing_table_is_not_found_to_explore(source: ContractSource, auth: BaseModel) -> None:
    with pytest.raises(NotFound):
        source.connector.describe(auth, source.missing_table)
    with pytest.raises(NotFound):
        source.connector.preview(auth, source.missing_table)


def test_a_missing_table_is_a_config_error_to_read(source: ContractSource, auth: BaseModel) -> None:
    with pytest.raises(ConfigError):
        list(source.connector.read(auth, ReadRequest(table=source.missing_table)))


def test_an_unknown_column_is_a_config_error_to_read(source: ContractSource, auth: BaseModel, table: str) -> None:
    with pytest.raises(ConfigError):
        list(source.connector.read(auth, ReadRequest(table=table, columns=("id", "no_such_column"))))
