"""Table paths and SQL for the PostgreSQL connector. Nothing from a request reaches SQL unquoted.

Explore paths are `schema.table`. A part that contains a dot or a double quote is written in double
quotes, a quote inside doubled (`"my.schema"."say ""hi"" now"`); any other text is taken literally,
case and spaces included (`Sales Data.Q1 Orders`). A path without a dot means schema `public`.
Paths are resolved against the catalog with bind parameters; SQL is composed with psycopg's
`sql.Identifier` and `sql.Literal`, never by string formatting of request input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql

from headwater.connectors._pg_fence import window_conditions
from headwater.connectors._pg_filter import filter_sql
from headwater.domain import DeltaWindow, KeyRange
from headwater.domain.row_filter import RowFilter
from headwater.errors import InvalidTablePath

_MAX_PATH = 1000


def _read_part(text: str, i: int) -> tuple[str, int]:
    if i < len(text) and text[i] == '"':
        out: list[str] = []
        i += 1
        while True:
            if i >= len(text):
                raise InvalidTablePath(f"Table path {text[:200]!r} has an unterminated quote.")
            if text[i] == '"':
                if i + 1 < len(text) and text[i + 1] == '"':
                    out.append('"')
                    i += 2
                    continue
                return "".join(out), i + 1
            out.append(text[i])
            i += 1
    end = text.find(".", i)
    end = len(text) if end < 0 else end
    return text[i:end], end


def parse_path(path: str) -> tuple[str, str]:
    """`schema.table` → (schema, table), following the quoting rule above."""
    if not path or len(path) > _MAX_PATH or "\x00" in path:
        raise InvalidTablePath("The table path must be 1 to 1000 characters of `schema.table`.")
    first, i = _read_part(path, 0)
    if i >= len(path):
        return "public", first
    if path[i] != ".":
        raise InvalidTablePath(f"Table path {path[:200]!r} must be schema.table.")
    second, j = _read_part(path, i + 1)
    if j != len(path) or not first or not second:
        raise InvalidTablePath(f"Table path {path[:200]!r} must be schema.table.")
    return first, second


def format_part(name: str) -> str:
    if "." in name or '"' in name or not name:
        return '"' + name.replace('"', '""') + '"'
    return name


def format_path(schema: str, table: str) -> str:
    return f"{format_part(schema)}.{format_part(table)}"


LIST_TABLES = """
SELECT n.nspname, c.relname, c.relkind
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp\\_%%'
  AND has_schema_privilege(n.oid, 'USAGE')
  AND has_table_privilege(c.oid, 'SELECT')
ORDER BY n.nspname, c.relname
"""

FIND_TABLE = """
SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')
"""

# Domains resolve to their base type through any number of levels (a domain over a domain), and so
# do array elements (`posint[]` where posint is a domain over int): the first typmod met on the way
# in (the column's own, else the outermost domain's) is the one that applies.
DESCRIBE_COLUMNS = """
WITH RECURSIVE chain AS (
  SELECT a.attnum, a.atttypid AS oid, a.atttypmod AS typmod, 0 AS depth
  FROM pg_catalog.pg_attribute a
  WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT c.attnum, t.typbasetype, CASE WHEN c.typmod >= 0 THEN c.typmod ELSE t.typtypmod END, c.depth + 1
  FROM chain c JOIN pg_catalog.pg_type t ON t.oid = c.oid
  WHERE t.typtype = 'd' AND c.depth < 32
), resolved AS (
  SELECT DISTINCT ON (attnum) attnum, oid, typmod FROM chain ORDER BY attnum, depth DESC
), elements AS (
  SELECT r.attnum, bt.typelem AS oid, r.typmod, 0 AS depth
  FROM resolved r JOIN pg_catalog.pg_type bt ON bt.oid = r.oid
  WHERE bt.typcategory = 'A' AND bt.typelem <> 0
  UNION ALL
  SELECT e.attnum, t.typbasetype, CASE WHEN e.typmod >= 0 THEN e.typmod ELSE t.typtypmod END, e.depth + 1
  FROM elements e JOIN pg_catalog.pg_type t ON t.oid = e.oid
  WHERE t.typtype = 'd' AND e.depth < 32
), element AS (
  SELECT DISTINCT ON (attnum) attnum, oid, typmod FROM elements ORDER BY attnum, depth DESC
)
SELECT a.attname,
       format_type(a.atttypid, a.atttypmod) AS source_type,
       bt.typname AS base, bt.typtype AS kind,
       COALESCE(el.typmod, r.typmod) AS typmod,
       et.typname AS element, et.typtype AS element_kind,
       a.attnotnull
