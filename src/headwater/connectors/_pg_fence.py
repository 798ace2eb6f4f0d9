"""The PostgreSQL side of fenced incremental reads: capturing the snapshot, and the predicate.

Why transaction ids and not the delta column alone: a row's delta value is drawn while its
transaction runs (now(), a sequence) but the row becomes visible only at commit, in a different
order and possibly minutes later. A read that stops at "the newest value" or "now minus a lag"
loses such rows. Transaction ids below a snapshot's xmin, by contrast, all belong to finished
transactions, so "committed with an id in [after, before)" names the same rows whenever it is read.
See docs/incremental.md for the whole argument.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from headwater.domain import DeltaWindow
from headwater.domain.fence import FenceCapture, XidFence

# pg_current_snapshot and pg_snapshot_xmin arrived in PostgreSQL 13.
MIN_SERVER_VERSION = 130000
# Relations whose rows carry xmin; views and foreign tables do not, and are read without a fence.
FENCED_KINDS = ("r", "p", "m")

# Taken in its own transaction BEFORE the snapshot: a transaction not listed here as open either
# started after this statement or had finished, so it cannot be invisible to the later snapshot
# while having started before `statement_timestamp()` unlisted. Without superuser or
# pg_read_all_stats, other roles' sessions show no xact_start and the engine falls back to a setting.
_SESSIONS = """
SELECT statement_timestamp(),
       (SELECT min(a.xact_start) FROM pg_catalog.pg_stat_activity a
         WHERE a.pid <> pg_catalog.pg_backend_pid() AND a.datname = pg_catalog.current_database()),
       (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
         OR pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE'),
       EXTRACT(timezone FROM statement_timestamp())::int,
       current_setting('server_version_num')::int,
       (SELECT c.relkind::text FROM pg_catalog.pg_class c WHERE c.oid = %s)
"""

# pg_current_snapshot() is the statement's own snapshot, so `newest` is the largest value visible
# in exactly that snapshot, and clock_timestamp() runs after it was taken.
_SNAPSHOT = """
SELECT pg_catalog.pg_snapshot_xmin(s)::text::bigint, pg_catalog.pg_snapshot_xmax(s)::text::bigint,
       clock_timestamp(), {newest}
FROM pg_catalog.pg_current_snapshot() AS s
"""


def capture(
    conn: psycopg.Connection[Any], *, oid: int, schema: str, table: str, column: str, newest: bool
) -> FenceCapture | None:
    """The fence facts for one read, or None when this source or relation cannot be fenced."""
    conn.commit()
    sessions = conn.execute(_SESSIONS, (oid,)).fetchone()
    conn.commit()
    assert sessions is not None
    statement_at, oldest, sees_all, offset, version, relkind = sessions
    if int(version) < MIN_SERVER_VERSION or relkind not in FENCED_KINDS:
        return None
    newest_sql: sql.Composable = sql.SQL("NULL")
    if newest:
        newest_sql = sql.SQL("(SELECT max({c}) FROM {s}.{t})").format(
            c=sql.Identifier(column), s=sql.Identifier(schema), t=sql.Identifier(table)
        )
    row = conn.execute(sql.SQL(_SNAPSHOT).format(newest=newest_sql)).fetchone()
    conn.commit()
    assert row is not None
    before, xmax, captured_at, top = row
    return FenceCapture(
        before=int(before),
        xmax=int(xmax),
        statement_at=statement_at,
        captured_at=captured_at,
        oldest_start=oldest,
        sees_all_sessions=bool(sees_all),
        newest=top,
        utc_offset_seconds=int(offset or 0),
    )


# How many transaction ids ago a row version's xmin was assigned, counted back from this
# transaction's stable "now" (age() reads it once per transaction, so every row and every bound of
# one query share it). age() is int4: masking makes it the unsigned 32-bit distance, exact for every
# unfrozen xmin (PostgreSQL keeps those within 2^31 of now). Measured ~20x cheaper per row than
# rebuilding an xid8 through text.
_AGE = sql.SQL("(pg_catalog.age(xmin)::int8 & 4294967295)")
_WRAP = 2**31


def _fence_conditions(fence: XidFence) -> list[sql.Composable]:
    # `before` came from a snapshot taken just before this read, so its own age is small and exact;
    # a version's xid8 is below `before` iff it is further back than `before` is.
    ref = sql.SQL("pg_catalog.age({}::xid)").format(sql.Literal(str(fence.before & 0xFFFFFFFF)))
    conditions: list[sql.Composable] = [sql.SQL("{} > {}").format(_AGE, ref)]
    if fence.after is not None and fence.before - fence.after < _WRAP:
        span = sql.Literal(fence.before - fence.after)
        conditions.append(sql.SQL("{} <= {} + {}").format(_AGE, ref, span))
    return conditions


def window_conditions(window: DeltaWindow, literal: Any) -> list[sql.Composable]:
    """`start <= delta < end` (with `OR delta IS NULL` when the window takes NULLs) and its fence.

    `literal` renders a bound value as SQL (the caller's typed-literal rule).
    """
    ident = sql.Identifier(window.column)
    ranged: list[sql.Composable] = []
    if window.start is not None:
        ranged.append(sql.SQL("{} >= {}").format(ident, literal(window.start)))
    if window.end is not None:
        ranged.append(sql.SQL("{} < {}").format(ident, literal(window.end)))
    conditions: list[sql.Composable] = []
    if window.nulls and ranged:
        either = sql.SQL(" AND ").join(ranged)
        conditions.append(sql.SQL("({} OR {} IS NULL)").format(either, ident))
    elif not window.nulls:
        conditions.extend(ranged)
    if window.fence is not None:
        conditions.extend(_fence_conditions(window.fence))
    return conditions
