"""read(): column selection, half-open delta windows, key ranges, parallel partitions, failures."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
import time
from typing import Any

import pyarrow as pa
import pytest

from headwater.connectors.postgres import PostgresConnector
from headwater.domain import DeltaWindow, KeyRange, ReadRequest
from headwater.errors import ConfigError, TransientError
from tests.support.net import wait_for

UTC = dt.UTC


def rows(connector: PostgresConnector, auth: Any, request: ReadRequest) -> list[dict[str, Any]]:
    expected = connector.describe(auth, request.table).arrow_schema
    if request.columns is not None:
        expected = pa.schema([expected.field(c) for c in request.columns])
    out: list[dict[str, Any]] = []
    for batch in connector.read(auth, request):
        assert batch.schema == expected
        out.extend(batch.to_pylist())
    return out


@pytest.fixture
def events(schema: Any) -> str:
    schema.execute("CREATE TABLE {s}.events (id bigint PRIMARY KEY, at timestamptz NOT NULL, kind text, payload jsonb)")
    schema.execute(
        "INSERT INTO {s}.events SELECT g, TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * INTERVAL '1 hour',"
        " CASE WHEN g % 3 = 0 THEN NULL ELSE 'k' || g END, jsonb_build_object('g', g) FROM generate_series(1, 100) g"
    )
    return str(schema.path("events"))


def test_column_selection_keeps_request_order(connector: PostgresConnector, auth: Any, events: str) -> None:
    got = rows(connector, auth, ReadRequest(table=events, columns=("kind", "id")))
    assert got[:3] == [{"kind": "k1", "id": 1}, {"kind": "k2", "id": 2}, {"kind": None, "id": 3}]
    assert len(got) == 100


def test_half_open_windows_chain_without_gaps_or_overlaps(connector: PostgresConnector, auth: Any, events: str) -> None:
    t0 = dt.datetime(2024, 1, 1, tzinfo=UTC)
    cuts = [None, t0 + dt.timedelta(hours=10), t0 + dt.timedelta(hours=10), t0 + dt.timedelta(hours=55), None]
    seen: list[int] = []
    for start, end in itertools.pairwise(cuts):
        window = DeltaWindow(column="at", start=start, end=end)
        seen += [r["id"] for r in rows(connector, auth, ReadRequest(table=events, columns=("id",), window=window))]
    assert sorted(seen) == list(range(1, 101))
    window = DeltaWindow(column="at", start=t0 + dt.timedelta(hours=10), end=t0 + dt.timedelta(hours=12))
    assert [r["id"] for r in rows(connector, auth, ReadRequest(table=events, window=window))] == [10, 11]


def test_window_on_an_integer_and_an_empty_window(connector: PostgresConnector, auth: Any, events: str) -> None:
    window = DeltaWindow(column="id", start=98)
    assert [r["id"] for r in rows(connector, auth, ReadRequest(table=events, window=window))] == [98, 99, 100]
    assert rows(connector, auth, ReadRequest(table=events, window=DeltaWindow(column="id", start=1000))) == []


def test_key_range_partition(connector: PostgresConnector, auth: Any, events: str) -> None:
    part = KeyRange(column="id", lower=20, upper=25)
    assert [r["id"] for r in rows(connector, auth, ReadRequest(table=events, partition=part))] == [20, 21, 22, 23, 24]
    both = ReadRequest(table=events, partition=KeyRange("id", 20, None), window=DeltaWindow("id", None, 22))
    assert [r["id"] for r in rows(connector, auth, both)] == [20, 21]


def test_missing_table_and_columns_are_config_errors(
    connector: PostgresConnector, auth: Any, events: str, schema: Any
) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        list(connector.read(auth, ReadRequest(table=schema.path("nope"))))
    with pytest.raises(ConfigError, match="'nope' is not in table"):
        list(connector.read(auth, ReadRequest(table=events, columns=("id", "nope"))))
    with pytest.raises(ConfigError, match="'updated_at'"):
        list(connector.read(auth, ReadRequest(table=events, window=DeltaWindow("updated_at", start=1))))
    with pytest.raises(ConfigError, match="'k'"):
        list(connector.read(auth, ReadRequest(table=events, partition=KeyRange("k", 1, 2))))


def test_parallel_read_equals_serial_read(
    connector: PostgresConnector, auth: Any, schema: Any, caplog: pytest.LogCaptureFixture
) -> None:
    schema.execute("CREATE TABLE {s}.big (id int PRIMARY KEY, v text, n numeric(12,3))")
    schema.execute("INSERT INTO {s}.big SELECT g, md5(g::text), g / 7.0 FROM generate_series(1, 60000) g")
    schema.execute("ANALYZE {s}.big")
    path = schema.path("big")
    serial = rows(connector, auth, ReadRequest(table=path))
    caplog.set_level(logging.INFO, logger="headwater.connectors.postgres")
    request = ReadRequest(table=path, parallelism=3, options={"min_partition_rows": 10_000})
    parallel = rows(connector, auth, request)
    assert "key-range partitions" in caplog.text
    assert sorted(parallel, key=lambda r: r["id"]) == serial
    assert len({r["id"] for r in parallel}) == 60000
    # A delta window applies inside every partition.
    windowed = ReadRequest(
        table=path, parallelism=3, window=DeltaWindow("id", 100, 50100), options={"min_partition_rows": 10_000}
    )
    assert sorted(r["id"] for r in rows(connector, auth, windowed)) == list(range(100, 50100))


def test_small_tables_and_tables_without_integer_key_are_read_in_one_piece(
    connector: PostgresConnector, auth: Any, schema: Any, caplog: pytest.LogCaptureFixture
) -> None:
    schema.execute("CREATE TABLE {s}.nokey (v text)")
    schema.execute("INSERT INTO {s}.nokey SELECT g::text FROM generate_series(1, 30000) g")
    schema.execute("ANALYZE {s}.nokey")
    caplog.set_level(logging.INFO, logger="headwater.connectors.postgres")
    request = ReadRequest(table=schema.path("nokey"), parallelism=4, options={"min_partition_rows": 1000})
    assert len(rows(connector, auth, request)) == 30000
    assert "partitions" not in caplog.text


def test_stopping_early_closes_the_parallel_readers(connector: PostgresConnector, auth: Any, schema: Any) -> None:
    schema.execute("CREATE TABLE {s}.big (id int PRIMARY KEY, v text)")
    schema.execute("INSERT INTO {s}.big SELECT g, repeat('x', 200) FROM generate_series(1, 200000) g")
    schema.execute("ANALYZE {s}.big")
    request = ReadRequest(table=schema.path("big"), parallelism=2, options={"min_partition_rows": 10_000})
    stream = connector.read(auth, request)
    next(stream)
    stream.close()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    # Only this read's own threads count: other tests may leave unrelated threads behind.
    while any(t.name.startswith("pg-read-") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "reader threads still alive"
        time.sleep(0.05)


def test_batches_are_bounded_not_the_whole_table(connector: PostgresConnector, auth: Any, schema: Any) -> None:
    schema.execute("CREATE TABLE {s}.wide (id int, v text)")
    schema.execute("INSERT INTO {s}.wide SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 100000) g")
    batches = list(connector.read(auth, ReadRequest(table=schema.path("wide"))))
    assert len(batches) >= 3  # ~70 MB of text in batches of about 16 MiB
    assert max(b.nbytes for b in batches) < 64 * 1024 * 1024


def test_connection_lost_mid_read_is_transient(connector: PostgresConnector, auth: Any, schema: Any) -> None:
    schema.execute("CREATE TABLE {s}.wide (id int, v text)")
    schema.execute("INSERT INTO {s}.wide SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 200000) g")
    stream = connector.read(auth, ReadRequest(table=schema.path("wide")))
    next(stream)
    schema.conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = 'headwater' AND query LIKE %s AND pid <> pg_backend_pid()",
        (f"%{schema.name}%",),
    )
    with pytest.raises(TransientError) as info:
        for _ in stream:
            pass
    assert "lost" in info.value.message or "terminat" in info.value.message


def test_no_connections_are_left_behind(connector: PostgresConnector, auth: Any, events: str, schema: Any) -> None:
    def open_count() -> int:
        query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'headwater'"
        got = schema.conn.execute(query).fetchone()
        return int(got[0]) if got else 0

    before = open_count()
    rows(connector, auth, ReadRequest(table=events))
    connector.preview(auth, events)
    connector.check(auth)
    # A backend leaves pg_stat_activity a moment after its client closed it; a leaked connection stays.
    wait_for("the connector's backends to end", lambda: open_count() == before, timeout=10)
    assert open_count() == before
