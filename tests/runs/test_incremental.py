"""Incremental flows against real concurrent PostgreSQL transactions: no row lost, none twice.

Each test drives scheduled runs of a flow with the production engine and connector, while other
connections hold transactions open, commit out of order, reuse boundary values, write NULL delta
values or use savepoints; then it compares the dataset with the source (docs/incremental.md).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any

import pytest

from headwater.connectors import _pg_fence
from headwater.service import Services
from tests.runs.settled import assert_exactly_once, create_events, landed, run_once, source_ids, wait_settled
from tests.runs.source import MakeDeps, SourceDb, create_flow
from tests.support.seed import SEED


@pytest.fixture
def events(source_db: SourceDb) -> str:
    return create_events(source_db)


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
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, events: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An id drawn early, inserted late, then updated (id unchanged) while open transactions hold the horizon.

    The run covering the insert no longer sees it (the update replaced it) and the update waits
    behind an open transaction; when it is admitted its id is below the bound the start-time
    argument alone gives, so the bound must come down to where the hiding run started.

    Runs leave their band for later here, as they do when more than MAX_BAND transactions committed
    above the oldest open one: a band read at once would land the insert before the update hid it.
    """
    monkeypatch.setattr(_pg_fence, "MAX_BAND", 0)
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


def test_runs_get_a_lower_bound_while_writers_keep_committing_around_every_snapshot(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, events: str
) -> None:
    """Eight writers whose transactions overlap: nearly every snapshot holds committed transactions above its
    xmin. A run without a lower bound lists its band too (a scan without rows out), so the runs after it
    narrow their scans instead of scanning the whole table run after run; every row still lands once."""
    flow = create_flow(run_services, source_db=source_db.name, table=events, delta="id")
    deps = make_deps()
    stop = threading.Event()

    def writer(seed: int) -> None:
        pick = random.Random(seed)
        with source_db.connect() as conn:
            while not stop.is_set():
                conn.execute("BEGIN")
                conn.execute("INSERT INTO events (note) SELECT 'w' FROM generate_series(1, 5)")
                time.sleep(pick.uniform(0, 0.3))
                conn.execute("COMMIT")

    threads = [threading.Thread(target=writer, args=(SEED + i,)) for i in range(8)]
    for t in threads:
        t.start()
    starts: list[Any] = []
    try:
        for _ in range(12):
            row = run_once(deps, flow.id)
            starts.append(row.doc["activities"][0]["durationSummary"]["extensions"].get("windowStart"))
            time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert all(s is not None for s in starts[-4:]), starts  # before: None for as long as the writers ran
    with source_db.connect() as conn:
        wait_settled(conn)
    run_once(deps, flow.id)
    assert_exactly_once(run_services, flow.id, source_ids(source_db))
