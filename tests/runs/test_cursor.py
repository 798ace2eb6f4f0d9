"""The fenced window's arithmetic without a database: start bounds, `lo`, and the cursor's history (runs/cursor.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pyarrow as pa

from headwater.domain.fence import SessionFacts, SnapshotFacts
from headwater.runs.cursor import MAX_MARKS, Cursor, Mark, lower_bound, plan_fenced, start_bound
from tests.support.seed import SEED

UTC = dt.UTC


def _sessions(at: dt.datetime, oldest: dt.datetime | None, *, sees: bool = True) -> SessionFacts:
    return SessionFacts(statement_at=at, oldest_start=oldest, sees_all_sessions=sees)


def test_the_start_bound_is_the_oldest_open_transaction_or_the_setting() -> None:
    at = dt.datetime(2026, 1, 1, 12, tzinfo=UTC)
    old = at - dt.timedelta(minutes=30)
    second = dt.timedelta(seconds=1)
    assert start_bound(_sessions(at, old), open_transaction_seconds=60) == old - second
    assert start_bound(_sessions(at, None), open_transaction_seconds=60) == at - second
    assert start_bound(_sessions(at, None, sees=False), open_transaction_seconds=60) == at - 61 * second


def test_lo_comes_from_a_snapshot_older_than_every_admitted_transaction() -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=UTC)
    s = dt.timedelta(seconds=1)
    marks = (
        Mark(xmax=100, bound=t0, at=t0 + s, newest=50, lo=10, held=False),
        Mark(xmax=200, bound=t0 + 60 * s, at=t0 + 61 * s, newest=90, lo=50, held=False),
        Mark(xmax=300, bound=t0 + 120 * s, at=t0 + 121 * s, newest=140, lo=90, held=False),
    )
    # Transactions >= 250 started after mark 2's bound; sequence values drawn after it exceed
    # what the last snapshot captured before that bound (mark 1) saw.
    assert lower_bound(marks, 250, pa.int64(), 0) == 50
    assert lower_bound(marks, 300, pa.int64(), 0) == 90
    assert lower_bound(marks, 99, pa.int64(), 0) is None  # no mark old enough: scan everything
    assert lower_bound(marks, 250, pa.timestamp("us", tz="UTC"), 0) == t0 + 60 * s
    # Zone-less timestamps: the earlier of UTC and the source's local reading (UTC-5 here).
    assert lower_bound(marks, 250, pa.timestamp("us"), -5 * 3600) == dt.datetime(2026, 1, 1, 0, 1) - dt.timedelta(
        hours=5
    )
    assert lower_bound(marks, 250, pa.date32(), 0) == dt.date(2026, 1, 1)
    # A snapshot that held committed transactions back drags lo down to where its run started.
    dragged = (*marks[:2], dataclasses.replace(marks[2], held=True, lo=7))
    assert lower_bound(dragged, 250, pa.int64(), 0) == 7
    assert lower_bound(dragged, 300, pa.int64(), 0) == 90  # once the horizon passed it, no longer


def test_the_cursor_round_trips_and_keeps_a_bounded_history() -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=UTC)
    committed: Cursor | None = None
    rng = random.Random(SEED)
    for i in range(3 * MAX_MARKS):
        # A transaction that never ends holds every snapshot's xmin at 1000 while xmax grows.
        at = t0 + dt.timedelta(seconds=10 * i)
        plan = plan_fenced(
            column="id",
            arrow_type=pa.int64(),
            committed=committed,
            first_start=None,
            sessions=_sessions(at, t0),
            open_transaction_seconds=60,
        )
        assert plan.window.fence is not None and plan.window.fence.before is None
        assert plan.window.nulls and plan.window.end is None
        snapshot = SnapshotFacts(
            before=1000, xmax=1000 + 10 * (i + 1), running=1, captured_at=at, newest=rng.randint(0, 10**6)
        )
        cursor = plan.cursor(snapshot, pa.int64())
        committed = Cursor.from_json(cursor.to_json())
        assert committed == cursor
        assert len(committed.marks) <= MAX_MARKS
    assert committed is not None and committed.after == 1000
