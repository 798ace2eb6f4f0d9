"""What a BigQuery read is made of: a table's schema and paths, the selected columns, the typed bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from google.cloud import bigquery

from headwater.connectors._bq_filter import BqFilter
from headwater.connectors._bq_read import Bound
from headwater.connectors._bq_types import (
    column_info,
    conform,
    cursor_value,
    quote_identifier,
    sql_literal,
    standard_type,
)
from headwater.domain import ReadRequest, TableSchema
from headwater.errors import ConfigError

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.cloud.bigquery import Client, SchemaField

    from headwater.connectors._bq_auth import BqOAuth, BqServiceAccount


@dataclass(frozen=True)
class ReadParts:
    """What a read of one table needs, found once: the clients, the table, columns, bounds and filter."""

    model: BqOAuth | BqServiceAccount
    credentials: Credentials
    client: Client
    table: bigquery.Table
    fields: list[SchemaField]
    selected: list[str]
    target: pa.Schema  # the Arrow schema of the selected columns, every batch is cast to
    bounds: list[Bound]
    condition: BqFilter | None

    @property
    def is_query(self) -> bool:
        """Read by running a query: a view has no stored rows, and a filter is more than a row restriction."""
        return self.table.table_type == "VIEW" or self.condition is not None

    def conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return conform(batch, self.target)


def table_schema(path: str, fields: list[SchemaField]) -> TableSchema:
    return TableSchema(path=path, columns=tuple(column_info(f) for f in fields))


def read_path(bq_table: bigquery.Table) -> str:
    return f"projects/{bq_table.project}/datasets/{bq_table.dataset_id}/tables/{bq_table.table_id}"


def quoted_table(bq_table: bigquery.Table) -> str:
    return quote_identifier(f"{bq_table.project}.{bq_table.dataset_id}.{bq_table.table_id}")


def selected_columns(schema: TableSchema, request: ReadRequest) -> list[str]:
    if not request.columns:
        return [c.name for c in schema.columns]
    missing = [name for name in request.columns if schema.column(name) is None]
    if missing:
        raise ConfigError(f"The table {request.table!r} has no column(s) {', '.join(map(repr, missing))}.")
    return list(dict.fromkeys(request.columns))


def typed_bounds(fields: list[SchemaField], request: ReadRequest) -> list[Bound]:
    """The delta window and the key range as typed comparisons (start <= col < end)."""
    by_name = {f.name: f for f in fields}
    pairs: list[tuple[str, Any, Any, bool]] = []
    if request.window is not None:
        window = request.window
        pairs.append((window.column, window.start, window.end, window.nulls))
    if request.partition is not None:
        pairs.append((request.partition.column, request.partition.lower, request.partition.upper, False))
    bounds: list[Bound] = []
    for column, low, high, or_null in pairs:
        field = by_name.get(column)
        if field is None:
            raise ConfigError(f"The delta column {column!r} is not a column of {request.table!r}.")
        if field.mode == "REPEATED":
            raise ConfigError(f"The column {column!r} is an array and cannot be used as a delta column.")
        kind = standard_type(field)
        for op, raw in ((">=", low), ("<", high)):
            if raw is None:
                continue
            value = cursor_value(kind, raw, column)
            bounds.append(Bound(column=column, op=op, literal=sql_literal(kind, value), value=value, or_null=or_null))
    return bounds
