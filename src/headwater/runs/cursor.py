"""The cursor an incremental flow commits with each run, and the window the next run derives from it.

Two kinds of window, both described in docs/incremental.md:

- Fenced (PostgreSQL tables, 13+): a run reads, in one snapshot, the row versions committed by
  transactions with ids in `[after, before)`, `before` being that snapshot's xmin and `after` the
  previous run's `before`. Every transaction below a snapshot's xmin has finished, so consecutive
  runs read disjoint sets that together hold every committed version: no tie, late commit,
  savepoint or out-of-order sequence value is lost or read twice. The committed transactions at
  or above `before` (the band) are read too when few enough, and their ids kept in the cursor so
  no later run reads them again. The delta column only narrows the scan (`delta >= lo OR delta IS
  NULL`), and `lo` must be low enough for every version the run admits: see `lower_bound`.
- Value windows (BigQuery, views, older servers): `start <= delta < end` as in runs/window.py.

The cursor is JSON inside the Iceberg snapshot that holds the run's rows, so it advances exactly
when they land.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa
from pydantic import BaseModel

from headwater.domain.fence import SessionFacts, SnapshotFacts, XidFence
from headwater.runs.window import DeltaKind, Window, as_column_value, decode, delta_kind, encode


@runtime_checkable
class FencedSource(Protocol):
    """A connector that can fence incremental reads by transaction (PostgresConnector)."""

    def fence_sessions(self, auth: BaseModel, table: str) -> SessionFacts | None: ...

    def fence_snapshot(self, auth: BaseModel, table: str, column: str) -> SnapshotFacts:
        """The facts of a snapshot taken now, in a transaction that ends before this returns."""
        ...


# Source-clock slack on the start-time bound: a backend publishes its transaction start in
# pg_stat_activity a moment after taking it, and timestamps have microsecond resolution.
BOUND_MARGIN = dt.timedelta(seconds=1)
# Snapshots remembered for choosing `lo`. Merging two only ever makes `lo` lower (a longer scan).
MAX_MARKS = 24


@dataclass(frozen=True)
class Mark:
    """What one run's snapshot proved, kept so later runs can bound their scans.

    Every transaction with an id >= `xmax` started at or after `bound` (it was open, and listed,
    when the sessions were read, or it started later); every delta value visible in the snapshot
    was drawn before `at`, and the largest of them was `newest`. `lo` is where that run's scan
    started (None: unbounded); `held` says the snapshot may have held committed transactions back
    (ids between its xmin and xmax that it did not list as running).
    """

    xmax: int
    bound: dt.datetime
    at: dt.datetime
    newest: Any = None
    lo: Any = None
    held: bool = True

    def to_json(self) -> list[Any]:
        return [self.xmax, encode(self.bound), encode(self.at), encode(self.newest), encode(self.lo), self.held]

    @classmethod
    def from_json(cls, raw: list[Any]) -> Mark:
        return cls(int(raw[0]), decode(raw[1]), decode(raw[2]), decode(raw[3]), decode(raw[4]), bool(raw[5]))

    def merge(self, later: Mark) -> Mark:
        """One mark standing for two neighbours, weaker than either on every use (so always safe)."""
        newest = None if self.newest is None or later.newest is None else min(self.newest, later.newest)
        return Mark(
            max(self.xmax, later.xmax),
            min(self.bound, later.bound),
            max(self.at, later.at),
            newest,
            _lowest(self.lo, later.lo),
            self.held or later.held,
        )


def _lowest(a: Any, b: Any) -> Any:
    """The lower of two scan starts, None being unbounded."""
    return None if a is None or b is None else min(a, b)


@dataclass(frozen=True)
class Cursor:
    """A committed cursor: `after` set means fenced; otherwise `value` is the next window's start."""

    column: str
    value: Any = None
    after: int | None = None
    marks: tuple[Mark, ...] = ()
    band: tuple[int, ...] = ()  # ids at or above `after` whose rows were already read
    # Value windows over integers: the newest value a run held back (its rows wait, since ties may
    # still arrive) and when it was first seen (epoch ms); see runs/window.py `release_held`.
    held: tuple[int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"column": self.column, "value": encode(self.value)}
        if self.held is not None:
            out["held"] = {"value": self.held[0], "seenAt": self.held[1]}
        if self.after is not None:
            marks = [m.to_json() for m in self.marks]
            out["fence"] = {"after": self.after, "marks": marks, "band": list(self.band)}
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Cursor:
        fence = raw.get("fence") or {}
        held = raw.get("held")
        return cls(
            column=raw["column"],
            value=decode(raw.get("value")),
            after=int(fence["after"]) if "after" in fence else None,
            marks=tuple(Mark.from_json(m) for m in fence.get("marks", ())),
            band=tuple(int(x) for x in fence.get("band", ())),
            held=(int(held["value"]), int(held["seenAt"])) if held else None,
        )


