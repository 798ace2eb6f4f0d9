"""The PostgreSQL side of fenced incremental reads: capturing the snapshot, and the predicate.

Why transaction ids and not the delta column alone: a row's delta value is drawn while its
transaction runs (now(), a sequence) but the row becomes visible only at commit, in a different
order and possibly minutes later. A read that stops at "the newest value" or "now minus a lag"
loses such rows. Transaction ids below a snapshot's xmin, by contrast, all belong to finished
transactions, so "committed with an id in [after, before)" names the same rows whenever it is read.
See docs/incremental.md for the whole argument.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql

from headwater.domain import DeltaWindow
from headwater.domain.fence import SessionFacts, SnapshotFacts, XidFence

# pg_current_snapshot and pg_snapshot_xmin arrived in PostgreSQL 13.
MIN_SERVER_VERSION = 130000
# Relations whose rows carry xmin; views and foreign tables do not, and are read without a fence.
FENCED_KINDS = ("r", "p", "m")
_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")

# Read BEFORE the read's snapshot: a transaction not listed here as open either started after
# this statement or had finished, so none that the snapshot shows as uncommitted started before
# `statement_timestamp()` unlisted. Without superuser or pg_read_all_stats, other roles' sessions
# show no xact_start and the engine falls back to a setting.
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

# The first statement of the read's REPEATABLE READ transaction, so its snapshot is the
# transaction's: `newest` is the largest value visible in exactly that snapshot, clock_timestamp()
# runs after it was taken, and the exported snapshot lets every partition read the same rows.
_SNAPSHOT = """
SELECT pg_catalog.pg_snapshot_xmin(s)::text::bigint, pg_catalog.pg_snapshot_xmax(s)::text::bigint,
       (SELECT count(*) FROM pg_catalog.pg_snapshot_xip(s)), clock_timestamp(), {newest},
       pg_catalog.pg_export_snapshot()
