"""COPY BINARY queries through ADBC, streamed as converted Arrow batches.

`stream_query`: one query on its own connection, whose transaction lives exactly as long as the
stream: a partitioned read holds a source snapshot only while one of its queries runs.
`chunk_connection`: a chunked read's queries one after another on one connection in autocommit, so
each is its own transaction, ended by the server as the query completes. Opening an ADBC connection
costs ~70 ms (a server backend, the driver's type catalog), which a chunk would otherwise pay every
time with its reader idle.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

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
        yield from _batches(target, conn, query, schema, batch_size)


class ChunkConnection:
    """One reader's connection for the chunks it takes, in autocommit: each chunk's query is its own
    transaction, ended by the server as the query completes; between two chunks none is open."""

    def __init__(self, target: PgTarget, conn: Any) -> None:
        self._target, self._conn = target, conn
        self.idle = True  # False while a query's stream is open, and after one that was left unfinished

    def stream(self, query: str, schema: pa.Schema, *, batch_size: int = BATCH_BYTES) -> Iterator[pa.RecordBatch]:
        if not self.idle:
            raise RuntimeError("a chunk connection reads one query at a time, each to its end")
        self.idle = False
        yield from _batches(self._target, self._conn, query, schema, batch_size)
        self.idle = True


@contextlib.contextmanager
def chunk_connection(target: PgTarget) -> Iterator[ChunkConnection]:
    with adbc_connection(target) as conn:
        # Commits the transaction the connection opened (keeping its session settings): from here
        # every query commits on its own.
        _driver_call(target, lambda: conn.adbc_connection.set_autocommit(True))
        yield ChunkConnection(target, conn)


def _batches(target: PgTarget, conn: Any, query: str, schema: pa.Schema, batch_size: int) -> Iterator[pa.RecordBatch]:
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
