"""The scheduler: turns enabled flows' `scheduleParams` into pending run rows.

A run row is unique per (flow, scheduled time), and inserts that hit that constraint are dropped,
so any number of schedulers (one per `headwater serve`) can tick over the same metadata database
without ever creating a run twice.

Times are `startTime + k * interval * unit`, as Adobe's scheduling documentation defines them.
Missed times (scheduler down, or a start time in the past) coalesce into ONE run at the latest due
time: runs read from the committed cursor, so that single run copies everything since the last
commit, and the runs table is not flooded with catch-up rows.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from headwater.domain.kinds import ResourceKind, ResourceState
from headwater.errors import HeadwaterError
from headwater.runs import report
from headwater.runs.ledger import Ledger, RunRow
from headwater.runs.schedule import Schedule, parse_schedule
from headwater.store import Store, now_ms

log = logging.getLogger("headwater.runs.scheduler")


def scheduled_run_id(flow_id: str, scheduled_at_ms: int) -> str:
    """Deterministic, so the two schedulers that race for one slot even agree on the run id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"headwater:run:{flow_id}:{scheduled_at_ms}"))


def latest_due(schedule: Schedule, *, now_s: int, last_ms: int | None) -> int | None:
    """The newest scheduled time (epoch seconds) at or before `now_s` not yet created, if any."""
    start = schedule.start_time
    if now_s < start:
        return None
    if schedule.recurring:
        period = schedule.period_seconds
        due = start + ((now_s - start) // period) * period
    else:
        due = start
    if last_ms is not None and due * 1000 <= last_ms:
        return None
    return due


@dataclass(frozen=True)
class TickReport:
    """What one tick did."""

    flows: int
    due: int
    created: int
    seconds: float


class Scheduler:
    """Creates due runs; `dispatch` hands pending runs to a broker when one is configured."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.ledger = Ledger(store)

    def tick(self, *, now_s: int | None = None) -> TickReport:
        began = time.perf_counter()
        now_s = int(time.time()) if now_s is None else now_s
        flows = self.store.list_all(ResourceKind.FLOW)
        last = self.ledger.last_scheduled()
        due_rows = []
        for flow in flows:
            doc = flow.doc
            if doc.get("state") != ResourceState.ENABLED or not doc.get("scheduleParams"):
                continue  # disabled and draft flows get no runs
            try:
                due = latest_due(parse_schedule(doc["scheduleParams"]), now_s=now_s, last_ms=last.get(flow.id))
            except HeadwaterError:
                log.warning("flow %s has unusable scheduleParams; skipped", flow.id)
                continue
            if due is None:
                continue
            at = due * 1000
            due_rows.append((flow, at))
        created = self.ledger.insert_many(
            [
                {
                    "run_id": scheduled_run_id(flow.id, at),
                    "scope": flow.scope,
                    "flow_id": flow.id,
                    "scheduled_at": at,
                    "doc": report.new_doc(flow_spec=flow.doc.get("flowSpec", {}), trigger="schedule"),
                }
                for flow, at in due_rows
            ]
        )
        return TickReport(len(flows), len(due_rows), created, time.perf_counter() - began)

    def dispatch(self, enqueue: Callable[[str], None], *, requeue_after_s: float) -> int:
        """Hand due runs to the broker. A run not claimed within `requeue_after_s` is handed over again."""
        sent = 0
        now = now_ms()
        for run in self.ledger.due_for_broker(now=now):
            if self._mark(run, until=now + int(requeue_after_s * 1000)):
                enqueue(run.id)
                sent += 1
        return sent

    def _mark(self, run: RunRow, *, until: int) -> bool:
        # Only hand over runs another scheduler did not just hand over (compare-and-set on etag).
        return self.ledger.mark_enqueued(run, until=until)
