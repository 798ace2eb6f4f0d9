"""Chunk planning of full reads: integer-key ranges sized from the key's distribution, CTID page ranges for
every other table, and reading any set of chunks gives each row exactly once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import psycopg
import pytest

from headwater.connectors._chunked import ChunkPlan
from headwater.connectors._pg_chunks import CTID_RANGES, KEY_RANGES, split_keys, split_pages
from headwater.connectors.postgres import PostgresConnector
from headwater.domain import DeltaWindow, ReadRequest
from headwater.domain.fence import XidFence


def test_key_boundaries_follow_the_target_size() -> None:
    assert split_keys(1, 1_000_000, rows=1_000_000, chunk_rows=250_000) == [250_001, 500_001, 750_001]
    assert split_keys(1, 1_000_000, rows=1_000_000, chunk_rows=2_000_000) == []  # one chunk


def test_negative_keys_split_like_positive_ones() -> None:
    assert split_keys(-1000, -1, rows=1000, chunk_rows=250) == [-750, -500, -250]
    assert split_keys(-500, 499, rows=1000, chunk_rows=500) == [0]


def test_never_more_chunks_than_keys() -> None:
    assert split_keys(7, 9, rows=1_000_000, chunk_rows=1) == [8, 9]
    assert split_keys(5, 5, rows=10, chunk_rows=1) == []


def test_a_histogram_puts_boundaries_where_the_rows_are() -> None:
    # 1,000 keys in 1..1000, then 1,000 keys in 10^12..10^12+999: a span split would put every
    # boundary in the gap. ANALYZE's equi-depth bounds say half the rows lie on each side of it.
    far = 10**12
    histogram = [1, 250, 500, 750, 1000, far + 250, far + 500, far + 750, far + 999]
    bounds = split_keys(1, far + 999, rows=2000, chunk_rows=500, histogram=histogram)
    assert bounds == [500, 1000, far + 500]
    assert split_keys(1, far + 999, rows=2000, chunk_rows=500) == [250_000_000_250, 500_000_000_500, 750_000_000_750]


def test_page_boundaries() -> None:
    assert split_pages(1000, rows=100_000, chunk_rows=25_000) == [250, 500, 750]
    assert split_pages(3, rows=1_000_000, chunk_rows=10) == [1, 2]  # at least a page per chunk
    assert split_pages(0, rows=0, chunk_rows=10) == []


def _plan(connector: PostgresConnector, auth: Any, path: str, chunk_rows: int, **kw: Any) -> ChunkPlan:
    plan = connector.plan_chunks(auth, ReadRequest(table=path, **kw), chunk_rows=chunk_rows)
    assert plan is not None
    return plan


def _read_all(connector: PostgresConnector, auth: Any, path: str, plan: ChunkPlan, **kw: Any) -> Counter[Any]:
    """Every chunk, checking each is announced complete once, after its rows."""
    seen: Counter[Any] = Counter()
    finished: list[str] = []
    for key, batch in connector.read_chunks(auth, ReadRequest(table=path, parallelism=2, **kw), plan.chunks):
        if batch is None:
            finished.append(key)
            continue
        assert key not in finished
        seen.update(batch.column(0).to_pylist())
    assert sorted(finished) == sorted(c["key"] for c in plan.chunks)
    return seen


def test_integer_key_with_gaps_and_negatives(connector: PostgresConnector, auth: Any, schema: Any) -> None:
    schema.execute("CREATE TABLE {s}.t (id bigint PRIMARY KEY, v text)")
    schema.execute("INSERT INTO {s}.t SELECT g, 'a' FROM generate_series(-5000, -1) g")
    schema.execute("INSERT INTO {s}.t SELECT g * 1000, 'b' FROM generate_series(1, 5000) g")
    schema.execute("ANALYZE {s}.t")
    plan = _plan(connector, auth, schema.path("t"), 1000)
    assert plan.path == KEY_RANGES and 8 <= len(plan.chunks) <= 12, plan
    assert plan.chunks[0]["lower"] is None and plan.chunks[-1]["upper"] is None  # open ends
    counts = _read_all(connector, auth, schema.path("t"), plan)
    assert set(counts.values()) == {1} and len(counts) == 10_000


def test_a_never_analyzed_table_is_sized_from_its_pages(connector: PostgresConnector, auth: Any, schema: Any) -> None:
    schema.execute("CREATE TABLE {s}.t (id int PRIMARY KEY, v text)")
    schema.execute("ALTER TABLE {s}.t SET (autovacuum_enabled = off)")
    schema.execute("INSERT INTO {s}.t SELECT g * 7, repeat('x', 50) FROM generate_series(1, 20000) g")
    plan = _plan(connector, auth, schema.path("t"), 5000)
    assert plan.path == KEY_RANGES and 3 <= len(plan.chunks) <= 6, plan  # not 28 (span / 5000)
    assert sum(_read_all(connector, auth, schema.path("t"), plan).values()) == 20000


def test_an_empty_table_is_one_open_chunk(connector: PostgresConnector, auth: Any, schema: Any) -> None:
    schema.execute("CREATE TABLE {s}.t (id int PRIMARY KEY)")
    plan = _plan(connector, auth, schema.path("t"), 10)
    assert plan.path == KEY_RANGES and [(c["lower"], c["upper"]) for c in plan.chunks] == [(None, None)]
    schema.execute("INSERT INTO {s}.t VALUES (1), (2)")  # rows arriving after planning are read
    assert sum(_read_all(connector, auth, schema.path("t"), plan).values()) == 2


@pytest.mark.parametrize(
    ("ddl", "key"),
    [
        ("CREATE TABLE {s}.t (id int, v text)", "g"),  # no key
        ("CREATE TABLE {s}.t (id int, v text, PRIMARY KEY (id, v))", "g"),  # composite key
        ("CREATE TABLE {s}.t (id text PRIMARY KEY, v text)", "g::text"),  # a key, not an integer
    ],
)
def test_other_tables_split_on_heap_pages(
    connector: PostgresConnector, auth: Any, schema: Any, ddl: str, key: str
) -> None:
    schema.execute(ddl)
    schema.execute(f"INSERT INTO {{s}}.t SELECT {key}, md5(g::text) FROM generate_series(1, 30000) g")
    schema.execute("ANALYZE {s}.t")
    plan = _plan(connector, auth, schema.path("t"), 5000)
    assert plan.path == CTID_RANGES and 5 <= len(plan.chunks) <= 7, plan
    assert plan.chunks[-1]["pages"][1] is None  # pages added meanwhile belong to the last chunk
    counts = _read_all(connector, auth, schema.path("t"), plan)
    assert set(counts.values()) == {1} and len(counts) == 30000


def test_ctid_chunks_are_tid_range_scans(connector: PostgresConnector, auth: Any, schema: Any) -> None:
    schema.execute("CREATE TABLE {s}.t (v text)")
    schema.execute("INSERT INTO {s}.t SELECT g::text FROM generate_series(1, 20000) g")
    schema.execute("ANALYZE {s}.t")
    plan = _plan(connector, auth, schema.path("t"), 5000)
    from headwater.connectors._pg_chunks import chunk_condition

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres") as conn:
        where = chunk_condition(plan.chunks[1])
        assert where is not None
        query = psycopg.sql.SQL("EXPLAIN SELECT * FROM {} WHERE {}").format(
            psycopg.sql.Identifier(schema.name, "t"), where
        )
        explain = "\n".join(r[0] for r in conn.execute(query).fetchall())
    assert "Tid Range Scan" in explain, explain


def test_views_are_read_whole_with_a_notice(connector: PostgresConnector, auth: Any, schema: Any) -> None:
    schema.execute("CREATE TABLE {s}.t (id int PRIMARY KEY)")
    schema.execute("INSERT INTO {s}.t SELECT generate_series(1, 100)")
    schema.execute("CREATE VIEW {s}.v AS SELECT * FROM {s}.t")
    plan = _plan(connector, auth, schema.path("v"), 10)
    assert plan.path == "single" and len(plan.chunks) == 1
    assert "view" in plan.notices[0]
    assert sum(_read_all(connector, auth, schema.path("v"), plan).values()) == 100


def test_what_is_not_chunked(connector: PostgresConnector, auth: Any, schema: Any) -> None:
    schema.execute("CREATE TABLE {s}.t (id int PRIMARY KEY, ts timestamptz)")
    path = schema.path("t")
    assert connector.plan_chunks(auth, ReadRequest(table=path), chunk_rows=0) is None
    bounded = DeltaWindow("id", 10, None)  # an index range scan beats any split
    assert connector.plan_chunks(auth, ReadRequest(table=path, window=bounded), chunk_rows=10) is None
    fenced = DeltaWindow("id", None, None, fence=XidFence())  # its snapshot is taken by the read itself
    assert connector.plan_chunks(auth, ReadRequest(table=path, window=fenced), chunk_rows=10) is None
    later = DeltaWindow("id", None, None, fence=XidFence(before=900, after=800))  # a fenced run after the backfill
    assert connector.plan_chunks(auth, ReadRequest(table=path, window=later), chunk_rows=10) is None
    fenced_backfill = DeltaWindow("id", None, None, nulls=True, fence=XidFence(before=900))  # below a fence taken first
    assert connector.plan_chunks(auth, ReadRequest(table=path, window=fenced_backfill), chunk_rows=10) is not None
    backfill = DeltaWindow("id", None, 100, nulls=True)  # a value window's first run
    assert connector.plan_chunks(auth, ReadRequest(table=path, window=backfill), chunk_rows=10) is not None


def test_a_readers_connection_holds_no_transaction_between_chunks(
    connector: PostgresConnector, auth: Any, schema: Any
) -> None:
    """A reader keeps its connection for the chunks it takes; each chunk's query is its own transaction."""
    import pyarrow as pa

    from headwater.connectors._pg_stream import chunk_connection

    schema.execute("CREATE TABLE {s}.t (id int PRIMARY KEY)")
    schema.execute("INSERT INTO {s}.t SELECT generate_series(1, 100)")
    query = f'SELECT id FROM "{schema.name}".t WHERE id > 50'
    ids = pa.schema([pa.field("id", pa.int32())])
    with (
        chunk_connection(connector._target(auth)) as connection,
        psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as monitor,
    ):

        def reader_sessions() -> list[tuple[Any, ...]]:
            return monitor.execute(
                "SELECT state, xact_start, backend_xmin FROM pg_stat_activity"
                " WHERE application_name = 'headwater' AND pid <> pg_backend_pid() AND datname = 'postgres'"
                " AND query LIKE %s",
                (f"%{schema.name}%",),
            ).fetchall()

        for _ in range(2):
            rows = sum(b.num_rows for b in connection.stream(query, ids))
            assert rows == 50 and connection.idle
            assert reader_sessions() == [("idle", None, None)]  # the same session, no transaction open
