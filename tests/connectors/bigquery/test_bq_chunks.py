"""A read session's streams as chunks: a reader that dies after some streams is followed by another
that reads only the rest, from the same session; a chunk of a lost or expired session is refused."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pyarrow as pa
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from headwater.connectors._bq_chunks import plan_of, read_planned
from headwater.connectors._bq_clients import read_client
from headwater.connectors._bq_read import SessionLost, open_session
from headwater.connectors._chunked import ChunkItem, ChunkPlan
from headwater.settings import Settings
from tests.connectors.bigquery.emulator import PROJECT, TIMEOUTS
from tests.connectors.bigquery.test_bq_resume import ROWS, create_events


def plan(settings: Settings, admin: bigquery.Client, dataset: str) -> ChunkPlan:
    create_events(admin, dataset)
    client = read_client(settings, AnonymousCredentials())  # type: ignore[no-untyped-call]
    try:
        state = open_session(
            client,
            table=f"projects/{PROJECT}/datasets/{dataset}/tables/events",
            parent=f"projects/{PROJECT}",
            columns=["id"],
            restriction="",
            streams=4,
            timeouts=TIMEOUTS,
        )
    finally:
        client.transport.close()  # type: ignore[no-untyped-call]
    assert state is not None
    return plan_of(state)


def read(settings: Settings, chunks: tuple[dict[str, object], ...], readers: int = 2) -> Iterator[ChunkItem]:
    client = read_client(settings, AnonymousCredentials())  # type: ignore[no-untyped-call]
    try:
        yield from read_planned(
            client, chunks, readers=readers, conform=lambda b: b, batch_rows=65_536, timeouts=TIMEOUTS
        )
    finally:
        client.transport.close()  # type: ignore[no-untyped-call]


def ids(batch: pa.RecordBatch) -> list[int]:
    return [int(v) for v in batch.column(0).to_pylist()]


def test_a_second_reader_reads_only_the_streams_the_first_did_not_finish(
    bq_settings: Settings, admin: bigquery.Client, dataset: str
) -> None:
    chunks = plan(bq_settings, admin, dataset).chunks
    assert len(chunks) == 4 and [c["key"] for c in chunks] == ["s0", "s1", "s2", "s3"]
    finished: dict[str, list[int]] = {}
    partial: list[int] = []
    first = read(bq_settings, chunks, readers=1)  # one stream after the other
    for key, batch in first:
        if batch is None:
            finished[key] = partial
            partial = []
        elif finished:
            break  # dies halfway through its second stream, whose rows are never staged
        else:
            partial += ids(batch)
    first.close()
    assert list(finished) == ["s0"]
    rest = [v for key, batch in read(bq_settings, chunks[1:]) if batch is not None for v in ids(batch)]
    landed = finished["s0"] + rest
    assert len(landed) == ROWS and sorted(landed) == list(range(1, ROWS + 1))


def test_a_chunk_of_a_lost_or_expired_session_is_refused(
    bq_settings: Settings, admin: bigquery.Client, dataset: str
) -> None:
    chunk = plan(bq_settings, admin, dataset).chunks[0]
    lost = {**chunk, "stream": str(chunk["stream"]).replace("/streams/", "/streams/gone-")}
    with pytest.raises(SessionLost, match="new session"):
        list(read(bq_settings, (lost,)))
    expired = {**chunk, "expires": time.time() + 60}  # within the margin: not started on
    with pytest.raises(SessionLost, match="expired"):
        list(read(bq_settings, (expired,)))
