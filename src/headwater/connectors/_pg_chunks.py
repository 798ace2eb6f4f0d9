"""Planning a PostgreSQL table's full read as chunks of about N rows, each read in its own transaction.

Two ways to split, chosen per table:
- **key ranges** on a single-column integer primary key: `lower <= key < upper`, the boundaries at
  quantiles of the key (the column's histogram from ANALYZE, with linear steps inside each bucket,
  else evenly over [min, max]), so gaps and skew still give chunks of about the target size. The first
  and last ranges are open, so rows inserted beyond min/max meanwhile are read too.
- **CTID ranges** of heap pages for every other table (no key, a composite or non-integer key):
  `ctid >= '(a,0)' AND ctid < '(b,0)'`, which PostgreSQL 14+ runs as a TID range scan reading only
  those pages. The last range is open, so pages added meanwhile are read too.
Before PostgreSQL 14 a CTID range is a whole-table scan per chunk, and views, foreign tables and
partitioned parents have no pages of their own: those tables are read in one transaction, with a
notice saying why.

Row counts come from the catalog (reltuples over relpages, scaled to the table's current size);
a never-analyzed table's density is counted on its first pages. Estimates only size the chunks:
every row is read whatever they say.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from headwater.connectors._chunked import ChunkPlan

# TID range scans arrived in PostgreSQL 14.
TID_RANGE_VERSION = 140000
INTEGER_KEYS = ("int2", "int4", "int8")
KEY_RANGES, CTID_RANGES, SINGLE = "key-ranges", "ctid-ranges", "single"
# Pages whose rows are counted when the catalog has no density (a table never analyzed).
_SAMPLE_PAGES = 32

_RELATION = """
SELECT c.relkind::text, c.reltuples::float8, c.relpages::int8,
       CASE WHEN c.relkind IN ('r', 'm') THEN pg_catalog.pg_relation_size(c.oid) ELSE 0 END
         / current_setting('block_size')::int8,
       current_setting('server_version_num')::int
