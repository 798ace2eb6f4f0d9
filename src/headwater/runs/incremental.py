"""Choosing a run's window: fenced by transaction ids where the source allows it, by value otherwise.

docs/incremental.md states the semantics; runs/cursor.py (fenced) and runs/window.py (value windows)
hold the arithmetic. This module decides which applies to a run and gathers what it needs.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from headwater.domain import DeltaWindow, ReadRequest
from headwater.domain.fence import SnapshotFacts
from headwater.runs.cursor import Cursor, FencedPlan, FencedSource, plan_fenced
from headwater.runs.plan import FlowPlan
from headwater.runs.window import (
    DeltaKind,
    Window,
    as_column_value,
    decode,
    delta_kind,
    epoch_to_datetime,
    time_end,
    to_epoch_ms,
)
from headwater.settings import RunSettings
from headwater.store import now_ms

_UNSEEN_SESSIONS = (
    "Incremental read: the source role cannot see other sessions' transaction start times, so "
    "Headwater assumes no write transaction stays open longer than {s:g} s "
    "(HEADWATER_RUN_OPEN_TRANSACTION_SECONDS). Grant pg_read_all_stats to the role to remove the assumption."
)
_UNFENCED = (
    "Incremental read by delta value only (a view, a foreign table or PostgreSQL before 13): rows that "
    "commit later than HEADWATER_RUN_SAFETY_LAG_SECONDS after their delta value was taken can be missed."
)


@dataclass
class Chosen:
    """A run's window; `cursor` is known now for value windows, after the read's snapshot when `fenced`."""

    window: Window | None = None
    cursor: dict[str, Any] | None = None
    fenced: FencedPlan | None = None
    notices: list[str] = field(default_factory=list)


def choose_window(
    plan: FlowPlan,
    *,
    committed: Callable[[], dict[str, Any] | None],
    doc: dict[str, Any],
    scheduled_at: int,
    settings: RunSettings,
) -> Chosen:
    """The window of the run whose document is `doc`; `committed()` reads the flow's committed cursor."""
    params = doc.get("params") or {}
    delta, schedule = plan.delta_column, plan.definition.schedule
    if delta is None or plan.delta_type is None:
        return Chosen()
    if not plan.incremental or schedule is None:
        # An on-demand run of a one-time flow reads the window its caller named and moves no cursor.
        ws, we = params.get("windowStartTime"), params.get("windowEndTime")
        if ws is None and we is None:
            return Chosen()
        start = as_column_value(epoch_to_datetime(ws), plan.delta_type) if ws is not None else None
        end = as_column_value(epoch_to_datetime(we), plan.delta_type) if we is not None else None
        return Chosen(Window(delta, start, end))
    raw = committed()
    cursor = Cursor.from_json(raw) if raw and raw.get("column") == delta else None
    first_start = None
    if not schedule.backfill:
        first_start = as_column_value(epoch_to_datetime(schedule.start_time), plan.delta_type)
    # A fenced window is chosen afresh by every attempt: its read takes its own snapshot, and the
    # committed cursor it starts from cannot have moved, since no attempt of this run committed.
    source = plan.connector
    sessions = source.fence_sessions(plan.auth, plan.table) if isinstance(source, FencedSource) else None
    if sessions is not None:
        notices = [] if sessions.sees_all_sessions else [_UNSEEN_SESSIONS.format(s=settings.open_transaction_seconds)]
        fenced = plan_fenced(
            column=delta,
            arrow_type=plan.delta_type,
            committed=cursor,
            first_start=first_start,
            sessions=sessions,
            open_transaction_seconds=settings.open_transaction_seconds,
        )
        return Chosen(fenced.window, fenced=fenced, notices=notices)
    notices = [_UNFENCED] if isinstance(source, FencedSource) else []
    start = cursor.value if cursor is not None else first_start
    stored = doc.get("_window")
    prior = cursor.held if cursor is not None else None
    if stored and stored.get("column") == delta and stored.get("end") is not None and "fence" not in stored:
        # A retry re-reads the same value window the first attempt chose.
        end = decode(stored["end"])
        held = _held_after(plan, end, prior, now_ms=now_ms())
    else:
        end = value_end(plan, start, scheduled_at=scheduled_at, settings=settings)
        end, held = release_held(plan, start, end, prior, now_ms=now_ms(), lag_seconds=settings.safety_lag_seconds)
    # NULL delta values belong to no value window; the flow's first (backfill) run takes them.
    window = Window(delta, start, end, nulls=cursor is None and start is None)
    next_cursor = Cursor(delta, value=end if end is not None else start, held=held)
    return Chosen(window, next_cursor.to_json(), notices=notices)


