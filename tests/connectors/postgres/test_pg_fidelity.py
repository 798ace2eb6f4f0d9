"""More type fidelity: domains at any depth and inside arrays, arrays of every kind, session time
zones, and one stable schema across many tiny batches."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
from typing import Any

import pyarrow as pa
import pytest

from headwater.connectors import _pg_stream as pg_stream
from headwater.connectors import postgres as pg_module
from headwater.connectors._pg_types import INTERVAL_TYPE
from headwater.connectors.postgres import PostgresConnector
from headwater.domain import DeltaWindow, KeyRange, ReadRequest
from headwater.errors import TransientError

UTC = dt.UTC
D = decimal.Decimal


def read(connector: PostgresConnector, auth: Any, path: str, **kw: Any) -> tuple[pa.Table, int]:
    """All batches of a read, each checked against describe()'s schema; (table, batch count)."""
    schema = connector.describe(auth, path).arrow_schema
    if kw.get("columns"):
        schema = pa.schema([schema.field(c) for c in kw["columns"]])
    batches = list(connector.read(auth, ReadRequest(table=path, **kw)))
    for batch in batches:
        assert batch.schema == schema
    return pa.Table.from_batches(batches, schema=schema), len(batches)


def test_domains_at_any_depth_and_inside_arrays(schema: Any, connector: PostgresConnector, auth: Any) -> None:
    schema.execute("CREATE DOMAIN {s}.posint AS int CHECK (VALUE > 0)")
    schema.execute("CREATE DOMAIN {s}.small_posint AS {s}.posint CHECK (VALUE < 100)")
    schema.execute("CREATE DOMAIN {s}.money2 AS numeric(10,2)")
    schema.execute("CREATE DOMAIN {s}.tags AS text[]")
    schema.execute("CREATE DOMAIN {s}.stamp AS timestamptz")
    schema.execute("CREATE DOMAIN {s}.clock AS timetz")
    schema.execute(
        "CREATE TABLE {s}.t (id int, p {s}.posint[], sp {s}.small_posint, m {s}.money2[], tg {s}.tags,"
        " st {s}.stamp[], c {s}.clock[])"
    )
    schema.execute(
        "INSERT INTO {s}.t VALUES (1, '{1,NULL,3}', 5, '{12.5,NULL}', '{a,NULL}',"
        " '{\"2024-01-01 00:00:00+00\",infinity}', '{12:00:00+02}'), (2, NULL, NULL, NULL, NULL, NULL, NULL)"
    )
    described = {c.name: c.arrow_type for c in connector.describe(auth, schema.path("t")).columns}
    assert described == {
        "id": pa.int32(),
        "p": pa.list_(pa.int32()),
        "sp": pa.int32(),
        "m": pa.list_(pa.decimal128(10, 2)),
        "tg": pa.list_(pa.string()),
        "st": pa.list_(pa.timestamp("us", tz="UTC")),
        "c": pa.list_(pa.string()),
    }
    rows = read(connector, auth, schema.path("t"))[0].sort_by("id").to_pylist()
    assert rows[0] == {
        "id": 1,
        "p": [1, None, 3],
        "sp": 5,
        "m": [D("12.50"), None],
        "tg": ["a", None],
        "st": [dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)],
        "c": ["12:00:00+02"],
    }
    assert rows[1] == {"id": 2, "p": None, "sp": None, "m": None, "tg": None, "st": None, "c": None}


def test_arrays_of_every_kind(schema: Any, connector: PostgresConnector, auth: Any) -> None:
    schema.execute("CREATE TYPE {s}.mood AS ENUM ('sad', 'ok')")
    schema.execute(
        "CREATE TABLE {s}.t (id int, j json[], jb jsonb[], d date[], n numeric[], iv interval[], b bytea[],"
        " e {s}.mood[], inet_a inet[], f float8[], bo boolean[])"
    )
    schema.execute(
        """INSERT INTO {s}.t VALUES (1, ARRAY['{"b":1, "a":2}'::json, NULL], ARRAY['{"b":1, "a":2}'::jsonb, NULL],"""
        " '{2024-02-29,NULL,-infinity}', '{1.5,NULL,-0.000000001}', '{\"1 day 00:00:01\",NULL}',"
        " ARRAY['\\x00ff'::bytea, NULL], '{ok,NULL}', '{10.0.0.1,NULL}', '{NaN,-Infinity,NULL}', '{t,NULL}')"
    )
    got = read(connector, auth, schema.path("t"))[0].to_pylist()[0]
    assert got["j"] == ['{"b":1, "a":2}', None]  # json: the text as stored, key order and spacing kept
    assert got["jb"] == ['{"a": 2, "b": 1}', None]  # jsonb: the server's normalised text
    assert got["d"] == [dt.date(2024, 2, 29), None, dt.date(1, 1, 1)]
    assert got["n"] == [D("1.500000000"), None, D("-1E-9")]
    assert got["iv"] == [{"months": 0, "days": 1, "microseconds": 1_000_000}, None]
    assert got["b"] == [b"\x00\xff", None]
    assert got["e"] == ["ok", None]
    assert got["inet_a"] == ["10.0.0.1/32", None]
    assert got["f"][1:] == [float("-inf"), None] and got["f"][0] != got["f"][0]
    assert got["bo"] == [True, None]


