"""The scheduler reads only due flows: exactly the due runs, idle ticks that read one empty index
range, and flows looked at again when they change."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event

from headwater.runs.ledger import Ledger
from headwater.runs.schedule import parse_schedule
from headwater.runs.scheduler import Scheduler, next_due
from headwater.store import Store
from tests.runs.source import SCOPE

START = 1_700_000_000
HOURLY = {"startTime": str(START), "frequency": "hour", "interval": "1"}
FAR = {"startTime": str(START + 10 * 365 * 86400), "frequency": "hour", "interval": "1"}


def _flow(store: Store, schedule: dict[str, Any], state: str = "enabled") -> str:
    doc = {"name": "f", "flowSpec": {"id": "x"}, "state": state, "scheduleParams": schedule}
    return store.insert("flow", SCOPE, id=str(uuid.uuid4()), doc=doc).id


def _statements(store: Store) -> tuple[list[str], Any]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(store.engine, "before_cursor_execute", count)
    return seen, count


def test_next_due_is_the_first_time_after_now() -> None:
    hourly = parse_schedule(HOURLY)
    assert next_due(hourly, now_s=START - 5) == START
    assert next_due(hourly, now_s=START) == START + 3600
    assert next_due(hourly, now_s=START + 3599) == START + 3600
    assert next_due(parse_schedule({"startTime": START, "frequency": "once"}), now_s=START) is None


def test_a_tick_creates_exactly_the_due_runs_and_an_idle_tick_reads_one_range(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'meta.db'}")
    store.migrate()
    due = {_flow(store, HOURLY) for _ in range(40)}
    for _ in range(2000):
        _flow(store, FAR)
    disabled = _flow(store, HOURLY, state="disabled")
    sched = Scheduler(store)
    # The first tick plans every flow once (each write asked for it) and creates the 40 due runs.
    first = sched.tick(now_s=START + 10)
    assert (first.created, first.due) == (40, 40)
    created = {r.flow_id for r in Ledger(store).for_scope(SCOPE)}
    assert created == due and disabled not in created
    # Idle: nothing is due until the next hour, and the tick reads one empty range.
    seen, listener = _statements(store)
    try:
        idle = sched.tick(now_s=START + 20)
    finally:
        event.remove(store.engine, "before_cursor_execute", listener)
    assert (idle.flows, idle.created) == (0, 0)
    assert len(seen) == 1, seen
    # At the next hour, exactly the 40 hourly flows are looked at, not the 2,000 others.
    hour = sched.tick(now_s=START + 3600)
    assert (hour.flows, hour.created) == (40, 40)
    assert sched.tick(now_s=START + 3601).flows == 0
    # A change to a flow (here: enabling it) makes the next tick look at it, and only at it.
    record = store.get("flow", SCOPE, disabled)
    assert record is not None
    store.update(
        "flow", SCOPE, disabled, doc={**record.doc, "state": "enabled"}, secrets=None, expected_etag=record.etag
    )
    again = sched.tick(now_s=START + 3602)
    assert (again.flows, again.created) == (1, 1)
    assert Ledger(store).for_scope(SCOPE, flow_ids=[disabled])[0].scheduled_at == (START + 3600) * 1000


def test_a_flow_changed_while_a_tick_plans_it_is_planned_again(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'meta.db'}")
    store.migrate()
    flow_id = _flow(store, FAR)
    record = store.get("flow", SCOPE, flow_id)
    assert record is not None
    # The tick read the flow at this etag; the flow changes before the tick stores its plan.
    changed = store.update(
        "flow", SCOPE, flow_id, doc={**record.doc, "scheduleParams": HOURLY}, secrets=None, expected_etag=record.etag
    )
    store.set_next_due([(flow_id, record.etag, (START + 10 * 365 * 86400) * 1000)])
    assert store.due_flows(START * 1000)[0].etag == changed.etag  # still due: the stale plan was not kept
    assert Scheduler(store).tick(now_s=START + 5).created == 1
