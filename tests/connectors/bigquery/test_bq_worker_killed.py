"""A BigQuery chunked run whose worker process is SIGKILLed resumes from the streams it staged.

The run is executed by a real worker process (tests/connectors/bigquery/bq_resume_worker.py: the
run engine, one stream at a time, slowed down so the kill lands where the test says). The worker is
frozen with SIGSTOP once it staged k of the session's streams (or once it committed), the staging
and the snapshots are read while nothing can change them, and the worker is SIGKILLed: the kill
point is known exactly. The run is then taken over in this process, which must read only the
streams not staged, each whole, from the same read session, and leave one snapshot, the run's,
holding every source row once (runs/chunked.py, connectors/_bq_chunks.py).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from google.cloud import bigquery
from sqlalchemy import update

from headwater.api import create_app
from headwater.connectors._bq_clients import read_client
from headwater.lake import RUN_ID, DatasetIdent
from headwater.runs import staging_store
from headwater.runs.ledger import Ledger, RunRow
from headwater.runs.model import RunStatus
from headwater.service import Services
from headwater.settings import Settings
from headwater.store import Scope, now_ms
from headwater.store.tables import runs
from tests.connectors.bigquery.emulator import PROJECT, TIMEOUTS, Emulator, TokenServer
from tests.connectors.bigquery.test_bq_flow_run import OAUTH
from tests.runs.source import FAST, SourceDb, create_database, drop_database
from tests.support.chain import make_chain, run_until_done
from tests.support.forked_workers import ForkedWorkers
from tests.support.ids import BQ_SPEC
from tests.support.tenants import make_tenant

ROWS, STREAMS = 60_000, 6  # about 1.4 MB: over the emulator's one-stream limit, 10,000 rows a stream
PAUSE = 0.3  # the worker's pause before each stream's batch and before its commit


@dataclass
class Site:
    """One metadata database and data directory, shared by the worker processes and this process."""

    services: Services
    workers: ForkedWorkers
    log: Path
    table: str
    source_ids: Counter[int]


class StreamReads:
    """Wraps `read_client`: records every ReadRows call as (stream, offset) and counts new read sessions."""

    def __init__(self) -> None:
        self.reads: list[tuple[str, int]] = []
        self.sessions = 0

    def __call__(self, settings: Settings, credentials: Any) -> Any:
        client: Any = read_client(settings, credentials)
        create, read = client.create_read_session, client.read_rows

        def create_read_session(**kwargs: Any) -> Any:
            self.sessions += 1
            return create(**kwargs)

        def read_rows(name: str, **kwargs: Any) -> Any:
            self.reads.append((name, int(kwargs.get("offset", 0))))
            return read(name, **kwargs)

        client.create_read_session = create_read_session
        client.read_rows = read_rows
        return client


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, bq_emulator: Emulator, token_server: TokenServer,
    bq_admin: bigquery.Client,
) -> Iterator[Site]:  # fmt: skip
    meta: SourceDb = create_database("hw_bqkill")
    data_dir, log = tmp_path_factory.mktemp("bqkill") / "data", tmp_path_factory.mktemp("bqkill") / "workers.log"
    env = {
        "HEADWATER_DATA_DIR": str(data_dir),
        "HEADWATER_DATABASE_URL": meta.url,
        "HEADWATER_GOOGLE_TOKEN_URI": token_server.url,
        "HEADWATER_BIGQUERY_API_ENDPOINT": bq_emulator.rest,
        "HEADWATER_BIGQUERY_READ_ENDPOINT": bq_emulator.grpc,
        "HEADWATER_BIGQUERY_STREAM_ROWS": str(ROWS // STREAMS),
    }
    # The forker imports Headwater while the table is made.
    workers = ForkedWorkers("tests.connectors.bigquery.bq_resume_worker", [str(PAUSE)], env, log)
    dataset = f"hw_{uuid.uuid4().hex[:12]}"
    try:
        bq_admin.create_dataset(f"{PROJECT}.{dataset}", timeout=10, retry=TIMEOUTS.rest_retry())
        bq_admin.query(
            f"CREATE TABLE `{PROJECT}.{dataset}.events` AS SELECT x AS id, CONCAT('event-', CAST(x AS STRING)) "
            f"AS label FROM UNNEST(GENERATE_ARRAY(1, {ROWS})) AS x",
            timeout=60,
        ).result(timeout=60)
        source = Counter(r[0] for r in bq_admin.query(f"SELECT id FROM `{PROJECT}.{dataset}.events`").result())
        # This process takes killed runs over: two readers, where the killed worker had one.
        settings = Settings(
            data_dir=data_dir,
            database_url=meta.url,
            google_token_uri=token_server.url,
            bigquery_api_endpoint=bq_emulator.rest,
            bigquery_read_endpoint=bq_emulator.grpc,
            bigquery_stream_rows=ROWS // STREAMS,
            run_embedded_executor=False,
            run=FAST.model_copy(update={"read_parallelism": 2}),
        )
        services = Services(settings)
        services.migrate()
        yield Site(services, workers, log, f"{dataset}.events", source)
    finally:
        workers.close()
        bq_admin.delete_dataset(f"{PROJECT}.{dataset}", delete_contents=True, not_found_ok=True, timeout=10)
        drop_database(meta)


def staged(site: Site, run_id: str) -> dict[str, list[str]]:
    """The run's finished units as recorded in its staging: key -> staged files."""
    raw = staging_store.load(site.services.store, run_id) or {}
    return {u["key"]: list(u["files"]) for u in raw.get("units", []) if u["done"]}


