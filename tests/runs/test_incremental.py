"""Incremental flows against real concurrent PostgreSQL transactions: no row lost, none twice.

Each test drives scheduled runs of a flow with the production engine and connector, while other
connections hold transactions open, commit out of order, reuse boundary values, write NULL delta
values or use savepoints; then it compares the dataset with the source (docs/incremental.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import threading
import time
from collections import Counter
from typing import Any

import pyarrow as pa
import pytest

from headwater.domain.fence import SessionFacts, SnapshotFacts
from headwater.runs.cursor import MAX_MARKS, Cursor, Mark, lower_bound, plan_fenced, start_bound
from headwater.runs.executor import RunEngine
from headwater.runs.ledger import Ledger, RunRow, new_run_id
from headwater.runs.model import RunStatus
from headwater.runs.report import new_doc
from headwater.runs.task import RunDeps
from headwater.service import Services
from headwater.store import now_ms
from tests.runs.settled import wait_settled
from tests.runs.source import SCOPE, MakeDeps, SourceDb, create_flow, dataset_ident
from tests.support.seed import SEED

UTC = dt.UTC


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
    engine = RunEngine(deps, workers=0, schedule=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        engine.work_once("test-worker")
        row = ledger.get(run_id)
        assert row is not None
        if row.status.terminal:
            assert row.status is RunStatus.SUCCESS, row.doc["metrics"]["statusSummary"]
            return row
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish")


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


@pytest.fixture
def events(source_db: SourceDb) -> str:
    """ids from a sequence drawn in the inserting statement, a database-stamped timestamp, an index on each."""
    with source_db.connect() as conn:
        conn.execute("CREATE SEQUENCE events_seq")
        conn.execute(
            "CREATE TABLE events (id bigint PRIMARY KEY DEFAULT nextval('events_seq'), "
            "ts timestamptz DEFAULT now(), note text)"
        )
        conn.execute("CREATE INDEX ON events (ts)")
    return "public.events"


@pytest.mark.parametrize("delta", ["id", "ts"])
def test_rows_tied_with_the_newest_value_read_land_in_the_next_run(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, events: str, delta: str
) -> None:
    """A row inserted after a run, with a delta value equal to the largest that run read, still lands."""
    flow = create_flow(run_services, source_db=source_db.name, table=events, delta=delta)
    deps = make_deps()
    with source_db.connect() as conn:
        conn.execute("INSERT INTO events (id, ts) SELECT g, '2030-01-01Z' FROM generate_series(1, 20) g")
        wait_settled(conn)
        run_once(deps, flow.id)
        assert set(landed(run_services, flow.id)) == set(range(1, 21))
        # Same boundary value again: id 20 for the id cursor (an update), the same instant for ts.
        conn.execute("INSERT INTO events (id, ts) VALUES (21, '2030-01-01Z')")
        conn.execute("UPDATE events SET note = 'tie' WHERE id = 20")
        wait_settled(conn)
        run_once(deps, flow.id)
    counts = landed(run_services, flow.id)
    assert counts[21] == 1
    assert counts[20] == 2  # the update is appended as a new version of row 20
    assert set(counts) == set(range(1, 22)) and sum(counts.values()) == 22


def test_sequence_ids_committed_out_of_order_all_land(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, events: str
) -> None:
    """An id drawn first but committed last, after runs that read larger ids, is not lost."""
    flow = create_flow(run_services, source_db=source_db.name, table=events, delta="id")
    deps = make_deps()
    with source_db.connect() as conn, source_db.connect() as slow:
        conn.execute("INSERT INTO events (note) SELECT 'a' FROM generate_series(1, 5)")  # ids 1..5
        slow.execute("BEGIN")
        slow.execute("INSERT INTO events (note) VALUES ('slow')")  # id 6, uncommitted
        conn.execute("INSERT INTO events (note) SELECT 'b' FROM generate_series(1, 5)")  # ids 7..11, committed
        run_once(deps, flow.id)
        run_once(deps, flow.id)
        slow.execute("COMMIT")
        # The table stops growing: its newest rows must still arrive.
        wait_settled(conn)
        run_once(deps, flow.id)
    assert_exactly_once(run_services, flow.id, source_ids(source_db))


def test_a_late_commit_stamped_with_now_lands_once_without_any_lag(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, events: str
) -> None:
    """`ts = now()` is the transaction's start: older than rows read by runs that ran before it committed."""
    flow = create_flow(run_services, source_db=source_db.name, table=events, delta="ts")
    deps = make_deps(safety_lag_seconds=0.0)
    with source_db.connect() as conn, source_db.connect() as slow:
        slow.execute("BEGIN")
        slow.execute("INSERT INTO events (note) VALUES ('late')")
        time.sleep(0.3)
        conn.execute("INSERT INTO events (note) SELECT 'on time' FROM generate_series(1, 10)")
        first = run_once(deps, flow.id)
        assert first.doc["activities"][0]["statusSummary"]["extensions"].get("notices") is None
        run_once(deps, flow.id)
        slow.execute("COMMIT")
        wait_settled(conn)
        run_once(deps, flow.id)
        run_once(deps, flow.id)
    assert_exactly_once(run_services, flow.id, source_ids(source_db))


