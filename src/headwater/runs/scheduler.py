"""The scheduler: turns enabled flows' `scheduleParams` into pending run rows.

A run row is unique per (flow, scheduled time), and inserts that hit that constraint are dropped,
so any number of schedulers (one per `headwater serve`) can tick over the same metadata database
without ever creating a run twice.

Times are `startTime + k * interval * unit`, as Adobe's scheduling documentation defines them.
Missed times (scheduler down, or a start time in the past) coalesce into ONE run at the latest due
time: runs read from the committed cursor, so that single run copies everything since the last
commit, and the runs table is not flooded with catch-up rows.

A tick reads only the flows that are due: each flow row carries `next_due_at`, which every write of
the flow resets to 0 ("look at me") and the tick sets to the flow's next time (or NULL for a
disabled, draft or finished one-time flow), so an idle tick is one empty index range.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from headwater.domain.kinds import ResourceState
from headwater.errors import HeadwaterError
from headwater.runs import report
from headwater.runs.ledger import Ledger, RunRow
from headwater.runs.schedule import Schedule, parse_schedule
from headwater.store import Record, Store, now_ms

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


def next_due(schedule: Schedule, *, now_s: int) -> int | None:
    """The first scheduled time (epoch seconds) after `now_s`, or None when no time is left."""
    start = schedule.start_time
    if now_s < start:
        return start
    if not schedule.recurring:
        return None
    period = schedule.period_seconds
    return start + ((now_s - start) // period + 1) * period


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

    # Due flows read per query: a backlog (all flows due at one hour) is taken in several queries.
    batch = 5000

    def tick(self, *, now_s: int | None = None) -> TickReport:
        began = time.perf_counter()
        now_s = int(time.time()) if now_s is None else now_s
        looked = due = created = 0
        for _ in range(100):
            flows = self.store.due_flows(now_s * 1000, limit=self.batch)
            if not flows:
                break
            looked += len(flows)
            rows, planned = self._plan(flows, now_s=now_s)
            due += len(rows)
            created += self.ledger.insert_many(rows)
            self.store.set_next_due(planned)
            if len(flows) < self.batch:
                break
        return TickReport(looked, due, created, time.perf_counter() - began)

    def _plan(
        self, flows: list[Record], *, now_s: int
    ) -> tuple[list[dict[str, Any]], list[tuple[str, str, int | None]]]:
        """The runs due now among `flows`, and each flow's next due time (ms; None: not until it changes)."""
        last = self.ledger.last_scheduled([f.id for f in flows])
        rows: list[dict[str, Any]] = []
        planned: list[tuple[str, str, int | None]] = []
        for flow in flows:
            doc = flow.doc
            if doc.get("state") != ResourceState.ENABLED or not doc.get("scheduleParams"):
                planned.append((flow.id, flow.etag, None))  # disabled and draft flows get no runs
                continue
            try:
                schedule = parse_schedule(doc["scheduleParams"])
            except HeadwaterError:
                log.warning("flow %s has unusable scheduleParams; skipped", flow.id)
                planned.append((flow.id, flow.etag, None))
                continue
            at = latest_due(schedule, now_s=now_s, last_ms=last.get(flow.id))
            if at is not None:
                rows.append(
                    {
                        "run_id": scheduled_run_id(flow.id, at * 1000),
                        "scope": flow.scope,
                        "flow_id": flow.id,
                        "scheduled_at": at * 1000,
                        "doc": report.new_doc(flow_spec=doc.get("flowSpec", {}), trigger="schedule"),
                    }
                )
            following = next_due(schedule, now_s=now_s)
            planned.append((flow.id, flow.etag, None if following is None else following * 1000))
        return rows, planned

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
