"""The run reads every list makes, built once: a page of runs, and the last ended run of each flow in a page.

Building a select per request cost more than running it (a page of flows asks for its flows' last
runs on every list).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, bindparam, cast, func, literal_column, select

from headwater.runs.model import RunStatus
from headwater.store.driver_reads import DriverRead
from headwater.store.paging import PagedStatements
from headwater.store.statements import doc_values, ids_table
from headwater.store.tables import runs


@dataclass(frozen=True)
class LastRun:
    """A flow's last ended run, as the flow shows it (`lastRunDetails`)."""

    id: str
    status: RunStatus
    started_at: Any  # the run's metrics.durationSummary times, as the run reports them
    completed_at: Any


# The statuses of an ended run, as a flow's lastRunDetails shows it (a cancelled run is not shown).
ENDED = [RunStatus.SUCCESS.value, RunStatus.FAILED.value]


def _last_finished(*, postgres: bool) -> Any:
    """Each flow's newest ended run: per flow, one seek into the ended runs' partial index
    (`ix_runs_flow_last_ended`), however many runs the flow has had.

    The statuses are written into the statement, not bound: the database uses a partial index only
    for a condition it can see implies the index's own (`tables.RUNS_ENDED`).
    """
    flows = ids_table("flow_ids", postgres=postgres)
    newest = runs.alias("newest")
    newest_id = (
        select(newest.c.id)
        .where(
            newest.c.flow_id == flows.c.value,
            newest.c.status.in_([literal_column(f"'{status}'") for status in ENDED]),
            newest.c.org == bindparam("org"),
            newest.c.sandbox == bindparam("sandbox"),
        )
        .order_by(newest.c.updated_at.desc(), newest.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    # Only what a flow shows of its last run: the database extracts the two times from the run's doc,
    # which is not decoded (a page of flows decoded 20 run docs per request for four fields).
    duration = ("metrics", "durationSummary")
    times = doc_values(runs.c.doc, ((*duration, "startedAtUTC"), (*duration, "completedAtUTC")), postgres=postgres)
    return select(runs.c.id, runs.c.flow_id, runs.c.status, times.label("times")).where(
        runs.c.id.in_(select(newest_id).select_from(flows))
    )


def _last_scheduled(*, postgres: bool) -> Any:
    """Each flow's newest `scheduled_at`: per flow, the max of its (flow_id, scheduled_at) key, which
    both databases answer from the end of the unique index instead of reading the flow's history."""
    flows = ids_table("flow_ids", postgres=postgres)
    scheduled = runs.alias("scheduled")
    newest = select(func.max(scheduled.c.scheduled_at)).where(scheduled.c.flow_id == flows.c.value).scalar_subquery()
    return select(flows.c.value.label("flow_id"), newest.label("at")).select_from(flows)


LAST_FINISHED = {False: DriverRead(_last_finished(postgres=False)), True: DriverRead(_last_finished(postgres=True))}
LAST_SCHEDULED = {False: _last_scheduled(postgres=False), True: _last_scheduled(postgres=True)}
# Every column, the doc as text: decoding it shows whether it renders as is (store/json_codec.py).
_COLUMNS = [cast(c, Text).label("doc") if c.name == "doc" else c for c in runs.c]
SCOPED_RUNS = select(*_COLUMNS).where(runs.c.org == bindparam("org"), runs.c.sandbox == bindparam("sandbox"))
RUN_PAGES = PagedStatements(runs, SCOPED_RUNS)
