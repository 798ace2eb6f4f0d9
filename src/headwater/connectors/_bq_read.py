"""Reading BigQuery tables: the Storage Read API (Arrow, streams in parallel) and the REST fallback.

Memory stays bounded: stream readers hand batches to the consumer through a small queue, so at
most a few batches per stream are held, whatever the table size.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from google.api_core import exceptions as gexc
from google.cloud.bigquery_storage_v1 import types

from headwater.connectors._bq_types import quote_identifier
from headwater.connectors._chunked import PlanExpired
from headwater.connectors._parallel import ReadStalled, read_in_parallel
from headwater.errors import TransientError

if TYPE_CHECKING:
    from google.cloud.bigquery import Client, SchemaField
    from google.cloud.bigquery_storage_v1 import BigQueryReadClient

    from headwater.connectors._bq_clients import BqTimeouts
    from headwater.settings import Settings


@dataclass(frozen=True)
class Bound:
    """One comparison of a row restriction: `column op value`, value already typed and validated."""

    column: str
    op: str  # ">=" or "<"
    literal: str  # the GoogleSQL literal, for the Storage Read API
    value: Any  # the Python value, for the client-side filter of the REST fallback
    or_null: bool = False  # a NULL value passes too (a backfill window takes NULL delta values)


def row_restriction(bounds: list[Bound]) -> str:
    def one(b: Bound) -> str:
        test = f"{quote_identifier(b.column)} {b.op} {b.literal}"
        return f"({test} OR {quote_identifier(b.column)} IS NULL)" if b.or_null else test

    return " AND ".join(one(b) for b in bounds)


def _split(batch: pa.RecordBatch, rows: int) -> Iterator[pa.RecordBatch]:
    if batch.num_rows <= rows:
        yield batch
        return
    for offset in range(0, batch.num_rows, rows):
        yield batch.slice(offset, rows)


def stream_count(settings: Settings, *, rows: int | None, nbytes: int | None, readers: int) -> int:
    """How many Storage Read streams to ask for: one per `bigquery_stream_rows` rows or
    `bigquery_stream_bytes` bytes of the table (whichever gives more), never fewer than the
    concurrent readers, at most `bigquery_max_streams`.

    The sizes are the table's metadata, before any row restriction, which is also what BigQuery
    splits by; unknown sizes ask for one stream per reader. BigQuery may answer with fewer streams.
    """
    by_size = 0
    if rows:
        by_size = max(by_size, -(-rows // settings.bigquery_stream_rows))
    if nbytes:
        by_size = max(by_size, -(-nbytes // settings.bigquery_stream_bytes))
    return max(1, min(settings.bigquery_max_streams, max(readers, by_size)))


@dataclass
class StreamCursor:
    """One stream of a read session and its ReadRows offset: how many of its rows were handed on."""

    name: str
    offset: int = 0
    done: bool = False


@dataclass
class SessionProgress:
    """A Storage Read session and, per stream, the rows the consumer has received.

    Offsets are only meaningful within this session: another session splits the table its own way.
    The consumer-side offsets are updated just before each batch is yielded, so between two batches
    they count exactly the rows handed on from each stream, a contiguous prefix of it.
    """

    session: str
    streams: list[StreamCursor]
    arrow_schema: bytes = b""
    expire_time: dt.datetime | None = None


def storage_read(
    client: BigQueryReadClient,
    *,
    table: str,
    parent: str,
    columns: list[str],
    restriction: str,
    streams: int,
    readers: int,
    conform: Callable[[pa.RecordBatch], pa.RecordBatch],
    batch_rows: int,
    timeouts: BqTimeouts,
    progress: Callable[[SessionProgress], None] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Create one read session of up to `streams` streams and read them on up to `readers` threads.

    Errors of the session creation propagate as Google exceptions (the caller decides about falling
    back). `progress`, if given, receives the session's SessionProgress once it exists.
    """
    state = open_session(
        client, table=table, parent=parent, columns=columns, restriction=restriction, streams=streams, timeouts=timeouts
    )
    if state is None:
        return
    if progress is not None:
        progress(state)
    yield from read_session_streams(
        client, state, readers=readers, conform=conform, batch_rows=batch_rows, timeouts=timeouts
    )


