"""Reading BigQuery tables: the Storage Read API (Arrow, streams in parallel) and the REST fallback.

Memory stays bounded: stream readers hand batches to the consumer through a small queue, so at
most a few batches per stream are held, whatever the table size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

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


def row_restriction(bounds: list[Bound]) -> str:
    from headwater.connectors._bq_types import quote_identifier

    return " AND ".join(f"{quote_identifier(b.column)} {b.op} {b.literal}" for b in bounds)


def _split(batch: pa.RecordBatch, rows: int) -> Iterator[pa.RecordBatch]:
    if batch.num_rows <= rows:
        yield batch
        return
    for offset in range(0, batch.num_rows, rows):
        yield batch.slice(offset, rows)


class _Done:
    pass


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


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
    from google.cloud.bigquery_storage_v1 import types

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
    names = [s.name for s in session.streams]
    # Two batches per stream keep every reader busy while the consumer writes.
    handoff: queue.Queue[pa.RecordBatch | _Done | _Failed] = queue.Queue(maxsize=2 * len(names))
    stop = threading.Event()

    def put(item: pa.RecordBatch | _Done | _Failed) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read_stream(name: str) -> None:
        try:
            # read_rows returns a stream that resumes at the last offset after a dropped connection.
            for response in client.read_rows(name, retry=timeouts.grpc_retry()):  # type: ignore[no-untyped-call]
                if stop.is_set():
                    return
                raw = response.arrow_record_batch.serialized_record_batch
                batch = pa.ipc.read_record_batch(pa.py_buffer(raw), schema)
                if not put(conform(batch)):
                    return
        except BaseException as exc:
            put(_Failed(exc))
        finally:
            put(_Done())

    threads = [
        threading.Thread(target=read_stream, args=(n,), name=f"bq-read-{i}", daemon=True) for i, n in enumerate(names)
    ]
    for thread in threads:
        thread.start()
    try:
        done = 0
        while done < len(threads):
            item = handoff.get()
            if isinstance(item, _Done):
                done += 1
            elif isinstance(item, _Failed):
                raise item.error
            else:
                yield from _split(item, batch_rows)
    finally:
        # Reached on completion, on error and when the consumer stops early (generator closed).
        stop.set()
        for thread in threads:
            thread.join(timeout=timeouts.request)


def _window_mask(batch: pa.RecordBatch, bounds: list[Bound]) -> pa.Array | None:
    mask = None
    for bound in bounds:
        column = batch.column(batch.schema.get_field_index(bound.column))
        value = pa.scalar(bound.value, type=column.type)
        test = pc.greater_equal(column, value) if bound.op == ">=" else pc.less(column, value)
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