def start_bound(sessions: SessionFacts, *, open_transaction_seconds: float) -> dt.datetime:
    """No transaction that a later snapshot shows as uncommitted started before this instant.

    The source lists the start of every open transaction only to a superuser or a member of
    pg_read_all_stats; otherwise no transaction is assumed to stay open longer than the setting.
    """
    if sessions.sees_all_sessions:
        bound = sessions.statement_at
        if sessions.oldest_start is not None and sessions.oldest_start < bound:
            bound = sessions.oldest_start
    else:
        bound = sessions.statement_at - dt.timedelta(seconds=open_transaction_seconds)
    return bound - BOUND_MARGIN


def lower_bound(marks: tuple[Mark, ...], after: int, arrow_type: pa.DataType, utc_offset_seconds: int) -> Any:
    """The smallest delta value a version this run admits (transaction id >= `after`) can hold.

    Such a transaction started at or after the bound of any mark with `xmax <= after`. A timestamp
    it stamps from the database clock (now(), clock_timestamp(), a default) is therefore >= that
    bound; a sequence value it draws is greater than every value visible in a snapshot captured
    before that bound. A version may also carry the value of an older version no run read: an
    update that left the delta column alone, committed but held back (id above xmin) when the
    older version's own run read. Only a snapshot that held committed transactions back, with
    `xmax > after`, can have hidden such an older version, and that run's scan started no higher
    than its value. Values the application writes itself, older than all this, are backdated rows.
    None: unknown, scan every value.
    """
    usable = [m for m in marks if m.xmax <= after]
    if not usable:
        return None
    bound = usable[-1].bound
    lo: Any
    if delta_kind(arrow_type) is DeltaKind.MAX:
        earlier = [m for m in marks if m.at <= bound and m.newest is not None]
        lo = earlier[-1].newest if earlier else None
    elif pa.types.is_timestamp(arrow_type) and arrow_type.tz:
        lo = bound
    else:
        # Zone-less values may have been written as UTC or as the source's local time: take the earlier.
        local = (bound + dt.timedelta(seconds=utc_offset_seconds)).replace(tzinfo=dt.UTC)
        lo = min(as_column_value(bound, arrow_type), as_column_value(local, arrow_type))
    for mark in marks:
        if mark.held and mark.xmax > after:
            lo = _lowest(lo, mark.lo)
    return lo


def _keep(marks: tuple[Mark, ...], after: int, arrow_type: pa.DataType) -> tuple[Mark, ...]:
    """The marks later runs may still use (their `after` only grows), merged down to MAX_MARKS."""
    usable = [i for i, m in enumerate(marks) if m.xmax <= after]
    first = usable[-1] if usable else 0
    if usable and delta_kind(arrow_type) is DeltaKind.MAX:
        bound = marks[first].bound
        earlier = [i for i, m in enumerate(marks) if m.at <= bound and m.newest is not None]
        # None old enough yet: every mark is kept, since a later run's bound (later in time) may reach
        # one. Dropping them made frequent runs (closer together than a transaction's length plus the
        # bound's margin) go without a lower bound for as long as they kept coming.
        first = min(first, earlier[-1]) if earlier else 0
    kept = list(marks[first:])
    while len(kept) > MAX_MARKS:
        # Merging the two oldest loses precision where it matters least, never correctness.
        kept[0:2] = [kept[0].merge(kept[1])]
    return tuple(kept)


