"""Readers join consecutive chunks into one transaction while their pace allows, and never lose a row or a
chunk's completion doing so (connectors/_pg_chunk_queue.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from headwater.connectors._pg_chunk_queue import MAX_JOIN, ChunkQueue, adjacent, joined, keys_of
from headwater.connectors._pg_chunks import key_chunks, page_chunks
from headwater.connectors.postgres import PostgresConnector
from headwater.domain import ReadRequest

KEYS = key_chunks("id", [100, 200, 300, 400, 500, 600, 700])  # 8 chunks: open, 100..200, …, 700..open


def test_the_first_read_is_one_chunk_and_later_ones_join_what_fits() -> None:
    todo = ChunkQueue(KEYS, workers=1, join_seconds=3.5)
    first = todo.take(None)
    assert first is not None and keys_of(first) == ["k000000"]
    second = todo.take(1.0)  # 1 s a chunk: 3 fit in 3.5 s
    assert second is not None and keys_of(second) == ["k000001", "k000002", "k000003"]
    assert second["lower"] == 100 and second["upper"] == 400
    rest = todo.take(0.001)  # fast: everything left (4 chunks), and the last range stays open
    assert rest is not None and keys_of(rest) == ["k000004", "k000005", "k000006", "k000007"]
    assert rest["lower"] == 400 and rest["upper"] is None
    assert todo.take(0.001) is None


def test_no_joins_without_a_budget_or_when_slow() -> None:
    todo = ChunkQueue(KEYS, workers=1, join_seconds=0.0)
    assert [keys_of(c) for c in iter(lambda: todo.take(0.001), None)] == [[c["key"]] for c in KEYS]
    slow = ChunkQueue(KEYS, workers=1, join_seconds=5.0)
    assert all(len(keys_of(c)) == 1 for c in iter(lambda: slow.take(6.0), None))


def test_a_join_leaves_every_reader_a_share_and_stops_at_a_gap() -> None:
    todo = ChunkQueue(KEYS, workers=2, join_seconds=100.0)
    taken = todo.take(0.001)
    assert taken is not None and len(keys_of(taken)) == 4  # half of the 8 left, not all of them
    # A resumed run's pending chunks have gaps where earlier attempts staged some: never joined across.
    pending = [KEYS[0], KEYS[1], KEYS[3], KEYS[4]]
    resumed = ChunkQueue(pending, workers=1, join_seconds=100.0)
    assert keys_of(resumed.take(0.001) or {}) == ["k000000", "k000001"]
    assert keys_of(resumed.take(0.001) or {}) == ["k000003", "k000004"]


def test_joins_are_capped() -> None:
    many = key_chunks("id", list(range(1, 100)))
    todo = ChunkQueue(many, workers=1, join_seconds=1e9)
    todo.take(None)
    assert len(keys_of(todo.take(1e-9) or {})) == MAX_JOIN


def test_page_ranges_join_like_key_ranges() -> None:
    pages = page_chunks([10, 20, 30])
    assert adjacent(pages[0], pages[1]) and not adjacent(pages[1], pages[3])
    assert joined(pages[1:3])["pages"] == [10, 30] and joined(pages[2:])["pages"] == [20, None]
    assert not adjacent(KEYS[0], pages[1])


class CountsReads(PostgresConnector):
    """The production connector, counting the chunk reads (transactions) it makes."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[list[str]] = []

    def read(self, auth: Any, request: Any) -> Iterator[pa.RecordBatch]:
        if "chunk" in request.options:
            self.reads.append(keys_of(request.options["chunk"]))
        yield from super().read(auth, request)


@pytest.mark.parametrize("key", ["bigint PRIMARY KEY", "text"])  # key ranges, CTID ranges
@pytest.mark.parametrize("parallelism", [1, 2])
def test_joined_reads_give_every_row_once_and_finish_every_chunk(
    auth: Any, schema: Any, key: str, parallelism: int
) -> None:
    schema.execute(f"CREATE TABLE {{s}}.t (id {key}, v text)")
    schema.execute("INSERT INTO {s}.t SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g")
    schema.execute("ANALYZE {s}.t")
    connector = CountsReads()
    request = ReadRequest(table=schema.path("t"), parallelism=parallelism)
    plan = connector.plan_chunks(auth, request, chunk_rows=1000)
    assert plan is not None and len(plan.chunks) >= 10
    seen: Counter[Any] = Counter()
    finished: list[str] = []
    for chunk_key, batch in connector.read_chunks(auth, request, plan.chunks, join_seconds=60.0):
        if batch is None:
            finished.append(chunk_key)
        else:
            assert chunk_key not in finished
            seen.update(batch.column(0).to_pylist())
    assert sorted(finished) == sorted(c["key"] for c in plan.chunks)
    assert len(seen) == 20000 and max(seen.values()) == 1
    assert sorted(k for read in connector.reads for k in read) == sorted(finished)
    assert len(connector.reads) < len(plan.chunks), connector.reads  # joined: fewer transactions than chunks
    assert len(connector.reads[0]) == 1  # a reader's first read is one chunk: it learns the pace