def test_rows_written_inside_a_savepoint_of_a_late_transaction_land(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, events: str
) -> None:
    """Subtransaction ids are absent from a snapshot's in-progress list; the fence must not rely on it."""
    flow = create_flow(run_services, source_db=source_db.name, table=events, delta="id")
    deps = make_deps()
    with source_db.connect() as conn, source_db.connect() as slow:
        slow.execute("BEGIN")
        slow.execute("INSERT INTO events (note) VALUES ('top')")
        slow.execute("SAVEPOINT s1")
        slow.execute("INSERT INTO events (note) VALUES ('in savepoint')")
        slow.execute("RELEASE SAVEPOINT s1")
        conn.execute("INSERT INTO events (note) SELECT 'other' FROM generate_series(1, 5)")
        run_once(deps, flow.id)
        slow.execute("COMMIT")
        wait_settled(conn)
        run_once(deps, flow.id)
    assert_exactly_once(run_services, flow.id, source_ids(source_db))


def test_null_delta_values_land_in_the_backfill_and_once_per_new_version(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, events: str
) -> None:
    """The backfill reads NULL delta values; afterwards each newly committed NULL-delta version lands once."""
    flow = create_flow(run_services, source_db=source_db.name, table=events, delta="ts")
    deps = make_deps()
    with source_db.connect() as conn:
        conn.execute("INSERT INTO events (id, ts) SELECT g, NULL FROM generate_series(1, 5) g")
        conn.execute("INSERT INTO events (id) SELECT g FROM generate_series(6, 10) g")
        wait_settled(conn)
        run_once(deps, flow.id)
        assert set(landed(run_services, flow.id)) == set(range(1, 11))
        conn.execute("INSERT INTO events (id, ts) VALUES (11, NULL)")
        conn.execute("UPDATE events SET note = 'changed' WHERE id = 1")  # still NULL: a new version
        wait_settled(conn)
        run_once(deps, flow.id)
        run_once(deps, flow.id)
    counts = landed(run_services, flow.id)
    assert counts == Counter({1: 2, **{i: 1 for i in range(2, 12)}})


def test_an_update_that_keeps_the_delta_does_not_hide_an_uncopied_insert(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, events: str
) -> None:
    """An id drawn early, inserted late, then updated (id unchanged) while open transactions hold the horizon.

    The run covering the insert no longer sees it (the update replaced it) and the update waits
    behind an open transaction; when it is admitted its id is below the bound the start-time
    argument alone gives, so the bound must come down to where the hiding run started.
    """
    flow = create_flow(run_services, source_db=source_db.name, table=events, delta="id")
    deps = make_deps()
    pause = 1.3  # more than the start bound's margin
    with (
        source_db.connect() as conn,
        source_db.connect() as early,
        source_db.connect() as w1,
        source_db.connect() as w2,
    ):
        conn.execute("INSERT INTO events (note) SELECT 'a' FROM generate_series(1, 5)")
        wait_settled(conn)
        run_once(deps, flow.id)
        early.execute("BEGIN")
        (drawn,) = early.execute("SELECT nextval('events_seq')").fetchone() or (0,)  # id 6, drawn now
        conn.execute("INSERT INTO events (note) SELECT 'b' FROM generate_series(1, 4)")  # ids 7..10
        time.sleep(pause)
        run_once(deps, flow.id)  # sees 10 as the newest value
        time.sleep(pause)
        w1.execute("BEGIN")
        w1.execute("INSERT INTO events (note) VALUES ('w1')")
        early.execute("INSERT INTO events (id, note) VALUES (%s, 'drawn early')", (drawn,))
        early.execute("COMMIT")
        time.sleep(pause)
        run_once(deps, flow.id)
        w2.execute("BEGIN")
        w2.execute("INSERT INTO events (note) VALUES ('w2')")
        w1.execute("COMMIT")
        conn.execute("UPDATE events SET note = 'updated' WHERE id = %s", (drawn,))
        run_once(deps, flow.id)  # covers the insert, which the update has replaced; the update waits
        w2.execute("COMMIT")
        wait_settled(conn)
        run_once(deps, flow.id)
    assert drawn == 6
    assert_exactly_once(run_services, flow.id, source_ids(source_db))


