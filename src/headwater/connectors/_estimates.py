"""How many rows a source table holds, from the source's own statistics: no scan, no count.

A run shows it as `progress.estimatedTotalRecords` (a Headwater extension) so clients can show a
percentage and an ETA. It is an estimate, stale by whatever changed since the statistics were
taken, and absent when the source keeps none:
- PostgreSQL: `pg_class.reltuples`, kept by ANALYZE and (auto)vacuum; a partitioned table is the
  sum over its leaf partitions. Views and foreign tables have none, and neither has a table that
  was never analyzed (reltuples -1, or 0 on servers before 14).
- BigQuery: the table's `numRows`; a view has none.

A connector of another kind may offer `estimate_rows(auth, table) -> int | None` itself.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from headwater.connectors.bigquery import BigQueryConnector
    from headwater.connectors.postgres import PostgresConnector

log = logging.getLogger("headwater.connectors")

_PG_ESTIMATE = """
SELECT c.relkind,
       c.reltuples::float8,
       (SELECT sum(p.reltuples)::float8 FROM pg_catalog.pg_partition_tree(c.oid) t
        JOIN pg_catalog.pg_class p ON p.oid = t.relid WHERE t.isleaf AND p.reltuples > 0),
       (SELECT count(*) FROM pg_catalog.pg_partition_tree(c.oid) t
        JOIN pg_catalog.pg_class p ON p.oid = t.relid WHERE t.isleaf AND p.reltuples < 0)
FROM pg_catalog.pg_class c WHERE c.oid = %s
"""


def estimate_rows(connector: Any, auth: BaseModel, table: str) -> int | None:
    """The source's row estimate for `table`, or None when it has none or cannot be asked.

    Never raises: an estimate is a nicety, and a run must not fail for want of one.
    """
    try:
        own = getattr(connector, "estimate_rows", None)
        if callable(own):
            found = own(auth, table)
            return int(found) if isinstance(found, int) and found >= 0 else None
        from headwater.connectors.bigquery import BigQueryConnector
        from headwater.connectors.postgres import PostgresConnector

        if isinstance(connector, PostgresConnector):
            return _postgres(connector, auth, table)
        if isinstance(connector, BigQueryConnector):
            return _bigquery(connector, auth, table)
    except Exception as exc:  # the run goes on without an estimate
        log.info("no row estimate for %s: %s", table[:200], type(exc).__name__)
    return None


def _postgres(connector: PostgresConnector, auth: BaseModel, table: str) -> int | None:
    from headwater.connectors._pg_conn import catalog_connection
    from headwater.connectors._pg_sql import FIND_TABLE, parse_path

    schema, name = parse_path(table)
    with catalog_connection(connector._target(auth)) as conn:
        found = conn.execute(FIND_TABLE, (schema, name)).fetchone()
        if found is None:
            return None
        row = conn.execute(_PG_ESTIMATE, (found[0],)).fetchone()
    if row is None:
        return None
    relkind, reltuples, leaf_sum, leaves_unknown = row
    if relkind == "p":
        # A leaf never analyzed makes the sum a guess too low to show as a total.
        return round(float(leaf_sum)) if leaf_sum and not leaves_unknown else None
    if relkind in ("r", "m") and reltuples >= 1:
        return round(float(reltuples))
    return None


def _bigquery(connector: BigQueryConnector, auth: BaseModel, table: str) -> int | None:
    client = connector._client(auth)
    try:
        bq_table = connector._get_table(client, auth, table)
    finally:
        client.close()  # type: ignore[no-untyped-call]
    if bq_table.table_type not in (None, "TABLE"):
        return None
    rows = bq_table.num_rows
    return int(rows) if rows is not None else None
