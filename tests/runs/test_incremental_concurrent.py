"""Several writers at once against incremental flows, some committing 30-40 s late (slow: 45 s)."""

from __future__ import annotations

import random
import threading
import time

import pytest

from headwater.service import Services
from tests.runs.settled import assert_exactly_once_allowing_updates, create_events, run_once, source_ids, wait_settled
from tests.runs.source import MakeDeps, SourceDb, create_flow
from tests.support.seed import SEED


@pytest.fixture
def events(source_db: SourceDb) -> str:
    return create_events(source_db)


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
