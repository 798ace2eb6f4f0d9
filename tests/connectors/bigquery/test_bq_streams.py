"""storage_read() with a fake Storage Read client: bounded hand-off, errors, early close, offsets.

A fake client here, because these cases need what a real server cannot be made to do on demand
(a DeadlineExceeded after exactly n batches); test_bq_resume.py breaks real connections.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest
from google.api_core import exceptions as gexc

from headwater.connectors._bq_clients import BqTimeouts
from headwater.connectors._bq_read import SessionLost, SessionProgress, storage_read, stream_count
from headwater.settings import Settings

SCHEMA = pa.schema([pa.field("id", pa.int64())])


class FakeReadClient:
    """Serves `streams` streams of `batches` one-row batches each, counting what was produced."""

    def __init__(
        self, streams: int, batches: int, fail_stream: int | None = None, break_with: Exception | None = None
    ) -> None:
        self.streams, self.batches, self.fail_stream = streams, batches, fail_stream
        self.break_with = break_with  # raised once by the failing stream, after two batches
        self.broke = False
        self.produced = 0
        self.offsets: list[tuple[int, int]] = []  # (stream, offset) of every ReadRows call
        self.lock = threading.Lock()

    def create_read_session(self, **_: Any) -> Any:
        return SimpleNamespace(
            name="projects/p/locations/us/sessions/s",
            expire_time=None,
            streams=[SimpleNamespace(name=f"s{i}") for i in range(self.streams)],
            arrow_schema=SimpleNamespace(serialized_schema=SCHEMA.serialize().to_pybytes()),
        )

    def read_rows(self, name: str, offset: int = 0, **_: Any) -> Iterator[Any]:
        index = int(name[1:])
        self.offsets.append((index, offset))
        for n in range(offset, self.batches):
            if index == self.fail_stream and n == 2 and not self.broke:
                if self.break_with is None:
                    raise RuntimeError("stream broke")
                self.broke = True
                raise self.break_with
            with self.lock:
                self.produced += 1
            batch = pa.record_batch([pa.array([index * 1000 + n])], schema=SCHEMA)
            yield SimpleNamespace(
                arrow_record_batch=SimpleNamespace(serialized_record_batch=batch.serialize().to_pybytes())
            )


def read(client: FakeReadClient, progress: list[SessionProgress] | None = None) -> Iterator[pa.RecordBatch]:
    return storage_read(
        client,  # type: ignore[arg-type]
        table="projects/p/datasets/d/tables/t",
        parent="projects/p",
        columns=["id"],
        restriction="",
        streams=client.streams,
        readers=client.streams,
        conform=lambda b: b,
        batch_rows=1000,
        timeouts=BqTimeouts(request=5.0, deadline=5.0),
        progress=progress.append if progress is not None else None,
    )


def test_every_batch_of_every_stream_arrives_once() -> None:
    client = FakeReadClient(streams=3, batches=50)
    ids = sorted(v for b in read(client) for v in b.column(0).to_pylist())
    assert ids == sorted(s * 1000 + n for s in range(3) for n in range(50))


def test_readers_stay_a_bounded_distance_ahead_of_a_slow_consumer() -> None:
    client = FakeReadClient(streams=4, batches=200)
    consumed = 0
    ahead = 0
    for _ in read(client):
        consumed += 1
        time.sleep(0.001)
        ahead = max(ahead, client.produced - consumed)
    # The queue holds 2 batches per stream, plus one in flight per reader.
    assert ahead <= 2 * 4 + 4 + 1
    assert consumed == 800


def test_a_failing_stream_fails_the_read() -> None:
    with pytest.raises(RuntimeError, match="stream broke"):
        list(read(FakeReadClient(streams=3, batches=50, fail_stream=1)))
    assert not [t for t in threading.enumerate() if t.name.startswith("bq-read-") and t.is_alive()]


def test_closing_early_stops_readers() -> None:
    client = FakeReadClient(streams=4, batches=10_000)
    reader = read(client)
    next(reader)
    reader.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("bq-read-") and t.is_alive()]
    assert client.produced < 100


def test_a_broken_stream_is_reopened_at_its_offset_and_every_row_arrives_once() -> None:
    client = FakeReadClient(streams=3, batches=20, fail_stream=1, break_with=gexc.DeadlineExceeded("slow"))
    progress: list[SessionProgress] = []
    ids = sorted(v for b in read(client, progress) for v in b.column(0).to_pylist())
    assert ids == sorted(s * 1000 + n for s in range(3) for n in range(20))
    assert (1, 2) in client.offsets  # reopened after its two delivered rows, not from 0
    (state,) = progress
    assert [(c.offset, c.done) for c in state.streams] == [(20, True)] * 3


def test_a_lost_session_is_not_resumed_by_offset() -> None:
    client = FakeReadClient(streams=2, batches=20, fail_stream=0, break_with=gexc.NotFound("Stream not found"))
    with pytest.raises(SessionLost, match="from the start with a new session"):
        list(read(client))
    assert [o for o in client.offsets if o[0] == 0] == [(0, 0)]


def test_the_stream_count_follows_the_table_size_within_bounds() -> None:
    settings = Settings(bigquery_stream_rows=1000, bigquery_stream_bytes=10_000, bigquery_max_streams=8)

    def count(rows: int | None, nbytes: int | None, readers: int = 2) -> int:
        return stream_count(settings, rows=rows, nbytes=nbytes, readers=readers)

    assert count(None, None) == 2  # unknown size: one per reader
    assert count(10, 100, readers=1) == 1
    assert count(10, 100) == 2  # never fewer than the readers
    assert count(3001, 100) == 4  # rows decide
    assert count(10, 30_001) == 4  # bytes decide (wide rows)
    assert count(10**9, None) == 8  # at most the maximum
