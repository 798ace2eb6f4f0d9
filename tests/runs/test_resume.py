"""Chunked full reads resume where a killed attempt stopped: staged chunks are never read again, and the
run's one commit holds every row exactly once. Staged files of a run that fails for good are deleted."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import update

from headwater.connectors._chunked import PlanExpired
from headwater.connectors.postgres import PostgresConnector
from headwater.errors import ConfigError, TransientError
from headwater.runs import staging_store
from headwater.runs.ledger import Ledger, RunRow
from headwater.runs.model import RunStatus
from headwater.service import Services
from headwater.settings import Settings
from headwater.store import Store, now_ms
from headwater.store.tables import runs
from tests.runs.settled import run_until_done
from tests.runs.source import (
    MakeDeps,
    PortForward,
    SourceDb,
    context,
    create_database,
    create_flow,
    dataset_ident,
    drop_database,
)
from tests.support import seed
from tests.support.forked_workers import ForkedWorkers


def chunking(row: RunRow) -> dict[str, Any]:
    (activity,) = row.doc["activities"]
    found: dict[str, Any] = activity["statusSummary"]["extensions"]["chunking"]
    return found


def staged_units(store: Store, row: RunRow) -> list[dict[str, Any]]:
    return [u for u in (staging_store.load(store, row.id) or {}).get("units", []) if u["done"]]


def assert_dataset_equals_source(svc: Services, flow: Any, source_db: SourceDb) -> None:
    table = svc.lake.scan(dataset_ident(svc, flow))
    ids = table.column("id").to_pylist()
    with source_db.connect() as conn:
        source = dict(conn.execute("SELECT id, payload FROM t").fetchall())
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicated rows"
    assert set(ids) == set(source), f"lost {len(set(source) - set(ids))} rows"
    assert dict(zip(ids, table.column("payload").to_pylist(), strict=True)) == source


def fill(db: SourceDb, rows: int) -> None:
    with db.connect() as conn:
        conn.execute("CREATE TABLE t (id bigint PRIMARY KEY, payload text)")
        conn.execute("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, %s) g", (rows,))
        conn.execute("ANALYZE t")


class FailsAtChunk(PostgresConnector):
    """The production connector, whose chunk reads fail with `error` from the `at`-th on (1-based), `times` times."""

    def __init__(self, services: Services, *, at: int, error: Exception, times: int = 1) -> None:
        super().__init__(services.settings)
        self.at, self.error, self.times, self.chunks_read = at, error, times, 0

    def read(self, auth: Any, request: Any) -> Iterator[pa.RecordBatch]:
        if "chunk" in request.options:
            self.chunks_read += 1
            if self.chunks_read >= self.at and self.times > 0:
                self.times -= 1
                raise self.error
        yield from super().read(auth, request)


def test_a_retried_attempt_reads_only_the_chunks_not_yet_staged(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb
) -> None:
    fill(source_db, 10_000)
    flow = create_flow(run_services, source_db=source_db.name, table="public.t", delta=None, frequency="once")
    failing = FailsAtChunk(run_services, at=4, error=TransientError("The connection to the source was lost (test)."))
    deps = make_deps(failing, chunk_rows=1000)
    run_id = run_services.runs.create(context(), {"flowId": flow.id})["items"][0]["id"]
    final = run_until_done(deps, run_id)
    assert final.status is RunStatus.SUCCESS and final.attempt == 2
    info = chunking(final)
    assert info["path"] == "key-ranges" and info["chunks"] == 10
    assert info["resumedChunks"] == 3 and info["readChunks"] == 7  # chunks 1-3 were staged by attempt 1
    assert failing.chunks_read == 4 + 7  # attempt 1: three chunks and the failing fourth; attempt 2: the rest
    assert final.doc["metrics"]["recordSummary"]["outputRecordCount"] == 10_000
    assert final.doc["metrics"]["recordSummary"]["inputRecordCount"] == 10_000
    assert "_staging" not in final.doc  # committed: its files belong to the snapshot now
    assert_dataset_equals_source(run_services, flow, source_db)


def test_an_expired_plan_is_dropped_and_the_next_attempt_reads_everything_once(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb
) -> None:
    """What a lost BigQuery read session does to a chunked run: its chunks can no longer be read, so
    the staged ones are forgotten and the retry plans again, landing every row exactly once."""
    fill(source_db, 5000)
    flow = create_flow(run_services, source_db=source_db.name, table="public.t", delta=None, frequency="once")
    failing = FailsAtChunk(run_services, at=3, error=PlanExpired("The read session expired (test)."))
    deps = make_deps(failing, chunk_rows=1000)
    run_id = run_services.runs.create(context(), {"flowId": flow.id})["items"][0]["id"]
    final = run_until_done(deps, run_id)
    assert final.status is RunStatus.SUCCESS and final.attempt == 2
    info = chunking(final)
    assert info["resumedChunks"] == 0 and info["readChunks"] == info["chunks"] == 5
    assert final.doc["metrics"]["recordSummary"]["outputRecordCount"] == 5000
    assert_dataset_equals_source(run_services, flow, source_db)


def test_a_run_that_fails_for_good_deletes_its_staged_files(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb
) -> None:
    fill(source_db, 5000)
    flow = create_flow(run_services, source_db=source_db.name, table="public.t", delta=None, frequency="once")
    deps = make_deps(FailsAtChunk(run_services, at=3, error=ConfigError("The table changed (test).")), chunk_rows=1000)
    discarded: list[str] = []
    discard = deps.lake.discard_staged

    def recorded(ident: Any, paths: list[str]) -> None:
        discarded.extend(paths)
        discard(ident, paths)

    deps.lake.discard_staged = recorded  # type: ignore[method-assign]
    run_id = run_services.runs.create(context(), {"flowId": flow.id})["items"][0]["id"]
    final = run_until_done(deps, run_id)
    assert final.status is RunStatus.FAILED and "_staging" not in final.doc
    assert len(discarded) == 2  # chunks 1 and 2 were staged, one file each
    warehouse = Path(run_services.settings.resolved_warehouse.removeprefix("file://"))
    assert not list(warehouse.rglob("*.parquet")), "staged files of a failed run were left behind"
    assert run_services.lake.scan(dataset_ident(run_services, flow)).num_rows == 0


@pytest.fixture
def meta_db() -> Iterator[SourceDb]:
    db = create_database("hw_resumemeta")
    try:
        yield db
    finally:
        drop_database(db)


@pytest.fixture
def forward() -> Iterator[PortForward]:
    """The metadata database's endpoint is refused to tenant connections: the source is reached through here."""
    port = PortForward()
    try:
        yield port
    finally:
        port.close()


