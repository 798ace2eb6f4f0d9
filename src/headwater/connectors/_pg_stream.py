"""One COPY BINARY query through ADBC, streamed as converted Arrow batches on its own connection.

The connection, and so the query's transaction, lives exactly as long as the stream: a chunked or
partitioned read holds a source snapshot only while one of its queries runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import adbc_driver_manager.dbapi as adbc_errors
import pyarrow as pa

from headwater.connectors._pg_auth import PgTarget
from headwater.connectors._pg_conn import adbc_connection, explain
from headwater.connectors._pg_fence import import_snapshot
from headwater.connectors._pg_types import convert_batch

BATCH_BYTES = 16 * 1024 * 1024
# Parallel readers share one memory budget: beyond two workers each gets smaller batches
# (measured: 4 workers at 16 MiB peaked at 561 MiB RSS; the target is < 512 MiB).
MIN_BATCH_BYTES = 4 * 1024 * 1024


def batch_bytes(workers: int) -> int:
    return BATCH_BYTES if workers <= 2 else max(MIN_BATCH_BYTES, BATCH_BYTES * 2 // workers)


def stream_query(
    target: PgTarget,
    query: str,
    schema: pa.Schema,
    *,
    batch_size: int = BATCH_BYTES,
    snapshot: str | None = None,
) -> Iterator[pa.RecordBatch]:
    """Batches of `query`, read in `snapshot` when given (exported by a fenced read's catalog connection)."""
    with adbc_connection(target) as conn:
        if snapshot is not None:
            _driver_call(target, lambda: import_snapshot(conn, snapshot))
        cursor = conn.cursor()
        try:
            cursor.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(batch_size)})
            reader = _driver_call(target, lambda: (cursor.execute(query), cursor.fetch_record_batch())[1])
            while True:
                batch = _driver_call(target, lambda: _next_batch(reader))
                if batch is None:
                    return
                # Conversion errors (ConfigError: NaN in a decimal, …) are not the driver's: not wrapped.
                yield convert_batch(batch, schema)
        finally:
            cursor.close()


T = TypeVar("T")


def _driver_call(target: PgTarget, call: Callable[[], T]) -> T:
    """Run one driver step; its failures become Headwater errors with actionable, password-free text.

    Mid-stream failures (connection lost, server error) surface from Arrow's reader as OSError or
    ArrowException carrying libpq's text, not as the DB-API hierarchy.
    """
    try:
        return call()
    except (adbc_errors.Error, OSError, pa.ArrowException) as exc:
        raise explain(exc, target) from None


def _next_batch(reader: pa.RecordBatchReader) -> pa.RecordBatch | None:
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None
