"""An incremental flow's backfill of a large table is read in chunks below one fence taken before them.

Each chunk is its own short transaction, so the source's vacuum is never held for the whole backfill.
A row version replaced while the chunks are read (its chunk read after the update) is not in the
backfill; the version that replaced it was written above the fence, so the next run reads it, and
that run scans every delta value: an update that keeps an old `id` must land too (docs/incremental.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from headwater.connectors.postgres import PostgresConnector
from headwater.errors import TransientError
from headwater.runs.model import RunStatus
from headwater.service import Services
from tests.runs.settled import create_events, run_once, wait_settled
from tests.runs.source import SCOPE, MakeDeps, SourceDb, create_flow, dataset_ident

ROWS, CHUNK_ROWS = 10_000, 1000


class WritesWhileReading(PostgresConnector):
    """The production connector; as its `at`-th chunk starts, `write` runs on another connection
    (once), and the chunk fails with `error` if one is given (the attempt then ends there)."""

    def __init__(self, services: Services, db: SourceDb, *, at: int, writes: list[str], error: Exception | None = None):
        super().__init__(services.settings)
        self.db, self.at, self.writes, self.error = db, at, writes, error
        self.chunks_read = 0

    def read(self, auth: Any, request: Any) -> Iterator[pa.RecordBatch]:
        if "chunk" in request.options:
            self.chunks_read += 1
            if self.chunks_read == self.at and self.writes:
                with self.db.connect() as conn:
                    for statement in self.writes:
                        conn.execute(statement)
                self.writes = []
                if self.error is not None:
                    raise self.error
        yield from super().read(auth, request)


def fill(db: SourceDb) -> None:
    create_events(db)
    with db.connect() as conn:
        # Old delta values: an update that keeps them is below any bound a later run could scan from.
        conn.execute("INSERT INTO events (note, ts) SELECT 'v1', '2020-01-01Z' FROM generate_series(1, %s)", (ROWS,))
        conn.execute("ANALYZE events")
        wait_settled(conn)


def versions(svc: Services, flow_id: str) -> Counter[tuple[int, str]]:
    flow = svc.store.get("flow", SCOPE, flow_id)
    assert flow is not None
    return Counter((r["id"], r["note"]) for r in svc.lake.scan(dataset_ident(svc, flow)).to_pylist())


def source_versions(db: SourceDb) -> set[tuple[int, str]]:
    with db.connect() as conn:
        return {(int(i), str(n)) for i, n in conn.execute("SELECT id, note FROM events").fetchall()}


# Row 500 is in the first chunk (read before the writes), row 9500 in the last (read after them); both
# updates keep their delta value (`id`, or `ts` from long ago), so only a scan without a lower bound
# finds the new versions.
WRITES = [
    "UPDATE events SET note = 'v2' WHERE id IN (500, 9500)",
    "DELETE FROM events WHERE id = 9600",
    "INSERT INTO events (note) VALUES ('new')",
]


@pytest.mark.parametrize("delta", ["id", "ts"])
def test_a_fenced_backfill_reads_in_chunks_and_the_next_run_lands_what_changed_meanwhile(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, delta: str
) -> None:
    fill(source_db)
    flow = create_flow(run_services, source_db=source_db.name, table="public.events", delta=delta)
    connector = WritesWhileReading(run_services, source_db, at=2, writes=list(WRITES))
    deps = make_deps(connector, chunk_rows=CHUNK_ROWS)
    backfill = run_once(deps, flow.id)
    (activity,) = backfill.doc["activities"]
    chunking = activity["statusSummary"]["extensions"]["chunking"]
    assert chunking["path"] == "key-ranges" and chunking["chunks"] == ROWS // CHUNK_ROWS
    assert connector.chunks_read == chunking["chunks"]
    landed = versions(run_services, flow.id)
    # Below the fence only: the old version of 500 (read before the update), not 9500's (replaced before
    # its chunk), not 9600 (deleted before its chunk), not the new row (written above the fence).
    assert (500, "v1") in landed and (9500, "v1") not in landed and (9500, "v2") not in landed
    assert not any(i == 9600 for i, _ in landed) and not any(n == "new" for _, n in landed)
    assert sum(landed.values()) == ROWS - 2

    with source_db.connect() as conn:
        wait_settled(conn)
    after = run_once(deps, flow.id)
    (activity,) = after.doc["activities"]
    assert activity["durationSummary"]["extensions"].get("windowStart") is None  # no `lo`: every value scanned
    assert "chunking" not in activity["statusSummary"].get("extensions", {})  # not a backfill: one snapshot
    landed = versions(run_services, flow.id)
    assert max(landed.values()) == 1, "a version landed twice"
    assert source_versions(source_db) <= set(landed), "a current version never landed"
    assert set(landed) == source_versions(source_db) | {(500, "v1")}  # 9600 went before any run read it


def test_a_resumed_fenced_backfill_reads_its_remaining_chunks_below_the_first_attempts_fence(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb
) -> None:
    """The fence is kept with the plan: an attempt that resumes reads below it, not below a newer one,
    so what changed between the attempts lands in the next run, once."""
    fill(source_db)
    flow = create_flow(run_services, source_db=source_db.name, table="public.events", delta="ts")
    connector = WritesWhileReading(
        run_services, source_db, at=4, writes=list(WRITES), error=TransientError("The source restarted (test).")
    )
    deps = make_deps(connector, chunk_rows=CHUNK_ROWS)
    backfill = run_once(deps, flow.id)
    assert backfill.status is RunStatus.SUCCESS and backfill.attempt == 2
    (activity,) = backfill.doc["activities"]
    chunking = activity["statusSummary"]["extensions"]["chunking"]
    assert chunking["resumedChunks"] == 3 and chunking["readChunks"] == chunking["chunks"] - 3
    landed = versions(run_services, flow.id)
    assert not any(n == "new" for _, n in landed), "the resumed attempt read above the first attempt's fence"
    assert (9500, "v1") not in landed and sum(landed.values()) == ROWS - 2

    with source_db.connect() as conn:
        wait_settled(conn)
    run_once(deps, flow.id)
    landed = versions(run_services, flow.id)
    assert max(landed.values()) == 1, "a version landed twice"
    assert set(landed) == source_versions(source_db) | {(500, "v1")}


def test_a_backfill_of_one_chunk_is_read_in_one_snapshot(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb
) -> None:
    fill(source_db)
    flow = create_flow(run_services, source_db=source_db.name, table="public.events", delta="id")
    backfill = run_once(make_deps(chunk_rows=ROWS * 2), flow.id)
    (activity,) = backfill.doc["activities"]
    assert "chunking" not in activity["statusSummary"].get("extensions", {})
    assert "_staging" not in backfill.doc
    assert sum(versions(run_services, flow.id).values()) == ROWS
