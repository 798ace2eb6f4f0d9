"""Schedule arithmetic and scheduler ticks."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from headwater.runs.ledger import Ledger
from headwater.runs.schedule import parse_schedule
from headwater.runs.scheduler import Scheduler, latest_due, scheduled_run_id
from headwater.store import Store
from tests.runs.source import SCOPE

START = 1_700_000_000


@pytest.mark.parametrize(
    ("schedule", "now", "last", "expected"),
    [
        ({"startTime": START, "frequency": "once"}, START - 1, None, None),
        ({"startTime": str(START), "frequency": "once"}, START, None, START),
        ({"startTime": START, "frequency": "once"}, START + 999, START * 1000, None),
        ({"startTime": START, "frequency": "minute", "interval": "15"}, START + 31 * 60, None, START + 30 * 60),
        ({"startTime": START, "frequency": "minute", "interval": 15}, START + 31 * 60, (START + 1800) * 1000, None),
        ({"startTime": START, "frequency": "hour", "interval": 2}, START + 5 * 3600, (START + 7200) * 1000,
         START + 4 * 3600),
        ({"startTime": START, "frequency": "day", "interval": 15}, START + 16 * 86400, None, START + 15 * 86400),
        ({"startTime": START, "frequency": "week", "interval": 1}, START + 6 * 86400, None, START),
    ],
)
def test_latest_due(schedule: dict[str, Any], now: int, last: int | None, expected: int | None) -> None:
    assert latest_due(parse_schedule(schedule), now_s=now, last_ms=last) == expected


def _flow(store: Store, state: str, schedule: dict[str, Any]) -> str:
    doc = {"name": "f", "flowSpec": {"id": "x"}, "state": state, "scheduleParams": schedule}
    return store.insert("flow", SCOPE, id=str(uuid.uuid4()), doc=doc).id


def test_ticks_create_each_due_run_once_and_skip_disabled_flows(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'meta.db'}")
    store.migrate()
    every_15 = {"startTime": str(START), "frequency": "minute", "interval": "15", "backfill": "false"}
    live = _flow(store, "enabled", every_15)
    _flow(store, "disabled", every_15)
    _flow(store, "draft", every_15)
    once = _flow(store, "enabled", {"startTime": START + 60, "frequency": "once"})
    sched = Scheduler(store)
    assert sched.tick(now_s=START - 1).created == 0  # nothing is due before the start time
    assert sched.tick(now_s=START).created == 1
    assert sched.tick(now_s=START + 100).created == 1  # the one-time flow
    assert sched.tick(now_s=START + 101).created == 0
    assert sched.tick(now_s=START + 900).created == 1
    # A long outage coalesces into one run at the newest due time.
    assert sched.tick(now_s=START + 10 * 900 + 5).created == 1
    rows = Ledger(store).for_scope(SCOPE)
    by_flow: dict[str, list[int]] = {}
    for r in rows:
        by_flow.setdefault(r.flow_id, []).append(r.scheduled_at // 1000)
    # Sorted: runs created by ticks within one millisecond tie on created_at, and then list by id.
    assert {f: sorted(times) for f, times in by_flow.items()} == {
        live: [START, START + 900, START + 9000],
        once: [START + 60],
    }
    assert {r.id for r in rows} == {scheduled_run_id(r.flow_id, r.scheduled_at) for r in rows}