def test_a_retried_attempt_reads_from_the_committed_cursor(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, events: str
) -> None:
    """A failed attempt commits nothing; the retry takes its own snapshot and reads every row once."""
    flow = create_flow(run_services, source_db=source_db.name, table=events, delta="id")
    with source_db.connect() as conn:
        conn.execute("INSERT INTO events (note) SELECT 'a' FROM generate_series(1, 10)")
        wait_settled(conn)

    from headwater.connectors.postgres import PostgresConnector
    from headwater.errors import TransientError

    class FailsOnce(PostgresConnector):
        """The first read fails after its snapshot was taken and rows were added."""

        calls = 0

        def read(self, auth: Any, request: Any) -> Any:
            FailsOnce.calls += 1
            batches = super().read(auth, request)
            if FailsOnce.calls == 1:
                next(batches, None)
                with source_db.connect() as conn:
                    conn.execute("INSERT INTO events (note) SELECT 'b' FROM generate_series(1, 10)")
                    wait_settled(conn)
                batches.close()
                raise TransientError("connection lost (test)")
            yield from batches

    deps = make_deps(FailsOnce(run_services.settings))
    row = run_once(deps, flow.id)
    assert row.attempt == 2
    assert_exactly_once(run_services, flow.id, set(range(1, 21)))
    run_once(make_deps(), flow.id)
    assert_exactly_once(run_services, flow.id, set(range(1, 21)))


# -- the window arithmetic, without a database ------------------------------------------------


def _sessions(at: dt.datetime, oldest: dt.datetime | None, *, sees: bool = True) -> SessionFacts:
    return SessionFacts(statement_at=at, oldest_start=oldest, sees_all_sessions=sees)


def test_the_start_bound_is_the_oldest_open_transaction_or_the_setting() -> None:
    at = dt.datetime(2026, 1, 1, 12, tzinfo=UTC)
    old = at - dt.timedelta(minutes=30)
    second = dt.timedelta(seconds=1)
    assert start_bound(_sessions(at, old), open_transaction_seconds=60) == old - second
    assert start_bound(_sessions(at, None), open_transaction_seconds=60) == at - second
    assert start_bound(_sessions(at, None, sees=False), open_transaction_seconds=60) == at - 61 * second


def test_lo_comes_from_a_snapshot_older_than_every_admitted_transaction() -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=UTC)
    s = dt.timedelta(seconds=1)
    marks = (
        Mark(xmax=100, bound=t0, at=t0 + s, newest=50, lo=10, held=False),
        Mark(xmax=200, bound=t0 + 60 * s, at=t0 + 61 * s, newest=90, lo=50, held=False),
        Mark(xmax=300, bound=t0 + 120 * s, at=t0 + 121 * s, newest=140, lo=90, held=False),
    )
    # Transactions >= 250 started after mark 2's bound; sequence values drawn after it exceed
    # what the last snapshot captured before that bound (mark 1) saw.
    assert lower_bound(marks, 250, pa.int64(), 0) == 50
    assert lower_bound(marks, 300, pa.int64(), 0) == 90
    assert lower_bound(marks, 99, pa.int64(), 0) is None  # no mark old enough: scan everything
    assert lower_bound(marks, 250, pa.timestamp("us", tz="UTC"), 0) == t0 + 60 * s
    # Zone-less timestamps: the earlier of UTC and the source's local reading (UTC-5 here).
    assert lower_bound(marks, 250, pa.timestamp("us"), -5 * 3600) == dt.datetime(2026, 1, 1, 0, 1) - dt.timedelta(
        hours=5
    )
    assert lower_bound(marks, 250, pa.date32(), 0) == dt.date(2026, 1, 1)
    # A snapshot that held committed transactions back drags lo down to where its run started.
    dragged = (*marks[:2], dataclasses.replace(marks[2], held=True, lo=7))
    assert lower_bound(dragged, 250, pa.int64(), 0) == 7
    assert lower_bound(dragged, 300, pa.int64(), 0) == 90  # once the horizon passed it, no longer


