"""storage_read() with a fake Storage Read client: bounded hand-off, errors, early close."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest

from headwater.connectors._bq_clients import BqTimeouts
from headwater.connectors._bq_read import storage_read

SCHEMA = pa.schema([pa.field("id", pa.int64())])


class FakeReadClient:
    """Serves `streams` streams of `batches` one-row batches each, counting what was produced."""

    def __init__(self, streams: int, batches: int, fail_stream: int | None = None) -> None:
        self.streams, self.batches, self.fail_stream = streams, batches, fail_stream
        self.produced = 0
        self.lock = threading.Lock()

    def create_read_session(self, **_: Any) -> Any:
        return SimpleNamespace(
            streams=[SimpleNamespace(name=f"s{i}") for i in range(self.streams)],
            arrow_schema=SimpleNamespace(serialized_schema=SCHEMA.serialize().to_pybytes()),
        )

    def read_rows(self, name: str, **_: Any) -> Iterator[Any]:
        index = int(name[1:])
        for n in range(self.batches):
            if index == self.fail_stream and n == 2:
                raise RuntimeError("stream broke")
            with self.lock:
                self.produced += 1
            batch = pa.record_batch([pa.array([index * 1000 + n])], schema=SCHEMA)
            yield SimpleNamespace(
                arrow_record_batch=SimpleNamespace(serialized_record_batch=batch.serialize().to_pybytes())
            )


def read(client: FakeReadClient) -> Iterator[pa.RecordBatch]:
    return storage_read(
        client,  # type: ignore[arg-type]
        table="projects/p/datasets/d/tables/t",
        parent="projects/p",
        columns=["id"],
        restriction="",
        streams=client.streams,
        conform=lambda b: b,
        batch_rows=1000,
        timeouts=BqTimeouts(request=5.0, deadline=5.0),
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
