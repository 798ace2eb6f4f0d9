"""Reading BigQuery tables: the Storage Read API (Arrow, streams in parallel) and the REST fallback.

Memory stays bounded: stream readers hand batches to the consumer through a small queue, so at
most a few batches per stream are held, whatever the table size.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from google.api_core import exceptions as gexc
from google.cloud.bigquery_storage_v1 import types

from headwater.connectors._bq_types import quote_identifier
from headwater.connectors._parallel import read_in_parallel
from headwater.errors import TransientError

if TYPE_CHECKING:
    from google.cloud.bigquery import Client, SchemaField
    from google.cloud.bigquery_storage_v1 import BigQueryReadClient

    from headwater.connectors._bq_clients import BqTimeouts


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


def storage_read(
    client: BigQueryReadClient,
    *,
    table: str,
    parent: str,
    columns: list[str],
    restriction: str,
    streams: int,
    conform: Callable[[pa.RecordBatch], pa.RecordBatch],
    batch_rows: int,
    timeouts: BqTimeouts,
) -> Iterator[pa.RecordBatch]:
    """Create one read session and read its streams in parallel threads.

    `table` is `projects/P/datasets/D/tables/T`; `parent` is `projects/BILLING`. Errors of the
    session creation propagate as Google exceptions (the caller decides about falling back).
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
        return
    schema = pa.ipc.read_schema(pa.py_buffer(session.arrow_schema.serialized_schema))

    def read_stream(name: str) -> Iterator[pa.RecordBatch]:
        # read_rows returns a stream that resumes at the last offset after a dropped connection.
        try:
            for response in client.read_rows(name, retry=timeouts.grpc_retry()):  # type: ignore[no-untyped-call]
                raw = response.arrow_record_batch.serialized_record_batch
                yield conform(pa.ipc.read_record_batch(pa.py_buffer(raw), schema))
        except gexc.NotFound:
            # The table was found when the session was created: a stream the server no longer
            # knows means the session was lost (a server restart, an expired session). Rows of
            # this read were already handed on, so the read cannot resume mid-way: it is retried
            # whole with a new session, and the run's exactly-once commit drops the partial one.
            raise SessionLost(
                "BigQuery lost the Storage Read session (stream not found: the server restarted or the "
                "session expired); the read is retried with a new session."
            ) from None

    jobs = [functools.partial(read_stream, s.name) for s in session.streams]
    # Two batches per stream keep every reader busy while the consumer writes.
    for batch in read_in_parallel(
        jobs, workers=len(jobs), queue_size=2 * len(jobs), thread_name="bq-read", stop_wait=timeouts.request
    ):
        yield from _split(batch, batch_rows)


class SessionLost(TransientError):
    """The Storage Read session vanished mid-read; a new read (new session) will succeed."""


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