def test_multi_dimensional_arrays_arrive_flattened(schema: Any, connector: PostgresConnector, auth: Any) -> None:
    # ADBC decodes an n-dimensional array as one list in row-major order (documented limitation).
    schema.execute("CREATE TABLE {s}.t (id int, m int[])")
    schema.execute("INSERT INTO {s}.t VALUES (1, '{{1,2},{3,NULL}}')")
    assert read(connector, auth, schema.path("t"))[0].column("m").to_pylist() == [[1, 2, 3, None]]


def test_timestamptz_is_utc_whatever_the_session_time_zones(
    schema: Any, connector: PostgresConnector, auth: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema.execute("CREATE TABLE {s}.t (id int, tz timestamptz, naive timestamp, r tstzrange)")
    with schema.conn.transaction():
        schema.conn.execute("SET LOCAL TimeZone = 'America/New_York'")
        schema.execute(
            "INSERT INTO {s}.t VALUES (1, '2024-07-01 12:00:00', '2024-07-01 12:00:00',"
            " '[2024-07-01 12:00:00, 2024-07-01 13:00:00)'), (2, '2024-01-01 00:00:00.000001', NULL, NULL)"
        )
    # The reader's sessions default to another zone (libpq reads PGTZ): values must not move.
    monkeypatch.setenv("PGTZ", "Asia/Kolkata")
    table, _ = read(connector, auth, schema.path("t"))
    rows = table.sort_by("id").to_pylist()
    assert rows[0]["tz"] == dt.datetime(2024, 7, 1, 16, 0, tzinfo=UTC)
    assert rows[0]["naive"] == dt.datetime(2024, 7, 1, 12, 0)
    assert rows[1]["tz"] == dt.datetime(2024, 1, 1, 5, 0, 0, 1, tzinfo=UTC)
    # Text-fallback types are rendered in UTC too, so a value reads the same from any server.
    assert rows[0]["r"] == '["2024-07-01 16:00:00+00","2024-07-01 17:00:00+00")'
    # A naive window bound on a timestamptz column means UTC, not the session's zone.
    window = DeltaWindow("tz", dt.datetime(2024, 7, 1, 15, 59), dt.datetime(2024, 7, 1, 16, 1))
    assert read(connector, auth, schema.path("t"), columns=("id",), window=window)[0].to_pylist() == [{"id": 1}]


def test_one_schema_across_many_tiny_batches(
    schema: Any, connector: PostgresConnector, auth: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema.execute("CREATE TYPE {s}.mood AS ENUM ('sad', 'ok')")
    schema.execute(
        "CREATE TABLE {s}.t (id int PRIMARY KEY, n numeric, d date, ts timestamptz, u uuid, j jsonb, a int[],"
        " e {s}.mood, iv interval, x inet, us uuid[])"
    )
    # The first 100 rows are all NULL; infinities, odd numerics and uuids only show up later.
    schema.execute(
        "INSERT INTO {s}.t (id) SELECT g FROM generate_series(1, 100) g;"
        " INSERT INTO {s}.t SELECT g, g / 8.0,"
        " CASE WHEN g % 50 = 0 THEN 'infinity'::date ELSE DATE '2024-01-01' + g END,"
        " CASE WHEN g % 40 = 0 THEN '-infinity'::timestamptz ELSE TIMESTAMPTZ '2024-01-01Z' + g * INTERVAL '1 s' END,"
        " md5(g::text)::uuid, jsonb_build_object('g', g), ARRAY[g, NULL], 'ok', g * INTERVAL '1 ms',"
        " '10.0.0.1', ARRAY[md5(g::text)::uuid, NULL] FROM generate_series(101, 300) g"
    )
    whole, one = read(connector, auth, schema.path("t"))
    assert one == 1
    monkeypatch.setattr(pg_stream, "BATCH_BYTES", 64)
    monkeypatch.setattr(pg_stream, "MIN_BATCH_BYTES", 64)
    pieces, many = read(connector, auth, schema.path("t"))
    assert many > 20
    assert pieces.sort_by("id").equals(whole.sort_by("id"))
    row = pieces.sort_by("id").to_pylist()[199]
    assert row["id"] == 200 and row["n"] == D("25.000000000") and row["d"] == dt.date(9999, 12, 31)
    assert row["ts"] == dt.datetime(1, 1, 1, tzinfo=UTC) and row["iv"] == {
        "months": 0,
        "days": 0,
        "microseconds": 200_000,
    }
    # Column selection and a window in tiny batches keep the selected schema too.
    part, _ = read(connector, auth, schema.path("t"), columns=("u", "id"), window=DeltaWindow("id", 290, None))
    assert part.num_rows == 11 and part.schema.names == ["u", "id"]


def test_parallel_read_without_statistics_returns_every_row_once(
    schema: Any,
    connector: PostgresConnector,
    auth: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Never analyzed (reltuples = -1): the key span stands in for the row count.
    schema.execute("CREATE TABLE {s}.big (id bigint PRIMARY KEY, v text)")
    schema.execute("INSERT INTO {s}.big SELECT g, g::text FROM generate_series(-5000, 24999) g")
    monkeypatch.setattr(pg_module, "MIN_ROWS_PER_PARTITION", 2000)
    caplog.set_level(logging.INFO, logger="headwater.connectors.postgres")
    table, _ = read(connector, auth, schema.path("big"), parallelism=3)
    assert "in 6 key-range partitions" in caplog.text
    ids = table.column("id").to_pylist()
    assert len(ids) == 30000 and sorted(ids) == list(range(-5000, 25000))
    # An explicit partition is read as given, not split again.
    one, _ = read(connector, auth, schema.path("big"), parallelism=3, partition=KeyRange("id", 0, 10))
    assert sorted(one.column("id").to_pylist()) == list(range(10))


def test_connection_killed_during_a_parallel_read_is_transient(
    schema: Any, connector: PostgresConnector, auth: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema.execute("CREATE TABLE {s}.wide (id int PRIMARY KEY, v text)")
    schema.execute("INSERT INTO {s}.wide SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 200000) g")
    monkeypatch.setattr(pg_module, "MIN_ROWS_PER_PARTITION", 10_000)
    monkeypatch.setattr(pg_stream, "BATCH_BYTES", 256 * 1024)
    stream = connector.read(auth, ReadRequest(table=schema.path("wide"), parallelism=2))
    next(stream)
    schema.conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = 'headwater' AND query LIKE %s AND pid <> pg_backend_pid()",
        (f"%{schema.name}%",),
    )
    with pytest.raises(TransientError) as info:
        for _ in stream:
            pass
    assert "127.0.0.1:5432" in info.value.message


def test_interval_type_is_lossless_struct(schema: Any, connector: PostgresConnector, auth: Any) -> None:
    schema.execute("CREATE TABLE {s}.t (v interval)")
    schema.execute("INSERT INTO {s}.t VALUES ('-178000000 years'), ('1 mon 1 day 00:00:00.000001')")
    got = read(connector, auth, schema.path("t"))[0].column("v")
    assert got.type == INTERVAL_TYPE
    assert got.to_pylist() == [
        {"months": -178000000 * 12, "days": 0, "microseconds": 0},
        {"months": 1, "days": 1, "microseconds": 1},
    ]


def test_uuid_text_of_sliced_arrays_with_nulls() -> None:
    import uuid

    from headwater.connectors._pg_types import convert

    values = [uuid.uuid4() for _ in range(50)]
    raw = pa.array([None if i % 7 == 0 else v.bytes for i, v in enumerate(values)], pa.binary(16))
    array = pa.ExtensionArray.from_storage(pa.uuid(), raw)
    for start, length in [(0, 50), (3, 20), (7, 1), (49, 1), (10, 0)]:
        got = convert(array.slice(start, length), pa.string(), column="u").to_pylist()
        want = [None if (start + i) % 7 == 0 else str(values[start + i]) for i in range(length)]
        assert got == want