FROM pg_catalog.pg_class c WHERE c.oid = %s
"""

_PRIMARY_KEY = """
SELECT a.attname, t.typname
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
WHERE i.indrelid = %s AND i.indisprimary AND i.indnatts = 1
"""

_HISTOGRAM = """
SELECT histogram_bounds::text FROM pg_catalog.pg_stats
WHERE schemaname = %s AND tablename = %s AND attname = %s AND NOT inherited
"""


def split_keys(low: int, high: int, *, rows: float, chunk_rows: int, histogram: Sequence[int] = ()) -> list[int]:
    """Inner boundaries splitting keys [low, high] into chunks of about `chunk_rows` of `rows` rows.

    `histogram` is the key's equi-depth histogram (ANALYZE's bounds): each bucket holds the same
    share of rows, so a boundary falls where the key's distribution says, not where the span does.
    """
    count = min(max(1, math.ceil(rows / max(1, chunk_rows))), high - low + 1)
    if count <= 1:
        return []
    # The cumulative distribution is piecewise linear between these points, each segment holding an
    # equal share of the rows; integer arithmetic keeps int8 keys exact.
    points = sorted({low, high + 1, *(b for b in histogram if low < b < high)})
    segments = len(points) - 1
    bounds: list[int] = []
    for i in range(1, count):
        j, rest = divmod(i * segments, count)
        value = points[j] + (points[j + 1] - points[j]) * rest // count
        if low < value <= high and (not bounds or value > bounds[-1]):
            bounds.append(value)
    return bounds


def split_pages(pages: int, *, rows: float, chunk_rows: int) -> list[int]:
    """Inner page boundaries splitting `pages` heap pages into chunks of about `chunk_rows` rows."""
    count = min(max(1, math.ceil(rows / max(1, chunk_rows))), pages)
    if count <= 1:
        return []
    step = math.ceil(pages / count)
    return list(range(step, pages, step))


def key_chunks(column: str, bounds: Sequence[int]) -> tuple[dict[str, Any], ...]:
    edges: list[int | None] = [None, *bounds, None]
    return tuple(
        {"key": f"k{i:06d}", "column": column, "lower": edges[i], "upper": edges[i + 1]} for i in range(len(edges) - 1)
    )


def page_chunks(bounds: Sequence[int]) -> tuple[dict[str, Any], ...]:
    edges: list[int | None] = [None, *bounds, None]
    return tuple({"key": f"p{i:06d}", "pages": [edges[i], edges[i + 1]]} for i in range(len(edges) - 1))


def chunk_condition(chunk: dict[str, Any]) -> sql.Composable | None:
    """The WHERE condition of one chunk (None: the whole table)."""
    parts: list[sql.Composable] = []
    if "pages" in chunk:
        low, high = chunk["pages"]
        if low is not None:
            parts.append(sql.SQL("ctid >= {}::tid").format(sql.Literal(f"({int(low)},0)")))
        if high is not None:
            parts.append(sql.SQL("ctid < {}::tid").format(sql.Literal(f"({int(high)},0)")))
    elif "column" in chunk:
        ident = sql.Identifier(chunk["column"])
        if chunk["lower"] is not None:
            parts.append(sql.SQL("{} >= {}").format(ident, sql.Literal(int(chunk["lower"]))))
        if chunk["upper"] is not None:
            parts.append(sql.SQL("{} < {}").format(ident, sql.Literal(int(chunk["upper"]))))
    return sql.SQL(" AND ").join(parts) if parts else None


def plan_table(conn: psycopg.Connection[Any], *, schema: str, table: str, oid: int, chunk_rows: int) -> ChunkPlan:
    """The chunks of a full read of `schema.table` (catalog queries and two index lookups)."""
    relation = conn.execute(_RELATION, (oid,)).fetchone()
    assert relation is not None
    relkind, reltuples, relpages, pages, version = relation
    tid_ranges = int(version) >= TID_RANGE_VERSION and relkind in ("r", "m")
    density = float(reltuples) / relpages if reltuples is not None and reltuples >= 0 and relpages > 0 else None
    if density is None and tid_ranges and pages > 0:
        density = _sampled_density(conn, schema, table, min(int(pages), _SAMPLE_PAGES))
    key = conn.execute(_PRIMARY_KEY, (oid,)).fetchone()
    if key is not None and key[1] in INTEGER_KEYS:
        return _plan_keys(
            conn, schema, table, key[0], pages=pages, density=density, reltuples=reltuples, chunk_rows=chunk_rows
        )
    if tid_ranges:
        rows = density * pages if density is not None else float(pages)
        return ChunkPlan(CTID_RANGES, page_chunks(split_pages(int(pages), rows=rows, chunk_rows=chunk_rows)))
    if relkind not in ("r", "m"):
        why = "it is a view, a foreign table or a partitioned table without a single-column integer primary key"
    else:
        why = "it has no single-column integer primary key and the server is older than PostgreSQL 14 (TID range scans)"
    return ChunkPlan(SINGLE, ({"key": "whole"},), (f"Read in one transaction, not in chunks: {why}.",))


def _plan_keys(
    conn: psycopg.Connection[Any],
    schema: str,
    table: str,
    column: str,
    *,
    pages: int,
    density: float | None,
    reltuples: float | None,
    chunk_rows: int,
) -> ChunkPlan:
    name = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
    low, high = conn.execute(
        sql.SQL("SELECT min({c}), max({c}) FROM {t}").format(c=sql.Identifier(column), t=name)
    ).fetchone() or (None, None)
    if low is None or high is None:  # empty now: one open range still reads whatever arrives
        return ChunkPlan(KEY_RANGES, key_chunks(column, []))
    if density is not None and pages > 0:
        rows = density * pages
    elif reltuples is not None and reltuples >= 0:
        rows = float(reltuples)  # a partitioned parent: its partitions' total
    else:
        rows = float(high - low + 1)  # unknown: the key span bounds it
    found = conn.execute(_HISTOGRAM, (schema, table, column)).fetchone()
    histogram = _integers(found[0]) if found and found[0] else []
    return ChunkPlan(
        KEY_RANGES, key_chunks(column, split_keys(low, high, rows=rows, chunk_rows=chunk_rows, histogram=histogram))
    )


def _sampled_density(conn: psycopg.Connection[Any], schema: str, table: str, sample: int) -> float | None:
    query = sql.SQL("SELECT count(*) FROM {}.{} WHERE ctid < {}::tid").format(
        sql.Identifier(schema), sql.Identifier(table), sql.Literal(f"({sample},0)")
    )
    (count,) = conn.execute(query).fetchone() or (0,)
    return max(1.0, int(count) / sample) if sample > 0 else None


def _integers(text: str) -> list[int]:
    try:
        return [int(v) for v in text.strip("{}").split(",") if v]
    except ValueError:
        return []
