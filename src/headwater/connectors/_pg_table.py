"""A PostgreSQL table as the connector sees it: its columns, their types, and what a read selects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
import pyarrow as pa

from headwater.connectors._pg_sql import DESCRIBE_COLUMNS, FIND_TABLE, format_path, parse_path
from headwater.connectors._pg_types import PgColumnType, column_type
from headwater.domain import ColumnInfo, TableSchema
from headwater.domain.row_filter import RowFilter, bind_filter
from headwater.errors import BadRequest, ConfigError, NotFound


@dataclass(frozen=True)
class PgColumn:
    name: str
    source_type: str
    kind: PgColumnType
    not_null: bool

    def info(self) -> ColumnInfo:
        return ColumnInfo(
            name=self.name,
            source_type=self.source_type,
            arrow_type=self.kind.arrow_type,
            platform_type=self.kind.platform_type,
            xdm=self.kind.xdm,
            xdm_meta_type=self.kind.xdm_meta_type,
            nullable=not self.not_null,
        )


@dataclass(frozen=True)
class PgTable:
    schema: str
    name: str
    oid: int
    columns: tuple[PgColumn, ...]

    @property
    def path(self) -> str:
        return format_path(self.schema, self.name)


def find_table(conn: psycopg.Connection[Any], path: str) -> PgTable:
    """The table or view at `path` with its columns (NotFound when absent or not readable)."""
    schema, name = parse_path(path)
    found = conn.execute(FIND_TABLE, (schema, name)).fetchone()
    if found is None:
        raise NotFound("table", path)
    oid = int(found[0])
    columns = tuple(
        PgColumn(
            name=row[0],
            source_type=row[1],
            kind=column_type(base=row[2], kind=row[3], typmod=int(row[4]), element=row[5], element_kind=row[6]),
            not_null=bool(row[7]),
        )
        for row in conn.execute(DESCRIBE_COLUMNS, (oid, oid)).fetchall()
    )
    if not columns:
        raise ConfigError(f"No columns were found for table {path!r}.")
    return PgTable(schema, name, oid, columns)


def found_column(table: PgTable, name: str) -> PgColumn | None:
    return next((c for c in table.columns if c.name == name), None)


def bound_filter(table: PgTable, row_filter: RowFilter | None) -> RowFilter | None:
    """A run's filter is bound by its plan; any other is checked against the table as it is now."""
    if row_filter is None or row_filter.bound:
        return row_filter
    schema = TableSchema(path=table.path, columns=tuple(c.info() for c in table.columns))
    try:
        return bind_filter(row_filter, schema)
    except BadRequest as exc:
        # In a read the user must fix the filter or the table: a configuration error, not a retry.
        raise ConfigError(exc.message, code=exc.code) from None


def arrow_schema(columns: tuple[PgColumn, ...]) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.kind.arrow_type, not c.not_null) for c in columns])


def select_list(columns: tuple[PgColumn, ...]) -> list[tuple[str, bool, bool]]:
    return [(c.name, c.kind.as_text, c.kind.is_array) for c in columns]


def selected_columns(table: PgTable, names: tuple[str, ...] | None) -> tuple[PgColumn, ...]:
    if names is None:
        return table.columns
    by_name = {c.name: c for c in table.columns}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ConfigError(f"Column {missing[0]!r} is not in table {table.path!r}.")
    return tuple(by_name[n] for n in names)
