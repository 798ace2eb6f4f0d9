"""BigQuery reads as chunks (connectors/_chunked.py): one chunk per stream of one Storage Read session.

A stream is read whole or not at all, like a PostgreSQL key range, so a run that staged the streams
it finished reads only the others when it is taken over, from the same session. That holds while
the session lives: it expires 6 hours after it was created and does not survive a server restart,
and no other session's streams correspond to its streams. Reading a chunk of a session that is gone
(or past its expiry) raises SessionLost: the run must drop what it staged under that plan and plan
again, from the start (docs/types.md).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from headwater.connectors._bq_clients import read_client, translated
from headwater.connectors._bq_read import (
    SessionLost,
    SessionProgress,
    StreamCursor,
    open_session,
    row_restriction,
    stream_count,
    stream_items,
    unavailable_reason,
)
from headwater.connectors._bq_tables import ReadParts, read_path
from headwater.connectors._chunked import ChunkItem, ChunkPlan
from headwater.domain import ReadRequest

if TYPE_CHECKING:
    from google.cloud.bigquery_storage_v1 import BigQueryReadClient

    from headwater.connectors._bq_clients import BqTimeouts
    from headwater.settings import Settings

PATH = "bigquery-read-streams"
# A session this close to its expiry is not started on: a stream takes time to read.
EXPIRY_MARGIN_SECONDS = 600.0


def plan_of(state: SessionProgress) -> ChunkPlan:
    """One chunk per stream of `state`'s session, with what reading it later needs (no secrets)."""
    schema = base64.b64encode(state.arrow_schema).decode()
    expires = state.expire_time.timestamp() if state.expire_time is not None else None
    chunks = tuple(
        {"key": f"s{i}", "stream": s.name, "schema": schema, "expires": expires} for i, s in enumerate(state.streams)
    )
    return ChunkPlan(PATH, chunks)


def read_planned(
    client: BigQueryReadClient,
    chunks: Sequence[dict[str, Any]],
    *,
    readers: int,
    conform: Callable[[pa.RecordBatch], pa.RecordBatch],
    batch_rows: int,
    timeouts: BqTimeouts,
) -> Iterator[ChunkItem]:
    """Read the streams `chunks` name, `readers` at a time, each from its first row."""
    if not chunks:
        return
    expiries = [float(c["expires"]) for c in chunks if c.get("expires") is not None]
    if expiries and min(expiries) - EXPIRY_MARGIN_SECONDS <= time.time():
        raise SessionLost(
            "The BigQuery Storage Read session of this run's plan has expired (sessions last 6 hours); "
            "the read is planned again from the start with a new session."
        )
    state = SessionProgress(
        session="/".join(str(chunks[0]["stream"]).split("/")[:-2]),
        streams=[StreamCursor(str(c["stream"])) for c in chunks],
        arrow_schema=base64.b64decode(str(chunks[0]["schema"])),
    )
    items = stream_items(client, state, readers=readers, conform=conform, batch_rows=batch_rows, timeouts=timeouts)
    try:
        for index, batch in items:
            yield str(chunks[index]["key"]), batch
    finally:
        items.close()


def plan_read(parts: ReadParts, request: ReadRequest, *, settings: Settings, timeouts: BqTimeouts) -> ChunkPlan | None:
    """A new read session on `parts.table`, one chunk per stream; None for what `read` reads another
    way: a query (a view, a filter) or a table the Storage Read API cannot serve (the REST fallback)."""
    if parts.is_query:
        return None
    rows, nbytes = parts.table.num_rows, parts.table.num_bytes
    streams = stream_count(settings, rows=rows, nbytes=nbytes, readers=request.parallelism)
    reader = read_client(settings, parts.credentials)
    try:
        state = open_session(
            reader,
            table=read_path(parts.table),
            parent=f"projects/{parts.model.project_id}",
            columns=parts.selected,
            restriction=row_restriction(parts.bounds),
            streams=streams,
            timeouts=timeouts,
        )
    except Exception as exc:
        if unavailable_reason(exc) is not None:
            return None  # `read` takes the REST path, and tells the user
        with translated(f"opening a read session on {request.table}"):
            raise exc from None
    finally:
        reader.transport.close()  # type: ignore[no-untyped-call]
    return plan_of(state) if state is not None else ChunkPlan(PATH, ())


def read_streams(
    parts: ReadParts,
    request: ReadRequest,
    chunks: Sequence[dict[str, Any]],
    *,
    settings: Settings,
    timeouts: BqTimeouts,
) -> Iterator[ChunkItem]:
    """The streams `chunks` name, `request.parallelism` at a time, each whole (`read_planned`)."""
    reader = read_client(settings, parts.credentials)
    try:
        with translated(f"reading {request.table}"):
            yield from read_planned(
                reader,
                chunks,
                readers=request.parallelism,
                conform=parts.conform,
                batch_rows=request.batch_rows,
                timeouts=timeouts,
            )
    finally:
        reader.transport.close()  # type: ignore[no-untyped-call]
