"""read(): Storage Read API streams, column selection, delta windows, and the REST fallback."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from decimal import Decimal

import pyarrow as pa
import pytest
from google.cloud import bigquery

from headwater.connectors._bq_auth import BqOAuth
from headwater.connectors._bq_clients import BqTimeouts
from headwater.connectors.bigquery import BigQueryConnector
from headwater.domain import DeltaWindow, KeyRange, ReadRequest
from headwater.errors import ConfigError
from headwater.settings import Settings
from tests.support.net import free_port

from .emulator import PROJECT


def read_table(connector: BigQueryConnector, auth: BqOAuth, request: ReadRequest) -> pa.Table:
    batches = list(connector.read(auth, request))
    expected = connector.describe(auth, request.table).arrow_schema
    if request.columns:
        expected = pa.schema([expected.field(c) for c in request.columns])
    for batch in batches:
        assert batch.schema == expected
    return pa.Table.from_batches(batches, schema=expected)


def test_read_all_columns_with_the_describe_schema(
    connector: BigQueryConnector, oauth: BqOAuth, mixed_table: str
) -> None:
    table = read_table(connector, oauth, ReadRequest(table=mixed_table))
    rows = sorted(table.to_pylist(), key=lambda r: r["id"])
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5]
    first = rows[0]
    assert first["amount"] == Decimal("1.125")
    assert first["updated_at"] == dt.datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=dt.UTC)
    assert first["local_at"] == dt.datetime(2024, 1, 1, 10, 0)
    assert first["day"] == dt.date(2024, 1, 1)
    assert first["clock"] == dt.time(12, 34, 56, 500000)
    assert first["blob"] == b"b1"
    assert first["tags"] == ["t1", "x"]
    assert first["address"] == {"city": "c1", "zips": [1, 2]}


def test_read_selected_columns_in_requested_order(
    connector: BigQueryConnector, oauth: BqOAuth, mixed_table: str
) -> None:
    table = read_table(connector, oauth, ReadRequest(table=mixed_table, columns=("name", "id")))
    assert table.column_names == ["name", "id"]
    assert sorted(table.column("id").to_pylist()) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("window", "ids"),
    [
        (DeltaWindow("day", "2024-01-02", "2024-01-04"), [2, 3]),
        (DeltaWindow("day", dt.date(2024, 1, 4)), [4, 5]),
        (DeltaWindow("updated_at", end=dt.datetime(2024, 1, 2, 10, 0, 0, 123456, tzinfo=dt.UTC)), [1]),
        (DeltaWindow("updated_at", "2024-01-05T10:00:00.123456+00:00"), [5]),
        (DeltaWindow("local_at", "2024-01-03T00:00:00", "2024-01-04T10:00:00"), [3]),
        (DeltaWindow("id", 2, 4), [2, 3]),
        (DeltaWindow("amount", "3.125"), [3, 4, 5]),
        # Quote handling: only "it's" sorts in ["it's", "j").
        (DeltaWindow("name", "it's", "j"), [3]),
        # An injection attempt stays one string literal: it matches nothing instead of everything.
        (DeltaWindow("name", "zzz' OR TRUE OR 'a"), []),
        (DeltaWindow("name", "a", "\\' OR TRUE OR '"), []),
        (DeltaWindow("name", "x' OR TRUE --"), []),
        (DeltaWindow("name", "n\u00e9\x00"), []),
    ],
)
def test_delta_window_is_half_open(
    connector: BigQueryConnector, oauth: BqOAuth, mixed_table: str, window: DeltaWindow, ids: list[int]
) -> None:
    table = read_table(connector, oauth, ReadRequest(table=mixed_table, columns=("id",), window=window))
    assert sorted(table.column("id").to_pylist()) == ids


def test_key_range_partition_restricts_rows(connector: BigQueryConnector, oauth: BqOAuth, mixed_table: str) -> None:
    request = ReadRequest(
        table=mixed_table, columns=("id",), window=DeltaWindow("id", 2), partition=KeyRange("id", None, 4)
    )
    assert sorted(read_table(connector, oauth, request).column("id").to_pylist()) == [2, 3]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (ReadRequest(table="X", columns=("id", "nope")), "no column"),
        (ReadRequest(table="X", window=DeltaWindow("nope", 1)), "not a column"),
        (ReadRequest(table="X", window=DeltaWindow("tags", "a")), "array"),
        (ReadRequest(table="X", window=DeltaWindow("id", "1 OR 1=1")), "not a valid INT64"),
        (ReadRequest(table="X", window=DeltaWindow("day", "yesterday")), "not a valid DATE"),
        (ReadRequest(table="X", window=DeltaWindow("blob", "a")), "cannot be used as a delta column"),
    ],
)
def test_invalid_requests_are_config_errors(
    connector: BigQueryConnector, oauth: BqOAuth, mixed_table: str, request_: ReadRequest, message: str
) -> None:
    request = ReadRequest(table=mixed_table, columns=request_.columns, window=request_.window)
    with pytest.raises(ConfigError, match=message):
        list(connector.read(oauth, request))


def test_missing_table_is_a_config_error(connector: BigQueryConnector, oauth: BqOAuth, dataset: str) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        list(connector.read(oauth, ReadRequest(table=f"{dataset}.ghost")))


def test_empty_table_yields_no_batches(
    connector: BigQueryConnector, oauth: BqOAuth, admin: bigquery.Client, dataset: str
) -> None:
    admin.create_table(bigquery.Table(f"{PROJECT}.{dataset}.empty", schema=[bigquery.SchemaField("id", "INT64")]))
    assert list(connector.read(oauth, ReadRequest(table=f"{dataset}.empty"))) == []


@pytest.fixture
def big_table(admin: bigquery.Client, dataset: str) -> str:
    admin.query(
        f"CREATE TABLE `{PROJECT}.{dataset}.big` AS "
        # The emulator, like BigQuery, serves a table under 1 MB as one stream: make it ~3 MB.
        "SELECT x AS id, REPEAT('x', 100) AS label FROM UNNEST(GENERATE_ARRAY(1, 30000)) AS x",
        timeout=30,
    ).result(timeout=30)
    return f"{dataset}.big"


def test_parallel_streams_read_every_row_once(connector: BigQueryConnector, oauth: BqOAuth, big_table: str) -> None:
    readers: set[str] = set()
    batches = []
    for batch in connector.read(oauth, ReadRequest(table=big_table, parallelism=4, batch_rows=4096)):
        readers |= {t.name for t in threading.enumerate() if t.name.startswith("bq-read-")}
        assert batch.num_rows <= 4096
        batches.append(batch)
    ids = pa.Table.from_batches(batches).column("id").to_pylist()
    assert sorted(ids) == list(range(1, 30001))
    assert len(readers) > 1, "expected several Storage Read streams in parallel"


def test_closing_the_reader_early_stops_stream_threads(
    connector: BigQueryConnector, oauth: BqOAuth, big_table: str
) -> None:
    reader = connector.read(oauth, ReadRequest(table=big_table, parallelism=4, batch_rows=100))
    next(reader)
    reader.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("bq-read-") and t.is_alive()]


def test_rest_fallback_when_read_api_is_unreachable(
    bq_settings: Settings, oauth: BqOAuth, mixed_table: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = bq_settings.model_copy(update={"bigquery_read_endpoint": f"http://127.0.0.1:{free_port()}"})
    fallback = BigQueryConnector(settings, timeouts=BqTimeouts(request=5.0, deadline=1.0))
    notices: list[str] = []
    request = ReadRequest(
        table=mixed_table,
        columns=("id", "name"),
        window=DeltaWindow("day", "2024-01-02", "2024-01-05"),
        notify=notices.append,
    )
    with caplog.at_level(logging.WARNING, logger="headwater.connectors.bigquery"):
        table = read_table(fallback, oauth, request)
    assert sorted(table.column("id").to_pylist()) == [2, 3, 4]
    assert table.column_names == ["id", "name"]
    warning = [r for r in caplog.records if r.name == "headwater.connectors.bigquery"]
    assert warning and "REST tabledata.list" in warning[0].getMessage()
    # The run that made this read shows the same sentence on its copy activity (runs/task.py).
    assert len(notices) == 1 and "REST tabledata.list" in notices[0] and mixed_table in notices[0]


def test_rest_fallback_gives_the_same_data_as_storage_read(
    connector: BigQueryConnector, bq_settings: Settings, oauth: BqOAuth, mixed_table: str
) -> None:
    settings = bq_settings.model_copy(update={"bigquery_read_endpoint": f"http://127.0.0.1:{free_port()}"})
    fallback = BigQueryConnector(settings, timeouts=BqTimeouts(request=5.0, deadline=1.0))
    via_rest = read_table(fallback, oauth, ReadRequest(table=mixed_table)).sort_by("id")
    via_storage = read_table(connector, oauth, ReadRequest(table=mixed_table)).sort_by("id")
    assert via_rest.equals(via_storage)


@pytest.fixture
def view(admin: bigquery.Client, mixed_table: str) -> str:
    dataset = mixed_table.split(".")[0]
    definition = bigquery.Table(f"{PROJECT}.{dataset}.people_v")
    definition.view_query = f"SELECT id, name, day, id * 10 AS score FROM `{PROJECT}.{mixed_table}` WHERE id > 1"
    admin.create_table(definition, timeout=10)
    return f"{dataset}.people_v"


def test_views_are_listed_described_previewed_and_read(
    connector: BigQueryConnector, oauth: BqOAuth, view: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert view in [item.path for item in connector.list_objects(oauth)]
    schema = connector.describe(oauth, view)
    assert [c.name for c in schema.columns] == ["id", "name", "day", "score"]
    assert schema.column("day") is not None and schema.column("day").arrow_type == pa.date32()  # type: ignore[union-attr]
    assert sorted(r["id"] for r in connector.preview(oauth, view).rows) == [2, 3, 4, 5]
    request = ReadRequest(table=view, columns=("score", "id"), window=DeltaWindow("day", "2024-01-03", "2024-01-05"))
    with caplog.at_level(logging.WARNING, logger="headwater.connectors.bigquery"):
        table = read_table(connector, oauth, request)
    assert sorted(table.column("score").to_pylist()) == [30, 40]
    # bqemulator cannot open a query's anonymous result with the Read API: the fallback says so.
    assert any("result of view" in r.getMessage() for r in caplog.records)
