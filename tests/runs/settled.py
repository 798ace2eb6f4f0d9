"""Helpers for tests of incremental runs: waiting for the source's transaction horizon, running a
flow once, and comparing its dataset with the source.

A fenced run reads below its snapshot's xmin, plus the committed band above it when that is small
(at most MAX_BAND transactions); otherwise rows committed after an older transaction began
(anywhere in the cluster, e.g. another test's) wait for the run after that transaction ends. Tests
that expect rows in a given run wait for the horizon first, so a concurrent test cannot make them
flaky; a lost row would still never arrive.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import psycopg

from headwater.runs.executor import RunEngine
from headwater.runs.ledger import Ledger, RunRow, new_run_id
from headwater.runs.model import RunStatus
from headwater.runs.report import new_doc
from headwater.runs.task import RunDeps
from headwater.service import Services
from headwater.store import now_ms
from tests.runs.source import SCOPE, SourceDb, dataset_ident


def wait_settled(conn: psycopg.Connection, *, timeout: float = 120.0) -> None:
    """Until every transaction that had started when this was called has finished."""
    (target,) = conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint").fetchone() or (0,)
    deadline = time.monotonic() + timeout
    while True:
        (low,) = conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint").fetchone() or (0,)
        if low >= target:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"a transaction older than xid {target} stayed open for {timeout} s")
        time.sleep(0.05)


def create_events(db: SourceDb) -> str:
    """ids from a sequence drawn in the inserting statement, a database-stamped timestamp, an index on each."""
    with db.connect() as conn:
        conn.execute("CREATE SEQUENCE events_seq")
        conn.execute(
            "CREATE TABLE events (id bigint PRIMARY KEY DEFAULT nextval('events_seq'), "
            "ts timestamptz DEFAULT now(), note text)"
        )
        conn.execute("CREATE INDEX ON events (ts)")
    return "public.events"


def run_until_done(deps: RunDeps, run_id: str, *, timeout: float = 30) -> RunRow:
    """Work runs in this process until `run_id` ends, whatever its status."""
    engine = RunEngine(deps, workers=0, schedule=False)
    ledger = Ledger(deps.store)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        engine.work_once("test-worker")
        row = ledger.get(run_id)
        assert row is not None
        if row.status.terminal:
            return row
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish: {ledger.get(run_id)}")


def run_once(deps: RunDeps, flow_id: str, *, timeout: float = 60) -> RunRow:
    """One scheduled run of the flow, executed to its end."""
    run_id = new_run_id()
    ledger = Ledger(deps.store)
    assert ledger.insert(
        run_id=run_id,
        scope=SCOPE,
        flow_id=flow_id,
        scheduled_at=now_ms(),
        doc=new_doc(flow_spec={}, trigger="schedule"),
    )
    row = run_until_done(deps, run_id, timeout=timeout)
    assert row.status is RunStatus.SUCCESS, row.doc["metrics"]["statusSummary"]
    return row


def landed(svc: Services, flow_id: str) -> Counter[Any]:
    """How many times each id landed in the flow's dataset."""
    flow = svc.store.get("flow", SCOPE, flow_id)
    assert flow is not None
    return Counter(r["id"] for r in svc.lake.scan(dataset_ident(svc, flow)).to_pylist())


def source_ids(db: SourceDb, table: str = "events") -> set[Any]:
    with db.connect() as conn:
        return {r[0] for r in conn.execute(f"SELECT id FROM {table}").fetchall()}


def assert_exactly_once(svc: Services, flow_id: str, expected: set[Any]) -> None:
    counts = landed(svc, flow_id)
    twice = sorted(k for k, n in counts.items() if n > 1)
    assert not twice, f"landed more than once: {twice[:20]}"
    missing = sorted(expected - set(counts))
    assert not missing, f"never landed: {missing[:20]}"
    assert set(counts) == expected


def assert_exactly_once_allowing_updates(svc: Services, flow_id: str, expected: set[Any]) -> None:
    """Every source row landed; a row lands again only as a new version (an update), never as a copy."""
    flow = svc.store.get("flow", SCOPE, flow_id)
    assert flow is not None
    rows = svc.lake.scan(dataset_ident(svc, flow)).to_pylist()
    assert {r["id"] for r in rows} == expected
    copies = Counter((r["id"], r["note"], r["ts"]) for r in rows)
    twice = [k for k, n in copies.items() if n > 1]
    assert not twice, f"the same version landed twice: {twice[:10]}"