FROM pg_catalog.pg_attribute a
JOIN resolved r ON r.attnum = a.attnum
JOIN pg_catalog.pg_type bt ON bt.oid = r.oid
LEFT JOIN element el ON el.attnum = a.attnum
LEFT JOIN pg_catalog.pg_type et ON et.oid = el.oid
WHERE a.attrelid = %s
ORDER BY a.attnum
"""

PRIMARY_KEY = """
SELECT a.attname, t.typname
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
WHERE i.indrelid = %s AND i.indisprimary AND i.indnatts = 1
"""


def select_list(columns: Sequence[tuple[str, bool, bool]]) -> sql.Composed:
    """`(name, as_text, is_array)` → the select list; text-decoded types get a cast.

    Arrays are selected as the whole slice `col[:]`, which resets every dimension's lower bound to 1:
    ADBC refuses other lower bounds mid-read (`'[-5:-5]={1}'`), and drops them anyway (docs/types.md).
    """
    parts: list[sql.Composable] = []
    for name, as_text, is_array in columns:
        ident = sql.Identifier(name)
        value: sql.Composable = sql.SQL("{}[:]").format(ident) if is_array else ident
        if as_text:
            cast = sql.SQL("::text[]") if is_array else sql.SQL("::text")
            parts.append(sql.SQL("{}{} AS {}").format(value, cast, ident))
        elif is_array:
            parts.append(sql.SQL("{} AS {}").format(value, ident))
        else:
            parts.append(ident)
    return sql.SQL(", ").join(parts)


def where_clause(
    window: DeltaWindow | None,
    partition: KeyRange | None,
    row_filter: RowFilter | None = None,
    chunk: sql.Composable | None = None,
) -> sql.Composable:
    conditions = where_conditions(window, partition, row_filter)
    if chunk is not None:
        conditions.append(chunk)
    if not conditions:
        return sql.SQL("")
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions)


def where_conditions(
    window: DeltaWindow | None, partition: KeyRange | None, row_filter: RowFilter | None = None
) -> list[sql.Composable]:
    """The conditions a read's WHERE ANDs together, each complete on its own (any order means the same)."""
    conditions: list[sql.Composable] = window_conditions(window, literal) if window else []
    if partition is not None:
        ident = sql.Identifier(partition.column)
        if partition.lower is not None:
            conditions.append(sql.SQL("{} >= {}").format(ident, literal(partition.lower)))
        if partition.upper is not None:
            conditions.append(sql.SQL("{} < {}").format(ident, literal(partition.upper)))
    if row_filter is not None:
        conditions.append(filter_sql(row_filter))
    return conditions


def literal(value: Any) -> sql.Composable:
    """A typed literal for a bound of a window or key range (values come from cursors, not requests)."""
    return sql.Literal(value)


def select_head(schema: str, table: str, columns: Sequence[tuple[str, bool, bool]]) -> sql.Composed:
    """`SELECT <columns> FROM schema.table`, before any condition."""
    return sql.SQL("SELECT {} FROM {}.{}").format(select_list(columns), sql.Identifier(schema), sql.Identifier(table))


def select_query(
    schema: str,
    table: str,
    columns: Sequence[tuple[str, bool, bool]],
    *,
    window: DeltaWindow | None = None,
    partition: KeyRange | None = None,
    row_filter: RowFilter | None = None,
    chunk: sql.Composable | None = None,
    limit: int | None = None,
) -> sql.Composed:
    """`chunk` is one chunk's condition (connectors/_pg_chunks.py), ANDed with the rest."""
    query = select_head(schema, table, columns) + where_clause(window, partition, row_filter, chunk)
    if limit is not None:
        query = query + sql.SQL(" LIMIT {}").format(sql.Literal(int(limit)))
    return query