def _releasable(plan: FlowPlan) -> bool:
    """Integer delta columns have a successor value, so a held value can be read on its own."""
    return plan.delta_type is not None and pa.types.is_integer(plan.delta_type)


def release_held(
    plan: FlowPlan, start: Any, newest: Any, prior: tuple[int, int] | None, *, now_ms: int, lag_seconds: float
) -> tuple[Any, tuple[int, int] | None]:
    """The end of an integer value window, and the value it holds back for the next run.

    `newest` is the largest value present now. Its rows normally wait (the window ends at it,
    exclusive), because rows tied with it may still appear. Once it has stayed the newest value for
    the safety lag since a run first held it back, the window takes it too (`newest + 1`): the last
    rows of a table that stops growing land one run later instead of never. A tie that becomes
    visible later than that is below the cursor and missed, as a late row of a time window is.
    """
    if newest is None or not _releasable(plan):
        return newest, None
    if prior is not None and prior[0] == newest:
        if now_ms - prior[1] >= lag_seconds * 1000:
            return newest + 1, None
        return newest, prior
    if prior is None and start is not None and newest == start:
        # A cursor committed before values were held explicitly: its value was held at least one
        # run ago, longer than any lag a schedule allows.
        return newest + 1, None
    return newest, (newest, now_ms)


def _held_after(plan: FlowPlan, end: Any, prior: tuple[int, int] | None, *, now_ms: int) -> Any:
    """What a retry of the window `[start, end)` holds back: the same as its first attempt did."""
    if end is None or not _releasable(plan):
        return None
    if prior is not None and prior[0] + 1 == end:
        return None  # the first attempt released the held value
    return prior if prior is not None and prior[0] == end else (end, now_ms)


def value_end(plan: FlowPlan, start: Any, *, scheduled_at: int, settings: RunSettings) -> Any:
    """Where a value window ends: the lagged clock for time columns, the newest value otherwise."""
    assert plan.delta_column is not None and plan.delta_type is not None
    kind = delta_kind(plan.delta_type)
    now = dt.datetime.now(dt.UTC)
    if kind in (DeltaKind.TIME, DeltaKind.DATE):
        scheduled = dt.datetime.fromtimestamp(scheduled_at / 1000, tz=dt.UTC)
        return time_end(
            scheduled=scheduled, now=now, lag_seconds=settings.safety_lag_seconds, arrow_type=plan.delta_type
        )
    # Bounded by the newest value present now, exclusive: rows with that value wait a run.
    delta = plan.delta_column
    request = ReadRequest(plan.table, columns=(delta,), window=DeltaWindow(delta, start, None))
    newest = None
    for batch in plan.connector.read(plan.auth, request):
        value = pc.max(batch.column(0)).as_py()
        if value is not None and (newest is None or value > newest):
            newest = value
    return newest if newest is not None else start


def with_fenced_end(doc: dict[str, Any], snapshot: SnapshotFacts, arrow_type: pa.DataType) -> dict[str, Any]:
    """The run's `windowEnd` once its fenced read took its snapshot.

    A fenced window ends at a transaction boundary, not at a value; what a user can compare with
    the source is the instant the snapshot was taken (epoch ms, for time columns) or the newest
    delta value it held (other columns). Rows of transactions still open then are read by a later
    run, whatever their delta value.
    """
    end = snapshot.captured_at if delta_kind(arrow_type) is not DeltaKind.MAX else snapshot.newest
    out = copy.deepcopy(doc)
    for activity in out.get("activities", []):
        activity.setdefault("durationSummary", {}).setdefault("extensions", {})["windowEnd"] = to_epoch_ms(end)
    return out
