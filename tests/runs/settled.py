"""Waiting for the source's transaction horizon, for tests of fenced incremental runs.

A fenced run reads the transactions below its snapshot's xmin: rows committed after an older
transaction began (anywhere in the cluster, e.g. another test) wait for the run after that
transaction ends. Tests that expect rows in a given run wait for that first, so a concurrent test
cannot make them flaky; a lost row would still never arrive.
"""

from __future__ import annotations

import time

import psycopg


def wait_settled(conn: psycopg.Connection, *, timeout: float = 120.0) -> None:
    """Until every transaction that had started when this was called has finished."""
    (target,) = conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint").fetchone() or (0,)
    deadline = time.monotonic() + timeout
    while True:
        (low,) = conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint").fetchone() or (0,)
        if low >= target:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"a transaction older than xid {target} stayed open for {timeout} s")
        time.sleep(0.05)