FROM pg_catalog.pg_current_snapshot() AS s
"""


def sessions(conn: psycopg.Connection[Any], *, oid: int) -> SessionFacts | None:
    """The open transactions before a fenced read, or None when this source or relation cannot be fenced."""
    conn.commit()
    row = conn.execute(_SESSIONS, (oid,)).fetchone()
    conn.commit()
    assert row is not None
    statement_at, oldest, sees_all, offset, version, relkind = row
    if int(version) < MIN_SERVER_VERSION or relkind not in FENCED_KINDS:
        return None
    return SessionFacts(
        statement_at=statement_at,
        oldest_start=oldest,
        sees_all_sessions=bool(sees_all),
        utc_offset_seconds=int(offset or 0),
    )


def take_snapshot(
    conn: psycopg.Connection[Any], *, schema: str, table: str, column: str, newest: bool
) -> tuple[SnapshotFacts, str]:
    """Open the read's REPEATABLE READ transaction on `conn` (left open: the snapshot lives as long
    as it does) and return its facts and exported snapshot id."""
    conn.commit()
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    newest_sql: sql.Composable = sql.SQL("NULL")
    if newest:
        newest_sql = sql.SQL("(SELECT max({c}) FROM {s}.{t})").format(
            c=sql.Identifier(column), s=sql.Identifier(schema), t=sql.Identifier(table)
        )
    row = conn.execute(sql.SQL(_SNAPSHOT).format(newest=newest_sql)).fetchone()
    assert row is not None
    before, xmax, running, captured_at, top, exported = row
    facts = SnapshotFacts(before=int(before), xmax=int(xmax), running=int(running), captured_at=captured_at, newest=top)
    return facts, str(exported)


# Above this many distinct transactions the band is left for a later run (the cursor carries the
# ids read, and an Iceberg snapshot summary should stay small); the fence stays exact either way.
MAX_BAND = 1000


def band_ids(conn: psycopg.Connection[Any], *, schema: str, table: str, window: DeltaWindow) -> tuple[int, ...] | None:
    """The committed transactions at or above the snapshot's xmin whose rows this window reads.

    Run in the read's own snapshot, so it names exactly the band the read takes. None when they are
    too many, and for a flow's first read (no fence behind it), which leaves its band to the next run.
    A later scan without a lower bound lists them with a scan of the whole table (no rows out but the
    band's ids): a run that left its band unread makes the next run scan without a lower bound too
    (runs/cursor.py `lower_bound`), so on a source whose snapshots always hold some committed
    transactions back, an unbounded run that did not read its band would be followed by unbounded
    runs for as long as that lasts.
    """
    fence = window.fence
    assert fence is not None and fence.before is not None
    if window.start is None and fence.after is None:
        return None  # the backfill: reading everything already; the next run reads its band
    band = DeltaWindow(window.column, window.start, None, nulls=window.nulls, fence=_band_only(fence))
    where = sql.SQL(" AND ").join(window_conditions(band, sql.Literal))
    ref = sql.SQL("pg_catalog.age({}::xid)").format(sql.Literal(str(fence.before & 0xFFFFFFFF)))
    query = sql.SQL("SELECT DISTINCT {a} - {r}, {r} FROM {s}.{t} WHERE {w} LIMIT {n}").format(
        a=_AGE, r=ref, s=sql.Identifier(schema), t=sql.Identifier(table), w=where, n=sql.Literal(MAX_BAND + 1)
    )
    rows = conn.execute(query).fetchall()
    if len(rows) > MAX_BAND:
        return None
    # A row `offset` further back than `before` has xid8 `before - offset` (offset <= 0 in the band).
    return tuple(sorted(fence.before - int(offset) for offset, _ in rows))


def _band_only(fence: XidFence) -> XidFence:
    """The part of a fence at or above its `before`, minus what earlier runs read."""
    assert fence.before is not None
    return XidFence(before=fence.before, after=fence.before, band=True, exclude=fence.exclude)


def import_snapshot(conn: Any, snapshot: str) -> None:
    """Make an ADBC connection's next transaction read in `snapshot` (exported by `take_snapshot`)."""
    conn.commit()
    cursor = conn.cursor()
    try:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # Snapshot ids are server-made ("00000003-0000801F-1"); checked all the same before quoting.
        if not _SNAPSHOT_ID.fullmatch(snapshot):
            raise ValueError(f"unexpected snapshot id {snapshot!r}")
        cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
    finally:
        cursor.close()


# How many transaction ids ago a row version's xmin was assigned, counted back from this
# transaction's stable "now" (age() reads it once per transaction, so every row and every bound of
# one query share it). age() is int4: masking makes it the unsigned 32-bit distance, exact for every
# unfrozen xmin (PostgreSQL keeps those within 2^31 of now). Measured ~20x cheaper per row than
# rebuilding an xid8 through text.
_AGE = sql.SQL("(pg_catalog.age(xmin)::int8 & 4294967295)")
_WRAP = 2**31


def _fence_conditions(fence: XidFence) -> list[sql.Composable]:
    # `before` came from this read's own snapshot, so its age is small and exact; a version's
    # xid8 is below `before` iff it is further back than `before` is.
    assert fence.before is not None, "the snapshot is taken before the query is built"
    ref = sql.SQL("pg_catalog.age({}::xid)").format(sql.Literal(str(fence.before & 0xFFFFFFFF)))
    conditions: list[sql.Composable] = []
    if not fence.band:
        conditions.append(sql.SQL("{} > {}").format(_AGE, ref))
    if fence.after is not None and fence.before - fence.after < _WRAP:
        span = sql.Literal(fence.before - fence.after)
        conditions.append(sql.SQL("{} <= {} + {}").format(_AGE, ref, span))
    if fence.exclude:
        # Each id as its distance below `before`, in the same arithmetic as the row's.
        offsets = sql.SQL(", ").join(sql.Literal(fence.before - x) for x in fence.exclude)
        conditions.append(sql.SQL("{} - {} <> ALL(ARRAY[{}]::int8[])").format(_AGE, ref, offsets))
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
