"""Google BigQuery source connector."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from google.cloud import bigquery
from pydantic import BaseModel

from headwater.connectors._bq_auth import (
    OAUTH,
    SERVICE_ACCOUNT,
    BqOAuth,
    BqServiceAccount,
    google_credentials,
)
from headwater.connectors._bq_chunks import plan_read, read_streams
from headwater.connectors._bq_clients import BqTimeouts, TimedRequest, read_client, rest_client, translated
from headwater.connectors._bq_filter import BqFilter, table_condition, where_sql
from headwater.connectors._bq_read import (
    Bound,
    ReadApiUnavailable,
    rest_read,
    row_restriction,
    storage_read,
    stream_count,
    unavailable_reason,
)
from headwater.connectors._bq_tables import (
    ReadParts,
    quoted_table,
    read_path,
    selected_columns,
    table_schema,
    typed_bounds,
)
from headwater.connectors._bq_types import (
    conform,
    preview_value,
    quote_identifier,
)
from headwater.connectors._chunked import ChunkItem, ChunkPlan
from headwater.connectors.base import ConnectorSpec, database_attributes, database_source_spec, not_readable
from headwater.domain import ExploreItem, ReadRequest, TablePreview, TableSchema
from headwater.domain.row_filter import RowFilter
from headwater.errors import ConfigError, NotFound

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.cloud.bigquery import Client, QueryJob, SchemaField
    from google.cloud.bigquery.table import RowIterator

    from headwater.settings import Settings

log = logging.getLogger("headwater.connectors.bigquery")

BIGQUERY_SPEC_ID = "3c9b37f8-13a6-43d8-bad3-b863b941fedd"

SPEC = ConnectorSpec(
    id=BIGQUERY_SPEC_ID,
    name="google-big-query",
    label="Google BigQuery",
    auth_methods=(OAUTH, SERVICE_ACCOUNT),
    attributes=database_attributes("`"),
    source_spec=database_source_spec("Google BigQuery"),
)


class BigQueryConnector:
    """Reads BigQuery tables through the Storage Read API (Arrow)."""

    spec = SPEC

    def __init__(self, settings: Settings, *, timeouts: BqTimeouts | None = None) -> None:
        self._settings = settings
        self.timeouts = timeouts or BqTimeouts(deadline=settings.bigquery_deadline_seconds)

    # --- plumbing --------------------------------------------------------------------------------

    def _credentials(self, auth: BaseModel) -> Credentials:
        """Credentials with a fresh access token.

        Refreshing here, not on the first API call, bounds the token request's time (the library
        waits up to 120 s) and turns a rejected grant into a ConfigError before any BigQuery call.
        """
        credentials = google_credentials(_bq_auth(auth), token_uri=self._settings.google_token_uri)
        with translated("fetching an access token"):
            credentials.refresh(TimedRequest(self.timeouts.request))  # type: ignore[no-untyped-call]
        return credentials

    def _client(self, auth: BaseModel) -> Client:
        model = _bq_auth(auth)
        return rest_client(self._settings, self._credentials(model), model.project_id)

    def _table_id(self, auth: BaseModel, table: str) -> str:
        """`project.dataset.table` from an explore path `dataset.table` (or a full three-part id)."""
        model = _bq_auth(auth)
        parts = table.split(".")
        if len(parts) == 2 and all(parts):
            return f"{model.project_id}.{table}"
        if len(parts) == 3 and all(parts):
            return table
        raise NotFound("table", table, f"The table path {table!r} is not of the form dataset.table.")

    def _get_table(self, client: Client, auth: BaseModel, table: str) -> bigquery.Table:
        table_id = self._table_id(auth, table)
        with translated(f"reading the schema of {table}", table=table):
            return client.get_table(table_id, retry=self.timeouts.rest_retry(), timeout=self.timeouts.request)

    def _fields(self, client: Client, bq_table: bigquery.Table) -> list[SchemaField]:
        """The table's columns; for a view whose metadata has none, those of its result."""
        if bq_table.schema or bq_table.table_type != "VIEW":
            return list(bq_table.schema)
        # BigQuery fills a view's schema in its metadata; bqemulator does not, so ask a LIMIT 0 query.
        with translated(f"reading the schema of view {bq_table.table_id}"):
            rows = self._query(client, f"SELECT * FROM {quoted_table(bq_table)} LIMIT 0", page_size=1)
            return list(rows.schema)

    def _query(self, client: Client, sql: str, *, page_size: int, condition: BqFilter | None = None) -> RowIterator:
        return self._run(client, sql, condition).result(
            page_size=page_size, timeout=self.timeouts.query, retry=self.timeouts.rest_retry()
        )

    def _run(self, client: Client, sql: str, condition: BqFilter | None = None) -> QueryJob:
        params = condition.params if condition is not None else []
        return client.query(
            sql,
            job_config=bigquery.QueryJobConfig(use_legacy_sql=False, query_parameters=params),
            retry=self.timeouts.rest_retry(),
            timeout=self.timeouts.request,
        )

    # --- the four verbs --------------------------------------------------------------------------

    def check(self, auth: BaseModel) -> None:
        model = _bq_auth(auth)
        credentials = self._credentials(model)
        client = rest_client(self._settings, credentials, model.project_id)
        dataset = getattr(model, "datasetId", None)
        with translated(f"listing the datasets of project {model.project_id}"):
            if dataset:
                client.get_dataset(
                    f"{model.project_id}.{dataset}",
                    retry=self.timeouts.rest_retry(),
                    timeout=self.timeouts.request,
                )
            else:
                next(
                    iter(
                        client.list_datasets(
                            max_results=1, retry=self.timeouts.rest_retry(), timeout=self.timeouts.request
                        )
                    ),
                    None,
                )

    def list_objects(self, auth: BaseModel) -> list[ExploreItem]:
        model = _bq_auth(auth)
        client = self._client(model)
        retry, timeout = self.timeouts.rest_retry(), self.timeouts.request
        items: list[ExploreItem] = []
        with translated(f"listing the tables of project {model.project_id}"):
            restricted = getattr(model, "datasetId", None)
            if restricted:
                datasets = [restricted]
            else:
                datasets = [d.dataset_id for d in client.list_datasets(retry=retry, timeout=timeout)]
            for dataset in sorted(datasets):
                for table in client.list_tables(f"{model.project_id}.{dataset}", retry=retry, timeout=timeout):
                    if table.table_type not in _LISTED_TABLE_TYPES:
                        continue
                    path = f"{dataset}.{table.table_id}"
                    items.append(ExploreItem(name=path, path=path))
        return sorted(items, key=lambda item: item.path)

    def describe(self, auth: BaseModel, table: str) -> TableSchema:
        client = self._client(auth)
        return table_schema(table, self._fields(client, self._get_table(client, auth, table)))

    def preview(
        self, auth: BaseModel, table: str, *, limit: int = 100, row_filter: RowFilter | None = None
    ) -> TablePreview:
        client = self._client(auth)
        bq_table = self._get_table(client, auth, table)
        fields = self._fields(client, bq_table)
        schema = table_schema(table, fields)
        condition = table_condition(fields, schema, row_filter)
        with translated(f"previewing {table}", table=table):
            if bq_table.table_type == "VIEW" or condition is not None:
                # A view has no stored rows to list, and tabledata.list cannot filter: run a query, limited.
                sql = f"SELECT * FROM {quoted_table(bq_table)}{where_sql('', condition)} LIMIT {int(limit)}"
                rows = self._query(client, sql, page_size=limit, condition=condition)
            else:
                # tabledata.list is free and fast for a few rows; no read session needed.
                rows = client.list_rows(
                    bq_table,
                    max_results=limit,
                    page_size=limit,
                    retry=self.timeouts.rest_retry(),
                    timeout=self.timeouts.request,
                )
            arrow = rows.to_arrow(create_bqstorage_client=False)
        out: list[dict[str, Any]] = []
        for batch in arrow.to_batches():
            for row in conform(batch, schema.arrow_schema).to_pylist():
                out.append({c.name: preview_value(c, row[c.name]) for c in schema.columns})
        return TablePreview(schema=schema, rows=out[:limit])

    def _prepare(self, auth: BaseModel, request: ReadRequest) -> ReadParts:
        model = _bq_auth(auth)
        credentials = self._credentials(model)
        client = rest_client(self._settings, credentials, model.project_id)
        try:
            bq_table = self._get_table(client, model, request.table)
        except NotFound:
            # In a run a missing table is the user's to fix, not a 404 of the API call.
            raise not_readable(request.table) from None
        fields = self._fields(client, bq_table)
        schema = table_schema(request.table, fields)
        selected = selected_columns(schema, request)
        return ReadParts(
            model=model,
            credentials=credentials,
            client=client,
            table=bq_table,
            fields=fields,
            selected=selected,
            target=pa.schema([schema.arrow_schema.field(name) for name in selected]),
            bounds=typed_bounds(fields, request),
            condition=table_condition(fields, schema, request.row_filter, in_run=True),
        )

    def read(self, auth: BaseModel, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        parts = self._prepare(auth, request)
        model, credentials, client, bq_table = parts.model, parts.credentials, parts.client, parts.table
        fields, selected, bounds, conform_batch = parts.fields, parts.selected, parts.bounds, parts.conform
        if parts.is_query:
            yield from self._read_view(parts, request)
            return
        size = (bq_table.num_rows, bq_table.num_bytes)
        read = self._storage_read(
            model, credentials, read_path(bq_table), request, selected, bounds, conform_batch, size=size
        )
        try:
            first = next(read)
        except StopIteration:
            return
        except ReadApiUnavailable as unavailable:
            message = (
                f"BigQuery Storage Read API unavailable for {request.table} ({unavailable.reason}); "
                "reading through the slower REST tabledata.list API instead."
            )
            log.warning("%s", message)
            request.notice(message)
            needed = set(selected) | {b.column for b in bounds}
            with translated(f"reading {request.table} through REST"):
                yield from rest_read(
                    client,
                    table=bq_table.full_table_id.replace(":", "."),
                    fields=[f for f in fields if f.name in needed],
                    bounds=bounds,
                    conform=conform_batch,
                    batch_rows=request.batch_rows,
                    timeouts=self.timeouts,
                )
            return
        yield first
        yield from read

    # --- chunked reads (connectors/_chunked.py): one chunk per Storage Read stream -----------------

    def plan_chunks(self, auth: BaseModel, request: ReadRequest, *, chunk_rows: int) -> ChunkPlan | None:
        """One chunk per stream of a new read session (docs/types.md); None when chunking is off
        (`chunk_rows` 0) or `read` reads the table another way (a query, the REST fallback)."""
        if chunk_rows <= 0:
            return None
        return plan_read(self._prepare(auth, request), request, settings=self._settings, timeouts=self.timeouts)

    def read_chunks(
        self, auth: BaseModel, request: ReadRequest, chunks: Sequence[dict[str, Any]], *, join_seconds: float = 0.0
    ) -> Iterator[ChunkItem]:
        """The streams `chunks` name, each read whole, `request.parallelism` at a time (a stream holds no
        transaction open on the source, so `join_seconds` has nothing to save: streams are never joined)."""
        parts = self._prepare(auth, request)
        return read_streams(parts, request, chunks, settings=self._settings, timeouts=self.timeouts)

    def _read_view(self, parts: ReadParts, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        """A logical view or a filtered read: a query (window and filter in its WHERE), then its result."""
        client, condition, conform_batch = parts.client, parts.condition, parts.conform
        sql = f"SELECT {', '.join(quote_identifier(c) for c in parts.selected)} FROM {quoted_table(parts.table)}"
        sql += where_sql(row_restriction(parts.bounds), condition)
        with translated(f"querying {request.table}"):
            job = self._run(client, sql, condition)
            rows = job.result(
                page_size=request.batch_rows, timeout=self.timeouts.query, retry=self.timeouts.rest_retry()
            )
        destination = job.destination
        if destination is not None:
            path = f"projects/{destination.project}/datasets/{destination.dataset_id}/tables/{destination.table_id}"
            read = self._storage_read(
                parts.model, parts.credentials, path, request, parts.selected, [], conform_batch,
                size=(rows.total_rows, None), missing_is_unavailable=True,
            )  # fmt: skip
            try:
                first = next(read)
            except StopIteration:
                return
            except ReadApiUnavailable as unavailable:
                log.warning(
                    "BigQuery Storage Read API unavailable for the result of view %s (%s); paging the "
                    "result through the slower REST API instead.",
                    request.table,
                    unavailable.reason,
                )
            else:
                yield first
                yield from read
                return
        with translated(f"reading the result of view {request.table} through REST"):
            for batch in rows.to_arrow_iterable(bqstorage_client=None):
                yield conform_batch(batch)

    def _storage_read(
        self,
        model: BqOAuth | BqServiceAccount,
        credentials: Credentials,
        path: str,
        request: ReadRequest,
        selected: list[str],
        bounds: list[Bound],
        conform_batch: Callable[[pa.RecordBatch], pa.RecordBatch],
        *,
        size: tuple[int | None, int | None],
        missing_is_unavailable: bool = False,
    ) -> Iterator[pa.RecordBatch]:
        """Storage Read batches; raises ReadApiUnavailable before the first batch if it cannot be used.

        `path` is `projects/P/datasets/D/tables/T`; `size` its rows and bytes, where known, from which
        the number of streams follows. With `missing_is_unavailable`, a table the Read API cannot
        find (a query's anonymous result on an emulator) also counts as unavailable.
        """
        reader = read_client(self._settings, credentials)
        try:
            batches = storage_read(
                reader,
                table=path,
                parent=f"projects/{model.project_id}",
                columns=selected,
                restriction=row_restriction(bounds),
                streams=stream_count(self._settings, rows=size[0], nbytes=size[1], readers=request.parallelism),
                readers=request.parallelism,
                conform=conform_batch,
                batch_rows=request.batch_rows,
                timeouts=self.timeouts,
            )
            try:
                first = next(batches)
            except StopIteration:
                return
            except Exception as exc:
                reason = unavailable_reason(exc, missing_is_unavailable=missing_is_unavailable)
                if reason is not None:
                    raise ReadApiUnavailable(reason) from None
                with translated(f"reading {request.table}"):
                    raise exc from None
            yield first
            with translated(f"reading {request.table}"):
                yield from batches
        finally:
            reader.transport.close()  # type: ignore[no-untyped-call]


_LISTED_TABLE_TYPES = frozenset({"TABLE", "VIEW", "MATERIALIZED_VIEW", "SNAPSHOT", "EXTERNAL", None})


def _bq_auth(auth: BaseModel) -> BqOAuth | BqServiceAccount:
    if isinstance(auth, BqOAuth | BqServiceAccount):
        return auth
    raise ConfigError(f"{type(auth).__name__} is not a BigQuery auth method.")


def create(settings: Settings) -> BigQueryConnector:
    return BigQueryConnector(settings)
