"""The run reads every list makes, built once: a page of runs, and the last ended run of each flow in a page.

Building a select per request cost more than running it (a page of flows asks for its flows' last
runs on every list).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, and_, bindparam, cast, func, select

from headwater.runs.model import RunStatus
from headwater.store.paging import PagedStatements
from headwater.store.statements import doc_values
from headwater.store.tables import runs


@dataclass(frozen=True)
class LastRun:
    """A flow's last ended run, as the flow shows it (`lastRunDetails`)."""

    id: str
    status: RunStatus
    started_at: Any  # the run's metrics.durationSummary times, as the run reports them
    completed_at: Any


def _last_finished(*, postgres: bool) -> Any:
    in_scope = and_(
        runs.c.org == bindparam("org"),
        runs.c.sandbox == bindparam("sandbox"),
        runs.c.status.in_(bindparam("ended", expanding=True)),
        runs.c.flow_id.in_(bindparam("flow_ids", expanding=True)),
    )
    newest = (
        select(runs.c.flow_id, func.max(runs.c.updated_at).label("at")).where(in_scope).group_by(runs.c.flow_id)
    ).subquery()
    # Only what a flow shows of its last run: the database extracts the two times from the run's doc,
    # which is not decoded (a page of flows decoded 20 run docs per request for four fields).
    duration = ("metrics", "durationSummary")
    times = doc_values(runs.c.doc, ((*duration, "startedAtUTC"), (*duration, "completedAtUTC")), postgres=postgres)
    return (
        select(runs.c.id, runs.c.flow_id, runs.c.status, times.label("times"))
        .join(newest, and_(runs.c.flow_id == newest.c.flow_id, runs.c.updated_at == newest.c.at))
        .where(in_scope)
        .order_by(runs.c.id)
    )


ENDED = [RunStatus.SUCCESS.value, RunStatus.FAILED.value]
LAST_FINISHED = {False: _last_finished(postgres=False), True: _last_finished(postgres=True)}
# Every column, the doc as text: decoding it shows whether it renders as is (store/json_codec.py).
_COLUMNS = [cast(c, Text).label("doc") if c.name == "doc" else c for c in runs.c]
SCOPED_RUNS = select(*_COLUMNS).where(runs.c.org == bindparam("org"), runs.c.sandbox == bindparam("sandbox"))
RUN_PAGES = PagedStatements(runs, SCOPED_RUNS)