def test_the_cursor_round_trips_and_keeps_a_bounded_history() -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=UTC)
    committed: Cursor | None = None
    rng = random.Random(SEED)
    for i in range(3 * MAX_MARKS):
        # A transaction that never ends holds every snapshot's xmin at 1000 while xmax grows.
        at = t0 + dt.timedelta(seconds=10 * i)
        plan = plan_fenced(
            column="id",
            arrow_type=pa.int64(),
            committed=committed,
            first_start=None,
            sessions=_sessions(at, t0),
            open_transaction_seconds=60,
        )
        assert plan.window.fence is not None and plan.window.fence.before is None
        assert plan.window.nulls and plan.window.end is None
        snapshot = SnapshotFacts(
            before=1000, xmax=1000 + 10 * (i + 1), running=1, captured_at=at, newest=rng.randint(0, 10**6)
        )
        cursor = plan.cursor(snapshot, pa.int64())
        committed = Cursor.from_json(cursor.to_json())
        assert committed == cursor
        assert len(committed.marks) <= MAX_MARKS
    assert committed is not None and committed.after == 1000


# -- several writers at once, some committing 30-60 s late ------------------------------------


@pytest.mark.slow  # 45 s of concurrent writers
def test_concurrent_writers_with_late_commits_land_exactly_once(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, events: str
) -> None:
    """Four writers for 45 s: quick commits, savepoints, updates, NULLs, and transactions held 30-40 s."""
    by_id = create_flow(run_services, source_db=source_db.name, table=events, delta="id")
    by_ts = create_flow(run_services, source_db=source_db.name, table=events, delta="ts")
    deps = make_deps()
    rng = random.Random(SEED)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(kind: str, seed: int) -> None:
        pick = random.Random(seed)
        try:
            with source_db.connect() as conn:
                while not stop.is_set():
                    if kind == "late":
                        # Drawn (id, now()) at the start, committed 30-40 s later, after many runs.
                        conn.execute("BEGIN")
                        conn.execute("INSERT INTO events (note) SELECT 'late' FROM generate_series(1, 3)")
                        conn.execute("SAVEPOINT s")
                        conn.execute("INSERT INTO events (note) VALUES ('late, savepoint')")
                        stop.wait(pick.uniform(30, 40))
                        conn.execute("COMMIT")
                        continue
                    conn.execute("BEGIN")
                    conn.execute(
                        "INSERT INTO events (note, ts) SELECT 'quick', CASE WHEN random() < 0.1 "
                        "THEN NULL ELSE now() END FROM generate_series(1, %s)",
                        (pick.randint(1, 20),),
                    )
                    if kind == "updater":
                        conn.execute(
                            "UPDATE events SET note = 'updated', ts = now() WHERE id = (SELECT max(id) - 7 FROM events)"
                        )
                    time.sleep(pick.uniform(0, 0.3))
                    conn.execute("COMMIT")
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(k, rng.randrange(2**32))) for k in ("quick", "quick", "updater", "late")
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 45
    runs = 0
    try:
        while time.monotonic() < deadline:
            for flow in (by_id, by_ts):
                run_once(deps, flow.id)
                runs += 1
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors
    with source_db.connect() as conn:
        wait_settled(conn)
        versions = conn.execute("SELECT count(*) FILTER (WHERE note = 'updated') FROM events").fetchone()
    for flow in (by_id, by_ts):
        run_once(deps, flow.id)
    expected = source_ids(source_db)
    assert runs >= 10 and versions is not None
    assert_exactly_once_allowing_updates(run_services, by_id.id, expected)
    assert_exactly_once_allowing_updates(run_services, by_ts.id, expected)


def assert_exactly_once_allowing_updates(svc: Services, flow_id: str, expected: set[Any]) -> None:
    """Every source row landed; a row lands again only as a new version (an update), never as a copy."""
    flow = svc.store.get("flow", SCOPE, flow_id)
    assert flow is not None
    rows = svc.lake.scan(dataset_ident(svc, flow)).to_pylist()
    assert {r["id"] for r in rows} == expected
    copies = Counter((r["id"], r["note"], r["ts"]) for r in rows)
    twice = [k for k, n in copies.items() if n > 1]
    assert not twice, f"the same version landed twice: {twice[:10]}"


