"""Several writers at once against incremental flows, some committing 30-40 s late (slow: 45 s).

The table starts with rows enough for the flows' backfills to be read in chunks, and every chunk a
backfill reads first updates some of those rows without moving their delta values: the version that
replaced one before its chunk was read must land in a later run (docs/incremental.md).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from headwater.connectors.postgres import PostgresConnector
from headwater.service import Services
from tests.runs.settled import assert_exactly_once_allowing_updates, create_events, run_once, source_ids, wait_settled
from tests.runs.source import SCOPE, MakeDeps, SourceDb, create_flow, dataset_ident
from tests.support.seed import SEED


@pytest.fixture
def events(source_db: SourceDb) -> str:
    return create_events(source_db)


PREFILLED, CHUNK_ROWS = 20_000, 2000


class TouchesRowsInBackfills(PostgresConnector):
    """The production connector; before each chunk of a backfill it updates a few prefilled rows,
    keeping their `id` and `ts`, on both sides of the chunk."""

    def __init__(self, services: Services, db: SourceDb, seed: int) -> None:
        super().__init__(services.settings)
        self.db, self.pick, self.touched = db, random.Random(seed), 0

    def read(self, auth: Any, request: Any) -> Iterator[pa.RecordBatch]:
        if "chunk" in request.options:
            ids = self.pick.sample(range(1, PREFILLED + 1), 5)
            with self.db.connect() as conn:
                conn.execute("UPDATE events SET note = note || '+' WHERE id = ANY(%s)", (ids,))
            self.touched += len(ids)
        yield from super().read(auth, request)


def current_versions_landed(svc: Services, flow_id: str, db: SourceDb) -> None:
    flow = svc.store.get("flow", SCOPE, flow_id)
    assert flow is not None
    landed = {(r["id"], r["note"]) for r in svc.lake.scan(dataset_ident(svc, flow)).to_pylist()}
    with db.connect() as conn:
        rows = conn.execute("SELECT id, note FROM events WHERE id <= %s", (PREFILLED,)).fetchall()
    missing = sorted(set(rows) - landed)
    assert not missing, f"current versions that never landed: {missing[:10]}"


@pytest.mark.slow  # 45 s of concurrent writers
def test_concurrent_writers_with_late_commits_land_exactly_once(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, events: str
) -> None:
    """Four writers for 45 s: quick commits, savepoints, updates, NULLs, and transactions held 30-40 s."""
    with source_db.connect() as conn:
        old = "INSERT INTO events (note, ts) SELECT 'old', '2020-01-01Z' FROM generate_series(1, %s)"
        conn.execute(old, (PREFILLED,))
        conn.execute("ANALYZE events")
    by_id = create_flow(run_services, source_db=source_db.name, table=events, delta="id")
    by_ts = create_flow(run_services, source_db=source_db.name, table=events, delta="ts")
    rng = random.Random(SEED)
    toucher = TouchesRowsInBackfills(run_services, source_db, rng.randrange(2**32))
    deps = make_deps(toucher, chunk_rows=CHUNK_ROWS)
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
    assert toucher.touched >= 2 * 5 * (PREFILLED // CHUNK_ROWS)  # both backfills were read in chunks
    assert_exactly_once_allowing_updates(run_services, by_id.id, expected)
    assert_exactly_once_allowing_updates(run_services, by_ts.id, expected)
    for flow in (by_id, by_ts):
        current_versions_landed(run_services, flow.id, source_db)