def facts_to_json(facts: SnapshotFacts) -> dict[str, Any]:
    """A snapshot's facts as kept with a chunked read's plan (the band is never part of them)."""
    return {
        "before": facts.before,
        "xmax": facts.xmax,
        "running": facts.running,
        "capturedAt": encode(facts.captured_at),
        "newest": encode(facts.newest),
    }


def facts_from_json(raw: dict[str, Any]) -> SnapshotFacts:
    return SnapshotFacts(
        before=int(raw["before"]),
        xmax=int(raw["xmax"]),
        running=int(raw["running"]),
        captured_at=decode(raw["capturedAt"]),
        newest=decode(raw.get("newest")),
    )


@dataclass(frozen=True)
class FencedPlan:
    """A fenced run before its read: the window to read, and what its cursor will be built from."""

    window: Window
    committed_marks: tuple[Mark, ...]
    bound: dt.datetime

    def cursor(self, snapshot: SnapshotFacts, arrow_type: pa.DataType) -> Cursor:
        """The cursor to commit once the read has taken its snapshot."""
        # Committed versions above the horizon were either read now (the band) or left for later;
        # only the latter can hide a replaced version from this run (see lower_bound).
        held = snapshot.band is None and snapshot.xmax - snapshot.before > snapshot.running
        mark = Mark(
            xmax=snapshot.xmax,
            bound=self.bound,
            at=snapshot.captured_at,
            newest=snapshot.newest,
            lo=self.window.start,
            held=held,
        )
        history = _keep((*self.committed_marks, mark), snapshot.before, arrow_type)
        fence = self.window.fence
        earlier = fence.exclude if fence is not None else ()
        band = tuple(sorted({x for x in (*earlier, *(snapshot.band or ())) if x >= snapshot.before}))
        return Cursor(self.window.column, value=self.window.start, after=snapshot.before, marks=history, band=band)

    @property
    def chunkable(self) -> bool:
        """A flow's first full read (a backfill: no lower bound, no fence behind it) may be read in chunks."""
        fence = self.window.fence
        return self.window.start is None and self.window.end is None and fence is not None and fence.after is None

    def chunked_cursor(self, start: SnapshotFacts, end: SnapshotFacts, arrow_type: pa.DataType) -> Cursor:
        """The cursor of a backfill read in chunks below the fence `start.before`, with `end` taken after them.

        Each chunk read, in its own later snapshot, the versions of transactions below the fence. A
        version replaced before its chunk was read is missing; the version that replaced it was
        written by a transaction at or above the fence, so the following runs read it, and none
        of them may narrow its scan with `lo` (the replacement may carry an old delta value): the
        mark below, held and reaching up to `end.xmax`, makes `lower_bound` return None for every
        run whose `after` is under the last id assigned while the chunks were read.
        """
        assert self.chunkable
        mark = Mark(xmax=end.xmax, bound=self.bound, at=end.captured_at, newest=end.newest, lo=None, held=True)
        history = _keep((*self.committed_marks, mark), start.before, arrow_type)
        return Cursor(self.window.column, value=None, after=start.before, marks=history, band=())


def plan_fenced(
    *,
    column: str,
    arrow_type: pa.DataType,
    committed: Cursor | None,
    first_start: Any,
    sessions: SessionFacts,
    open_transaction_seconds: float,
) -> FencedPlan:
    """This run's fenced window; its fence's `before` is left to the read's own snapshot.

    `first_start` is where a flow's first run starts (None: a backfill, which reads every row,
    NULL delta values included). A flow whose committed cursor predates fencing starts at its
    value; NULL rows, which such cursors never read, are read once now.
    """
    marks: tuple[Mark, ...] = ()
    after: int | None = None
    exclude: tuple[int, ...] = ()
    if committed is None:
        lo, nulls = first_start, first_start is None
    elif committed.after is None:
        lo, nulls = committed.value, True
    else:
        after, marks, exclude = committed.after, committed.marks, committed.band
        lo, nulls = lower_bound(marks, after, arrow_type, sessions.utc_offset_seconds), True
    window = Window(column, lo, None, nulls=nulls, fence=XidFence(before=None, after=after, exclude=exclude))
    bound = start_bound(sessions, open_transaction_seconds=open_transaction_seconds)
    return FencedPlan(window=window, committed_marks=marks, bound=bound)