@pytest.mark.slow
def test_sigkilled_chunked_run_resumes_from_its_last_staged_chunk(
    meta_db: SourceDb, source_db: SourceDb, forward: PortForward, tmp_path: Path
) -> None:
    """One 30-chunk run whose worker is SIGKILLed 20 times, right at a chunk boundary or inside a chunk."""
    data_dir = tmp_path / "data"
    svc = Services(Settings(data_dir=data_dir, database_url=meta_db.url, run_embedded_executor=False))
    svc.migrate()
    env = {"HEADWATER_DATA_DIR": str(data_dir), "HEADWATER_DATABASE_URL": meta_db.url}
    fill(source_db, 60_000)
    flow = create_flow(svc, source_db=source_db.name, table="public.t", delta=None, frequency="once", port=forward.port)
    ledger = Ledger(svc.store)
    log = tmp_path / "workers.log"
    rng = seed.rng("sigkilled-chunked-run")
    # A standby worker is always up, so a takeover never waits for a process to start; the killed
    # worker's lease is expired at once, as its expiry would.
    workers = ForkedWorkers("tests.runs.resume_worker", ["2000", "0.25"], env, log)
    workers.spawn()
    workers.spawn()
    run_id = svc.runs.create(context(), {"flowId": flow.id})["items"][0]["id"]
    kills: list[tuple[str, int]] = []
    last_attempt, last_staged = 0, 0
    try:
        for i in range(20):
            # Wait until a new attempt staged a chunk of its own, then kill at once or inside the next chunk.
            deadline = time.monotonic() + 30
            while True:
                row = ledger.get(run_id)
                assert row is not None and not row.status.terminal, (row, log.read_text()[-3000:])
                if row.attempt > last_attempt and len(staged_units(svc.store, row)) > last_staged:
                    break
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.005)
            where = "boundary" if i % 2 == 0 else "mid-chunk"
            if where == "mid-chunk":
                time.sleep(rng.uniform(0.03, 0.2))  # inside the next chunk's 0.25 s
            workers.kill(int((row.lease_owner or "").split(":")[1]))  # owner: host:pid:…
            workers.spawn()
            dead = ledger.get(run_id)
            assert dead is not None
            last_attempt, last_staged = dead.attempt, len(staged_units(svc.store, dead))
            kills.append((where, last_staged))
            with svc.store.begin() as conn:
                conn.execute(update(runs).where(runs.c.id == run_id).values(lease_expires_at=now_ms() - 1))
        deadline = time.monotonic() + 60
        while not (final := ledger.get(run_id)) or not final.status.terminal:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
    finally:
        workers.close()
    assert final.status is RunStatus.SUCCESS, final.doc["metrics"]["statusSummary"]
    assert final.attempt == 21
    info = chunking(final)
    assert info["chunks"] == 30
    # The last attempt resumed from exactly what the killed one had staged, and read only the rest.
    assert info["resumedChunks"] == kills[-1][1] and info["readChunks"] == 30 - kills[-1][1]
    assert all(a[1] < b[1] for a, b in itertools.pairwise(kills))  # every attempt staged a chunk
    assert final.doc["metrics"]["recordSummary"]["outputRecordCount"] == 60_000
    assert_dataset_equals_source(svc, flow, source_db)
    print(f"kills (where, chunks staged): {kills}")