def snapshot_runs(site: Site, ident: DatasetIdent) -> list[str | None]:
    """The run id of each snapshot of the dataset, oldest first."""
    table = site.services.lake.catalog.load_table((ident.namespace, ident.dataset_id))
    return [s.summary.get(RUN_ID) if s.summary is not None else None for s in table.snapshots()]


# Where the worker is killed: once it staged this many streams, and (or not) committed the run.
KILL_POINTS = {
    "after-first-stream": (1, False),
    "in-last-stream": (STREAMS - 1, False),
    "before-commit": (STREAMS, False),
    "after-commit": (STREAMS, True),  # committed, not yet recorded as succeeded
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_sigkilled_worker_is_taken_over_reading_only_the_streams_it_had_not_staged(
    point: str, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged_at_kill, committed_at_kill = KILL_POINTS[point]
    org = f"BQKILL{uuid.uuid4().hex[:20].upper()}@AdobeOrg"
    svc, ledger = site.services, Ledger(site.services.store)
    with TestClient(create_app(svc.settings, services=svc)) as client:
        chain = make_chain(client, make_tenant(svc, org).headers(), site.table, auth=OAUTH, source_spec=BQ_SPEC,
                           columns=("id", "label"))  # fmt: skip
    assert chain.run is not None
    run_id = chain.run
    record = svc.store.get("dataSet", Scope(org, "prod"), chain.dataset)
    assert record is not None
    ident = DatasetIdent(record.doc["_iceberg"]["namespace"], record.doc["_iceberg"]["table"])

    def tail() -> str:
        return site.log.read_text(errors="replace")[-3000:]

    pid = site.workers.spawn()
    deadline = time.monotonic() + 20
    while len(staged(site, run_id)) < staged_at_kill or (committed_at_kill and not snapshot_runs(site, ident)):
        row = ledger.get(run_id)
        assert row is not None and not row.status.terminal, (row, tail())
        assert time.monotonic() < deadline, tail()
        time.sleep(0.005)
    # Frozen, the worker can stage nothing more: what is staged now is what it staged when killed.
    os.kill(pid, signal.SIGSTOP)
    frozen = staged(site, run_id)
    row = ledger.get(run_id)
    raw = staging_store.load(svc.store, run_id)
    assert row is not None and raw is not None
    assert row.status is RunStatus.IN_PROGRESS and row.attempt == 1, row
    assert (row.lease_owner or "").split(":")[1] == str(pid)  # owner: host:pid:…
    # Normally exactly the kill point (the next stream, or the commit, takes PAUSE); a test process
    # stalled longer than that sees the worker one step further, and what follows holds for that too.
    killed_at, committed = len(frozen), snapshot_runs(site, ident)
    assert committed in ([], [run_id]), committed
    assert (killed_at, bool(committed)) >= (staged_at_kill, committed_at_kill), (frozen, committed)
    assert not committed or killed_at == STREAMS
    chunks = raw["plan"]["chunks"]
    assert [c["key"] for c in chunks] == [f"s{i}" for i in range(STREAMS)], chunks
    site.workers.kill(pid)
    assert staged(site, run_id) == frozen
    with svc.store.begin() as conn:  # as the killed worker's lease expiry would
        conn.execute(update(runs).where(runs.c.id == run_id).values(lease_expires_at=now_ms() - 1))

    reads = StreamReads()
    monkeypatch.setattr("headwater.connectors._bq_chunks.read_client", reads)
    final: RunRow = run_until_done(svc, run_id, timeout=30)

    assert final.status is RunStatus.SUCCESS, (final.doc["metrics"]["statusSummary"], tail())
    assert final.attempt == 2
    # One snapshot, this run's, holding the killed worker's staged files and every source row once.
    assert snapshot_runs(site, ident) == [run_id]
    in_snapshot = {Path(f).name for f in svc.lake.data_files(ident)}
    assert {Path(f).name for files in frozen.values() for f in files} <= in_snapshot
    landed = Counter(svc.lake.scan(ident).column("out_0").to_pylist())
    duplicated = sorted(k for k, n in landed.items() if n > 1)
    assert not duplicated, f"{len(duplicated)} ids landed more than once, e.g. {duplicated[:5]}"
    lost = sorted(set(site.source_ids) - set(landed))
    assert not lost, f"{len(lost)} ids never landed, e.g. {lost[:5]}"
    assert landed == site.source_ids
    # The takeover read each stream the killed worker had not staged once and whole (the one it was
    # inside included), in the killed worker's session, and none it had staged.
    pending = sorted(c["stream"] for c in chunks if c["key"] not in frozen)
    assert sorted(reads.reads) == [(s, 0) for s in pending]
    assert reads.sessions == 0
    (activity,) = final.doc["activities"]
    chunking = activity["statusSummary"]["extensions"]["chunking"]
    assert chunking["path"] == "bigquery-read-streams" and chunking["chunks"] == STREAMS, chunking
    # A takeover that finds the run's snapshot succeeds without planning: the figures are the killed attempt's.
    split = (0, STREAMS) if committed else (killed_at, STREAMS - killed_at)
    assert (chunking["resumedChunks"], chunking["readChunks"]) == split, chunking
    records = final.doc["metrics"]["recordSummary"]
    assert (records["inputRecordCount"], records["outputRecordCount"]) == (ROWS, ROWS), records
    assert staging_store.load(svc.store, run_id) is None  # committed: the staged files are the snapshot's now
    print(f"{point}: killed with {killed_at} of {STREAMS} streams staged, committed: {bool(committed)}; "
          f"the takeover read {len(reads.reads)}")  # fmt: skip