def open_session(
    client: BigQueryReadClient,
    *,
    table: str,
    parent: str,
    columns: list[str],
    restriction: str,
    streams: int,
    timeouts: BqTimeouts,
) -> SessionProgress | None:
    """A new read session of up to `streams` streams; None when it has none (nothing to read).

    `table` is `projects/P/datasets/D/tables/T`; `parent` is `projects/BILLING`.
    """
    session = client.create_read_session(
        parent=parent,
        read_session=types.ReadSession(
            table=table,
            data_format=types.DataFormat.ARROW,
            read_options=types.ReadSession.TableReadOptions(selected_fields=columns, row_restriction=restriction),
        ),
        max_stream_count=max(1, streams),
        retry=timeouts.grpc_retry(),
        timeout=timeouts.request,
    )
    if not session.streams:
        return None
    return SessionProgress(
        session=session.name,
        streams=[StreamCursor(s.name) for s in session.streams],
        arrow_schema=bytes(session.arrow_schema.serialized_schema),
        expire_time=_expire_time(session),
    )


def read_session_streams(
    client: BigQueryReadClient,
    state: SessionProgress,
    *,
    readers: int,
    conform: Callable[[pa.RecordBatch], pa.RecordBatch],
    batch_rows: int,
    timeouts: BqTimeouts,
) -> Iterator[pa.RecordBatch]:
    """The batches of `stream_items`, whichever stream they come from."""
    items = stream_items(client, state, readers=readers, conform=conform, batch_rows=batch_rows, timeouts=timeouts)
    try:
        for _, batch in items:
            if batch is not None:
                yield batch
    finally:
        items.close()  # stops the reader threads now, not when the generator is collected


def stream_items(
    client: BigQueryReadClient,
    state: SessionProgress,
    *,
    readers: int,
    conform: Callable[[pa.RecordBatch], pa.RecordBatch],
    batch_rows: int,
    timeouts: BqTimeouts,
) -> Generator[tuple[int, pa.RecordBatch | None]]:
    """Read the unfinished streams of a session, each from its offset, and keep the offsets.

    Yields `(stream index, batch)`, and `(stream index, None)` once that stream was read to its end.

    A stream that breaks (dropped connection, server error, a retry deadline passed) is reopened at
    the offset it reached, so no row is read twice or skipped; it gives up once it has made no
    progress for `timeouts.deadline`. A server that stops answering without breaking the stream (a
    call accepted and never answered) fails the read after `timeouts.idle_limit` without data. A stream
    the server no longer knows means the session is gone: SessionLost, and nothing read so far can
    be continued by another session.
    """
    schema = pa.ipc.read_schema(pa.py_buffer(state.arrow_schema))
    todo = [i for i, s in enumerate(state.streams) if not s.done]
    # Per-stream offsets of rows fetched by the reader threads (ahead of the consumer's by the queue).
    fetched = {i: state.streams[i].offset for i in todo}
    no_rows = pa.RecordBatch.from_pylist([], schema=schema)

    def read_stream(index: int) -> Iterator[tuple[int, pa.RecordBatch | None]]:
        name = state.streams[index].name
        quiet_since = time.monotonic()
        pause = 0.2
        while True:
            try:
                rows = client.read_rows(  # type: ignore[no-untyped-call]
                    name, offset=fetched[index], retry=timeouts.grpc_retry()
                )
                for response in rows:
                    raw = response.arrow_record_batch.serialized_record_batch
                    if not raw:
                        # An answer without rows (the server still filtering) shows the stream is
                        # alive: the consumer's idle limit counts it, then drops it.
                        yield index, no_rows
                        continue
                    batch = pa.ipc.read_record_batch(pa.py_buffer(raw), schema)
                    fetched[index] += batch.num_rows
                    quiet_since, pause = time.monotonic(), 0.2
                    yield index, conform(batch)
                yield index, None  # the stream's end, behind its last batch in the hand-off queue
                return
            except gexc.NotFound:
                # The table was found when the session was created: a stream the server no longer
                # knows means the session was lost (a server restart, an expired session).
                raise SessionLost(
                    "BigQuery lost the Storage Read session (stream not found: the server restarted or the "
                    "session expired); the read is retried from the start with a new session."
                ) from None
            except _STREAM_BREAKS:
                if time.monotonic() - quiet_since + pause > timeouts.deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 5.0)

    jobs = [functools.partial(read_stream, i) for i in todo]
    workers = max(1, min(readers, len(jobs)))
    # Two batches per reader keep every reader busy while the consumer writes.
    items = read_in_parallel(
        jobs,
        workers=workers,
        queue_size=2 * workers,
        thread_name="bq-read",
        stop_wait=timeouts.request,
        idle_limit=timeouts.idle_limit,
    )
    try:
        yield from _advance(state, items, batch_rows)
    except ReadStalled as stalled:
        raise TransientError(
            f"BigQuery's Storage Read API sent nothing for {stalled.seconds:.0f} s: the server stopped "
            "answering. The read is retried."
        ) from None
    finally:
        items.close()  # stops the reader threads now, not when the generator is collected