def test_partitioned_fenced_reads_share_one_snapshot(run_services: Services, source_db: SourceDb, events: str) -> None:
    """Every key range reads in the snapshot the fence reported: rows committed meanwhile wait for the next run."""
    from headwater.connectors.postgres import PostgresConnector
    from headwater.domain import DeltaWindow, ReadRequest
    from headwater.domain.fence import XidFence

    with source_db.connect() as conn:
        conn.execute("INSERT INTO events (note) SELECT 'a' FROM generate_series(1, 4000)")
        conn.execute("ANALYZE events")
        wait_settled(conn)
    connector = PostgresConnector(run_services.settings)
    seen: list[SnapshotFacts] = []
    fence = XidFence(on_snapshot=seen.append)
    request = ReadRequest(
        events,
        columns=("id",),
        window=DeltaWindow("id", nulls=True, fence=fence),
        parallelism=2,
        options={"min_partition_rows": 500},
    )
    auth = connector.spec.auth_method("Basic Authentication").parse(
        {
            "server": "127.0.0.1",
            "port": "5432",
            "database": source_db.name,
            "username": "postgres",
            "password": "unused-with-trust",
            "sslMode": "Disable",
        }
    )
    batches = connector.read(auth, request)
    got = [r for b in [next(batches)] for r in b.column("id").to_pylist()]
    with source_db.connect() as conn:  # committed after the snapshot: not in this read
        conn.execute("INSERT INTO events (note) SELECT 'late' FROM generate_series(1, 100)")
    got += [r for b in batches for r in b.column("id").to_pylist()]
    assert len(seen) == 1 and seen[0].before <= seen[0].xmax
    assert sorted(got) == list(range(1, 4001))


def test_rows_committed_above_an_open_transaction_land_now_and_once(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, events: str
) -> None:
    """An open writer holds the horizon; rows committed after it began are read from the band, then never again."""
    flow = create_flow(run_services, source_db=source_db.name, table=events, delta="id")
    deps = make_deps()
    with source_db.connect() as conn, source_db.connect() as holder:
        conn.execute("INSERT INTO events (note) SELECT 'a' FROM generate_series(1, 5)")
        wait_settled(conn)
        for _ in range(3):  # marks old enough that the scan gets a lower bound (the band needs one)
            run_once(deps, flow.id)
            time.sleep(1.3)
        holder.execute("BEGIN")
        holder.execute("INSERT INTO events (id, note) VALUES (100, 'holder')")
        conn.execute("INSERT INTO events (note) SELECT 'b' FROM generate_series(1, 3)")  # ids 6..8
        row = run_once(deps, flow.id)
        assert set(landed(run_services, flow.id)) == set(range(1, 9)), row.doc["_window"]
        run_once(deps, flow.id)
        holder.execute("COMMIT")
        wait_settled(conn)
        run_once(deps, flow.id)
    assert_exactly_once(run_services, flow.id, set(range(1, 9)) | {100})


def test_a_role_without_pg_read_all_stats_falls_back_to_the_setting_and_says_so(
    run_services: Services, source_db: SourceDb, events: str
) -> None:
    """Other roles' transaction starts are hidden from it: the bound comes from the setting, with a notice."""
    from headwater.connectors.postgres import PostgresConnector
    from headwater.runs.incremental import _UNSEEN_SESSIONS

    role = f"hw_reader_{source_db.name[-10:]}"
    with source_db.connect() as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT SELECT ON events TO {role}")
    try:
        connector = PostgresConnector(run_services.settings)
        params = {
            "server": "127.0.0.1",
            "port": "5432",
            "database": source_db.name,
            "username": role,
            "password": "unused-with-trust",
            "sslMode": "Disable",
        }
        facts = connector.fence_sessions(connector.spec.auth_method("Basic Authentication").parse(params), events)
        assert facts is not None and not facts.sees_all_sessions
        bound = start_bound(facts, open_transaction_seconds=600)
        assert bound == facts.statement_at - dt.timedelta(seconds=601)
        assert "pg_read_all_stats" in _UNSEEN_SESSIONS
    finally:
        with source_db.connect() as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")
