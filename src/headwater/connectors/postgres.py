"""PostgreSQL source connector: check, explore and COPY BINARY reads through ADBC.

ADBC's PostgreSQL driver runs `COPY (SELECT …) TO STDOUT (FORMAT BINARY)` and decodes it straight
into Arrow in C; it measured fastest of the Python paths here (see bench/pg_read.py). Memory is
bounded by the driver's batch size hint, not the table size.

A run's full read is planned in chunks of about `HEADWATER_RUN_CHUNK_ROWS` rows (`plan_chunks`,
connectors/_pg_chunks.py: integer-key ranges, else CTID page ranges), and each chunk is read in its
own short transaction, one query in autocommit on its reader's connection (`read_chunks`, which
describes the table once for every chunk): the source's vacuum is never held back
for a whole copy, at the price that a row changed mid-read is seen old or new per chunk
(docs/incremental.md). `read` splits on the integer primary key by worker count, for windowed reads.
Fenced incremental reads are the exception: every range reads in the one snapshot whose xmin
bounds the window (exported by the catalog connection, which stays open for the read), since
the cursor they commit is only exact for rows read in that snapshot (docs/incremental.md).
Type rules, path grammar and measured figures: docs/types.md (PostgreSQL).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa
from pydantic import BaseModel

from headwater.connectors._chunked import ChunkItem, ChunkPlan
from headwater.connectors._parallel import read_in_parallel
from headwater.connectors._pg_auth import BASIC_AUTH, CONNECTION_STRING_AUTH, PgTarget, target_of
from headwater.connectors._pg_chunk_queue import ChunkQueue, QueryText, keys_of, query_text
from headwater.connectors._pg_chunks import INTEGER_KEYS, plan_table
from headwater.connectors._pg_conn import catalog_connection, scrub_environment
from headwater.connectors._pg_fence import sessions as fence_sessions
from headwater.connectors._pg_snapshot import chunkable_fence, fenced_window, snapshot_facts
from headwater.connectors._pg_sql import (
    LIST_TABLES,
    PRIMARY_KEY,
    format_path,
    select_head,
    select_query,
    where_conditions,
)
from headwater.connectors._pg_stream import ChunkConnection, batch_bytes, chunk_connection, stream_query
from headwater.connectors._pg_table import (
    PgColumn,
    PgTable,
    arrow_schema,
    bound_filter,
    find_table,
    found_column,
    select_list,
    selected_columns,
)
from headwater.connectors._source_policy import CONTEXT_KEY, SourcePolicy
from headwater.connectors.base import ConnectorSpec, database_attributes, database_source_spec
from headwater.domain import ExploreItem, KeyRange, ReadRequest, TablePreview, TableSchema
from headwater.domain.far_dates import python_safe
from headwater.domain.fence import SessionFacts, SnapshotFacts
from headwater.domain.jsonify import json_rows
from headwater.domain.row_filter import RowFilter, bind_filter
from headwater.errors import ConfigError, NotFound

if TYPE_CHECKING:
    from headwater.settings import Settings

log = logging.getLogger("headwater.connectors.postgres")

POSTGRES_SPEC_ID = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
# Partitioned reads only pay off on large tables; below this many rows one COPY is faster.
MIN_ROWS_PER_PARTITION = 500_000

SPEC = ConnectorSpec(
    id=POSTGRES_SPEC_ID,
    name="postgre-sql",
    label="PostgreSQL",
    auth_methods=(CONNECTION_STRING_AUTH, BASIC_AUTH),
    attributes=database_attributes('"'),
    source_spec=database_source_spec("PostgreSQL"),
)


# The request option carrying what the chunks of one `read_chunks` share (`_SharedChunks`).
_CHUNKS = "_chunks"


@dataclass(frozen=True)
class _SharedChunks:
    """What every chunk of one `read_chunks` shares, so that a chunk's setup is only its query: the
    table described once, the query rendered once but for each chunk's range, and the reader's connection."""

    text: QueryText
    schema: pa.Schema
    batch_size: int
    connection: ChunkConnection
    decode_ahead: bool = False  # `read` runs in the caller's thread: decode in a thread of its own


class PostgresConnector:
    """Reads PostgreSQL tables and views as Arrow record batches."""

    spec = SPEC

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        scrub_environment()
        self._policy = SourcePolicy.from_settings(settings)
        # Auth params are parsed with this connector's policy: a denied address is refused when a
        # connection is saved, and a TrustStore file is looked up in the operator's directory.
        context = {CONTEXT_KEY: self._policy}
        self.spec = dataclasses.replace(
            SPEC, auth_methods=tuple(dataclasses.replace(m, context=context) for m in SPEC.auth_methods)
        )

    def _target(self, auth: BaseModel) -> PgTarget:
        """The target of one operation, pinned to addresses checked against the policy just now:
        every connection of the operation goes to them (ConfigError if denied or unresolvable)."""
        target = target_of(auth)
        return dataclasses.replace(target, hostaddr=self._policy.addresses(target.host, target.port))

    # -- catalog ----------------------------------------------------------------------------------
    def check(self, auth: BaseModel) -> None:
        target = self._target(auth)
        with catalog_connection(target) as conn:
            conn.execute("SELECT 1").fetchone()

    def list_objects(self, auth: BaseModel) -> list[ExploreItem]:
        with catalog_connection(self._target(auth)) as conn:
            rows = conn.execute(LIST_TABLES).fetchall()
        return [
            ExploreItem(name=format_path(schema, name), path=format_path(schema, name), type="table")
            for schema, name, _kind in rows
        ]

    def _table(self, conn: psycopg.Connection[Any], path: str) -> PgTable:
        return find_table(conn, path)

    def describe(self, auth: BaseModel, table: str) -> TableSchema:
        with catalog_connection(self._target(auth)) as conn:
            found = self._table(conn, table)
        return TableSchema(path=found.path, columns=tuple(c.info() for c in found.columns))

    def preview(
        self, auth: BaseModel, table: str, *, limit: int = 100, row_filter: RowFilter | None = None
    ) -> TablePreview:
        target = self._target(auth)
        with catalog_connection(target) as conn:
            found = self._table(conn, table)
            schema = TableSchema(path=found.path, columns=tuple(c.info() for c in found.columns))
            bound = bind_filter(row_filter, schema) if row_filter is not None else None
            query = select_query(
                found.schema, found.name, select_list(found.columns), row_filter=bound, limit=limit
            ).as_string(conn)
        batches = list(stream_query(target, query, schema.arrow_schema))
        rows = json_rows(python_safe(pa.Table.from_batches(batches, schema=schema.arrow_schema)))
        return TablePreview(schema=schema, rows=rows)

    # -- reading ----------------------------------------------------------------------------------
    def _prepare(self, conn: psycopg.Connection[Any], request: ReadRequest) -> tuple[PgTable, tuple[PgColumn, ...]]:
        """The table a read names and its selected columns, checked (ConfigError: the user must fix it)."""
        try:
            found = self._table(conn, request.table)
        except NotFound:
            raise ConfigError(
                f"The table {request.table!r} does not exist or is not readable with these credentials."
            ) from None
        columns = selected_columns(found, request.columns)
        for bound in (request.window, request.partition):
            if bound is not None and found_column(found, bound.column) is None:
                raise ConfigError(
                    f"Column {bound.column!r} (delta column or partition key) is not in table {found.path!r}."
                )
        return found, columns

    def read(self, auth: BaseModel, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        # `options.chunk`: one chunk of a plan, read by `read_chunks` on its reader's connection.
        chunk = request.options.get("chunk")
        if chunk is not None:
            shared = request.options.get(_CHUNKS)
            if not isinstance(shared, _SharedChunks):
                raise ValueError("a chunk is read through read_chunks")
            stream = functools.partial(
                shared.connection.stream, shared.text.query(chunk), shared.schema, batch_size=shared.batch_size
            )
            if not shared.decode_ahead:  # already in a reader thread of `read_chunks`
                yield from stream()
                return
            yield from read_in_parallel([stream], workers=1, queue_size=2, thread_name="pg-read")
            return
        target = self._target(auth)
        with contextlib.ExitStack() as held:
            conn = held.enter_context(catalog_connection(target))
            found, columns = self._prepare(conn, request)
            schema = arrow_schema(columns)
            window, snapshot = fenced_window(conn, found, request.window)
            partitions: list[KeyRange | None] = [request.partition]
            if request.partition is None:
                partitions = self._partitions(conn, found, request)
            queries = [
                select_query(
                    found.schema,
                    found.name,
                    select_list(columns),
                    window=window,
                    partition=part,
                    row_filter=bound_filter(found, request.row_filter),
                ).as_string(conn)
                for part in partitions
            ]
            if snapshot is None:
                held.close()  # a fenced read keeps this connection: its transaction holds the snapshot
            if len(queries) > 1:
                log.info("reading %s in %d key-range partitions", found.path, len(queries))
            # Even one query goes through a worker thread: the driver decodes the next batch (without
            # the GIL) while the caller writes this one, which measured ~1.2x faster than reading inline.
            workers = max(1, min(request.parallelism, len(queries)))
            size = batch_bytes(workers)
            jobs = [
                functools.partial(stream_query, target, query, schema, batch_size=size, snapshot=snapshot)
                for query in queries
            ]
            # One converted batch waiting per worker, plus one: enough to keep the consumer busy.
            yield from read_in_parallel(jobs, workers=workers, queue_size=workers + 1, thread_name="pg-read")

    # -- chunked reads (connectors/_chunked.py) ---------------------------------------------------
    def plan_chunks(self, auth: BaseModel, request: ReadRequest, *, chunk_rows: int) -> ChunkPlan | None:
        """Chunks of about `chunk_rows` rows for a full read (no window, or a value window's backfill).

        None for what is not chunked: `chunk_rows` 0, a read of one partition, a window with a lower
        bound (an index range scan on the delta column beats any split), and fenced windows other than a
        backfill whose fence was taken beforehand (`fence_snapshot`): every chunk then reads the
        versions below that one fence, and runs/cursor.py `chunked_cursor` says what the next runs read.
        """
        window = request.window
        if chunk_rows <= 0 or request.partition is not None:
            return None
        if window is not None and window.start is not None:
            return None
        if window is not None and window.fence is not None and not chunkable_fence(window.fence):
            return None
        with catalog_connection(self._target(auth)) as conn:
            found, _ = self._prepare(conn, request)
            return plan_table(conn, schema=found.schema, table=found.name, oid=found.oid, chunk_rows=chunk_rows)

    def read_chunks(
        self, auth: BaseModel, request: ReadRequest, chunks: Sequence[dict[str, Any]], *, join_seconds: float = 0.0
    ) -> Iterator[ChunkItem]:
        """Each chunk in its own transaction, `request.parallelism` chunks at a time; a reader joins
        consecutive chunks into one transaction while its pace says it ends within `join_seconds`
        (connectors/_pg_chunk_queue.py).

        The table is described once, and each reader thread keeps one connection for the chunks it
        takes, each read's query committing on its own (`chunk_connection`): between two reads a reader
        holds no transaction, and pays no connection or catalog lookups.
        """
        fence = request.window.fence if request.window is not None else None
        if fence is not None and not chunkable_fence(fence):
            raise ValueError("only a backfill below a fence taken beforehand is read in chunks")
        target = self._target(auth)
        with catalog_connection(target) as conn:
            found, columns = self._prepare(conn, request)
            window, _ = fenced_window(conn, found, request.window)
            conditions = where_conditions(window, request.partition, bound_filter(found, request.row_filter))
            text = query_text(select_head(found.schema, found.name, select_list(columns)), conditions, conn)
        schema = arrow_schema(columns)
        workers = max(1, min(request.parallelism, len(chunks)))
        todo = ChunkQueue(chunks, workers=workers, join_seconds=join_seconds)
        # One reader is the one-transaction read's pipeline: batches of the same size, one more waiting
        # than readers. With smaller batches or one fewer waiting, the writer idled at every chunk's
        # start: 0.84-0.86 of the one-transaction read's throughput, against 0.93-0.96 (bench/flow_run.py,
        # 5M and 20M rows). Several readers also hold a staging writer each: half-size batches keep
        # their peak memory near the one-transaction read's.
        size = batch_bytes(request.parallelism) // (1 if workers == 1 else 2)

        if len(chunks) == 1:  # `read` runs here, and decodes ahead in a thread of its own
            with chunk_connection(target) as connection:
                shared = _SharedChunks(text, schema, size, connection, decode_ahead=True)
                yield from self._chunk(auth, request, chunks[0], shared)
            return

        def reader() -> Iterator[ChunkItem]:
            """One reader: the chunks it takes from `todo`, each through `read` on this reader's connection."""
            with contextlib.ExitStack() as held:
                connection = held.enter_context(chunk_connection(target))
                pace: float | None = None
                while (chunk := todo.take(pace)) is not None:
                    if not connection.idle:  # a `read` that stopped early left its query unfinished
                        held.close()
                        connection = held.enter_context(chunk_connection(target))
                    began = time.monotonic()
                    yield from self._chunk(auth, request, chunk, _SharedChunks(text, schema, size, connection))
                    # The transaction's length, the caller's time with each batch included.
                    pace = (time.monotonic() - began) / len(keys_of(chunk))

        # Even one reader runs in a thread: it decodes the next batch while the caller writes this one.
        yield from read_in_parallel([reader] * workers, workers=workers, queue_size=workers + 1, thread_name="pg-chunk")

    def _chunk(
        self, auth: BaseModel, request: ReadRequest, chunk: dict[str, Any], shared: _SharedChunks
    ) -> Iterator[ChunkItem]:
        keys = keys_of(chunk)
        options = {**request.options, "chunk": chunk, _CHUNKS: shared}
        for batch in self.read(auth, dataclasses.replace(request, options=options)):
            yield keys[0], batch
        if len(keys) > 1:
            log.info("read chunks %s to %s in one transaction", keys[0], keys[-1])
        for key in keys:  # its query completed: the transaction has ended, every chunk it stood for is read
            yield key, None

    def fence_sessions(self, auth: BaseModel, table: str) -> SessionFacts | None:
        """The open transactions before a fenced incremental read of `table` (docs/incremental.md).

        None when the server (before PostgreSQL 13) or the relation (a view, a foreign table) cannot
        be fenced by transaction ids. The read itself takes the snapshot (`XidFence.before` None).
        """
        with catalog_connection(self._target(auth)) as conn:
            try:
                found = self._table(conn, table)
            except NotFound:
                raise ConfigError(
                    f"The table {table!r} does not exist or is not readable with these credentials."
                ) from None
            return fence_sessions(conn, oid=found.oid)

    def fence_snapshot(self, auth: BaseModel, table: str, column: str) -> SnapshotFacts:
        """The facts of a snapshot taken now, in a transaction that ends here: a chunked backfill's fence
        (every chunk reads the versions below its xmin) and, after the last chunk, how far ids had got."""
        with catalog_connection(self._target(auth)) as conn:
            found = self._table(conn, table)
            delta = found_column(found, column)
            if delta is None:
                raise ConfigError(f"Column {column!r} (delta column) is not in table {found.path!r}.")
            facts, _ = snapshot_facts(conn, found, delta)
            conn.rollback()
            return facts

    def _partitions(self, conn: psycopg.Connection[Any], table: PgTable, request: ReadRequest) -> list[KeyRange | None]:
        """Split a large table on its single-column integer primary key, for parallel reads."""
        if request.parallelism <= 1:
            return [None]
        key = conn.execute(PRIMARY_KEY, (table.oid,)).fetchone()
        if key is None or key[1] not in INTEGER_KEYS:
            return [None]
        column = key[0]
        low, high = conn.execute(
            psycopg.sql.SQL("SELECT min({c}), max({c}) FROM {s}.{t}").format(
                c=psycopg.sql.Identifier(column),
                s=psycopg.sql.Identifier(table.schema),
                t=psycopg.sql.Identifier(table.name),
            )
        ).fetchone() or (None, None)
        if low is None or high is None:
            return [None]
        estimate = conn.execute(
            "SELECT reltuples::bigint FROM pg_catalog.pg_class WHERE oid = %s", (table.oid,)
        ).fetchone()
        rows = int(estimate[0]) if estimate and estimate[0] is not None else -1
        if rows < 0:
            # Never analyzed (reltuples = -1: a freshly loaded table, a partitioned parent): the key
            # span bounds the row count, and min/max of a primary key are index lookups.
            rows = high - low + 1
        # `options.min_partition_rows` lets tests (and tuning) partition smaller tables.
        min_rows = int(request.options.get("min_partition_rows", MIN_ROWS_PER_PARTITION))
        count = min(request.parallelism * 2, rows // max(1, min_rows))
        if count < 2 or high - low < count:
            return [None]
        step = (high - low + 1) // count
        bounds = [low + i * step for i in range(count)]
        # The first and last ranges are open so rows inserted beyond min/max meanwhile are not lost.
        return [
            KeyRange(column, None if i == 0 else bounds[i], None if i == count - 1 else bounds[i + 1])
            for i in range(count)
        ]


def create(settings: Settings) -> PostgresConnector:
    return PostgresConnector(settings)