def _advance(
    state: SessionProgress, items: Iterator[tuple[int, pa.RecordBatch | None]], batch_rows: int
) -> Generator[tuple[int, pa.RecordBatch | None]]:
    """Pass on what the readers fetched, each piece advancing its stream's committed offset."""
    for index, batch in items:
        cursor = state.streams[index]
        if batch is None:
            cursor.done = True
            yield index, None
            continue
        if not batch.num_rows:
            continue
        for piece in _split(batch, batch_rows):
            cursor.offset += piece.num_rows
            yield index, piece


def _expire_time(session: types.ReadSession) -> dt.datetime | None:
    expire = session.expire_time
    if not isinstance(expire, dt.datetime) or expire.year < 2000:
        return None  # unset (an emulator)
    return expire if expire.tzinfo else expire.replace(tzinfo=dt.UTC)


# Errors after which a stream of a live session is reopened at its offset. The client library
# already reconnects on UNAVAILABLE mid-stream; these are what escape it (its retry deadline passed,
# a deadline or internal error of one call).
_STREAM_BREAKS = (
    gexc.ServiceUnavailable,
    gexc.DeadlineExceeded,
    gexc.InternalServerError,
    gexc.Unknown,
    gexc.RetryError,
)


class ReadApiUnavailable(Exception):
    """The Storage Read API cannot serve this read, while REST may: the caller falls back."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Storage Read cannot serve this table or these credentials (API disabled, no Read Session User
# role, method missing on an emulator), while tabledata.list may still work.
FALLBACK_ERRORS = (gexc.MethodNotImplemented, gexc.PermissionDenied)


def unavailable_reason(exc: Exception, *, missing_is_unavailable: bool = False) -> str | None:
    """Why the Read API cannot be used, if `exc` (raised before any row was read) says so; else None.

    With `missing_is_unavailable`, a table the Read API cannot find (a query's anonymous result on an
    emulator) also counts.
    """
    if isinstance(exc, FALLBACK_ERRORS):
        return type(exc).__name__
    if isinstance(exc, gexc.RetryError | gexc.ServiceUnavailable):
        # The read endpoint never answered: the API is unreachable from here, REST may not be.
        return f"endpoint unreachable: {type(exc).__name__}"
    if missing_is_unavailable and isinstance(exc, gexc.NotFound):
        return "result table not found by the Read API"
    return None


class SessionLost(PlanExpired):
    """The Storage Read session vanished or expired: nothing read from it can be continued, and a
    new read (a new session, a new plan) reads from the start."""


def _window_mask(batch: pa.RecordBatch, bounds: list[Bound]) -> pa.Array | None:
    mask = None
    for bound in bounds:
        column = batch.column(batch.schema.get_field_index(bound.column))
        value = pa.scalar(bound.value, type=column.type)
        test = pc.greater_equal(column, value) if bound.op == ">=" else pc.less(column, value)
        if bound.or_null:
            test = pc.or_kleene(test, pc.is_null(column))
        mask = test if mask is None else pc.and_kleene(mask, test)
    return mask


def rest_read(
    client: Client,
    *,
    table: str,
    fields: list[SchemaField],
    bounds: list[Bound],
    conform: Callable[[pa.RecordBatch], pa.RecordBatch],
    batch_rows: int,
    timeouts: BqTimeouts,
) -> Iterator[pa.RecordBatch]:
    """Page through `tabledata.list`; it has no row filter, so the window is applied here.

    `fields` must include the bound columns; `conform` then drops the ones not selected.
    """
    rows = client.list_rows(
        table,
        selected_fields=fields,
        page_size=batch_rows,
        retry=timeouts.rest_retry(),
        timeout=timeouts.request,
    )
    # bqstorage_client=None keeps this on REST: this is the path for when Storage Read is not usable.
    for batch in rows.to_arrow_iterable(bqstorage_client=None):
        if bounds:
            mask = _window_mask(batch, bounds)
            if mask is not None:
                batch = batch.filter(mask)
            if batch.num_rows == 0:
                continue
        yield from _split(conform(batch), batch_rows)
