"""The cursor an incremental flow commits with each run, and the window the next run derives from it.

Two kinds of window, both described in docs/incremental.md:

- Fenced (PostgreSQL tables, 13+): a run reads the row versions committed by transactions with
  ids in `[after, before)`, `before` being the xmin of a snapshot taken just before the read and
  `after` the previous run's `before`. Every transaction below a snapshot's xmin has finished, so
  consecutive runs read disjoint sets that together hold every committed version: no tie, late
  commit or out-of-order sequence value is lost or read twice. The delta column only narrows the
  scan (`delta >= lo OR delta IS NULL`), and `lo` must be low enough for every transaction the run
  admits: see `lower_bound`.
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

from headwater.domain.fence import FenceCapture, XidFence
from headwater.runs.window import DeltaKind, Window, as_column_value, decode, delta_kind, encode


@runtime_checkable
class FencedSource(Protocol):
    """A connector that can fence incremental reads by transaction (PostgresConnector)."""

    def capture_fence(self, auth: BaseModel, table: str, column: str, *, newest: bool) -> FenceCapture | None: ...


# Source-clock slack on the start-time bound: a backend publishes its transaction start in
# pg_stat_activity a moment after taking it, and timestamps have microsecond resolution.
BOUND_MARGIN = dt.timedelta(seconds=1)
# Snapshots remembered for choosing `lo`. Only the oldest one still needed matters for correctness;
# the others make `lo` tighter. Dropping one only ever picks an older one, or none (a full scan).
MAX_MARKS = 24


@dataclass(frozen=True)
class Mark:
    """What one run's snapshot proved, kept so a later run can bound its scan.

    Every transaction with an id >= `xmax` started at or after `bound` (it was open, and listed,
    when the sessions were read, or it started later); every delta value visible in the snapshot
    was drawn before `at`, and the largest of them was `newest`.
    """

    xmax: int
    bound: dt.datetime
    at: dt.datetime
    newest: Any = None

    def to_json(self) -> list[Any]:
        return [self.xmax, encode(self.bound), encode(self.at), encode(self.newest)]

    @classmethod
    def from_json(cls, raw: list[Any]) -> Mark:
        return cls(int(raw[0]), decode(raw[1]), decode(raw[2]), decode(raw[3]))


@dataclass(frozen=True)
class Cursor:
    """A committed cursor: `after` set means fenced; otherwise `value` is the next window's start."""

    column: str
    value: Any = None
    after: int | None = None
    marks: tuple[Mark, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"column": self.column, "value": encode(self.value)}
        if self.after is not None:
            out["fence"] = {"after": self.after, "marks": [m.to_json() for m in self.marks]}
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Cursor:
        fence = raw.get("fence") or {}
        return cls(
            column=raw["column"],
            value=decode(raw.get("value")),
            after=int(fence["after"]) if "after" in fence else None,
            marks=tuple(Mark.from_json(m) for m in fence.get("marks", ())),
        )


def start_bound(capture: FenceCapture, *, open_transaction_seconds: float) -> dt.datetime:
    """No transaction the snapshot does not show as committed started before this instant.

    The source lists the start of every open transaction only to a superuser or a member of
    pg_read_all_stats; otherwise no transaction is assumed to stay open longer than the setting.
    """
    if capture.sees_all_sessions:
        bound = capture.statement_at
        if capture.oldest_start is not None and capture.oldest_start < bound:
            bound = capture.oldest_start
    else:
        bound = capture.statement_at - dt.timedelta(seconds=open_transaction_seconds)
    return bound - BOUND_MARGIN


def lower_bound(marks: tuple[Mark, ...], after: int, arrow_type: pa.DataType, utc_offset_seconds: int) -> Any:
    """The smallest delta value a transaction with id >= `after` can have written (None: unknown).

    Such a transaction started at or after the bound of any mark with `xmax <= after`. A timestamp
    it stamps from the database clock (now(), clock_timestamp(), a default) is therefore >= that
    bound; a sequence value it draws is greater than every value visible in a snapshot captured
    before that bound. Values the application writes itself, older than this, are backdated rows.
    """
    usable = [m for m in marks if m.xmax <= after]
    if not usable:
        return None
    bound = usable[-1].bound
    if delta_kind(arrow_type) is DeltaKind.MAX:
        earlier = [m for m in marks if m.at <= bound and m.newest is not None]
        return earlier[-1].newest if earlier else None
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz:
        return bound
    # Zone-less values may have been written as UTC or as the source's local time: take the earlier.
    local = bound + dt.timedelta(seconds=utc_offset_seconds)
    return min(as_column_value(bound, arrow_type), as_column_value(local.replace(tzinfo=dt.UTC), arrow_type))


def _keep(marks: tuple[Mark, ...], after: int, arrow_type: pa.DataType) -> tuple[Mark, ...]:
    """The marks later runs may still choose (their `after` only grows), at most MAX_MARKS of them."""
    usable = [i for i, m in enumerate(marks) if m.xmax <= after]
    first = usable[-1] if usable else 0
    if usable and delta_kind(arrow_type) is DeltaKind.MAX:
        bound = marks[first].bound
        earlier = [i for i, m in enumerate(marks) if m.at <= bound and m.newest is not None]
        first = min(first, earlier[-1]) if earlier else first
    kept = marks[first:]
    if len(kept) > MAX_MARKS:
        kept = kept[:2] + kept[-(MAX_MARKS - 2) :]
    return kept


def fenced_window(
    *,
    column: str,
    arrow_type: pa.DataType,
    committed: Cursor | None,
    first_start: Any,
    capture: FenceCapture,
    open_transaction_seconds: float,
) -> tuple[Window, Cursor]:
    """This run's fenced window and the cursor to commit with its rows.

    `first_start` is where a flow's first run starts (None: a backfill, which reads every row,
    NULL delta values included). A flow whose committed cursor predates fencing starts at its
    value; NULL rows, which such cursors never read, are read once now.
    """
    mark = Mark(
        xmax=capture.xmax,
        bound=start_bound(capture, open_transaction_seconds=open_transaction_seconds),
        at=capture.captured_at,
        newest=capture.newest,
    )
    marks: tuple[Mark, ...] = ()
    after: int | None = None
    if committed is None:
        lo, nulls = first_start, first_start is None
    elif committed.after is None:
        lo, nulls = committed.value, True
    else:
        after, marks = committed.after, committed.marks
        lo, nulls = lower_bound(marks, after, arrow_type, capture.utc_offset_seconds), True
    fence = XidFence(before=capture.before, after=after)
    window = Window(column, lo, None, nulls=nulls, fence=fence)
    history = (*marks, mark)
    cursor = Cursor(column, value=lo, after=capture.before, marks=_keep(history, capture.before, arrow_type))
    return window, cursor
