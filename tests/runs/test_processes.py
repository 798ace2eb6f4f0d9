"""Runs across processes, on one PostgreSQL metadata database: racing schedulers, SIGKILLed workers, Celery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from headwater.runs.ledger import Ledger, new_run_id
from headwater.runs.model import RunStatus
from headwater.runs.report import new_doc
from headwater.service import Services
from headwater.settings import Settings
from headwater.store import Store, now_ms
from tests.runs.source import (
    SCOPE,
    PortForward,
    SourceDb,
    create_database,
    create_flow,
    dataset_ident,
    drop_database,
)
from tests.support import seed

pytestmark = pytest.mark.slow  # worker processes killed and restarted

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def meta_db() -> Iterator[SourceDb]:
    db = create_database("hw_runmeta")
    try:
        yield db
    finally:
        drop_database(db)


def spawn(*args: str, env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen[bytes]:
    out: Any = log.open("ab") if log else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "tests.runs.procs", *args], cwd=ROOT, env={**os.environ, **(env or {})},
        stdout=out, stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
    )


def test_two_scheduler_processes_never_create_a_run_twice(meta_db: SourceDb) -> None:
    store = Store.from_url(meta_db.url)
    store.migrate()
    now = int(time.time())
    enabled = []
    for i in range(300):
        state = "disabled" if i % 10 == 0 else "enabled"
        frequency = ("minute", "hour", "day", "once")[i % 4]
        schedule: dict[str, Any] = {"startTime": str(now - 3600 * 24 * 3 - i), "frequency": frequency}
        if frequency != "once":
            schedule |= {"interval": "15", "backfill": "true"}
        record = store.insert("flow", SCOPE, id=str(uuid.uuid4()), doc={
            "name": f"f{i}", "flowSpec": {"id": "x", "version": "1.0"}, "state": state, "scheduleParams": schedule,
        })
        if state == "enabled":
            enabled.append(record.id)
    start_at = time.time() + 2.0
    procs = [
        subprocess.Popen([sys.executable, "-m", "tests.runs.procs", "scheduler", meta_db.url, str(start_at), "2"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1].decode()[-2000:] for o in outputs]
    created = [int(o[0].decode().strip()) for o in outputs]
    rows = Ledger(store).for_scope(SCOPE)
    per_flow: dict[str, int] = {}
    for row in rows:
        per_flow[row.flow_id] = per_flow.get(row.flow_id, 0) + 1
    # Every enabled flow has exactly its one due run; disabled flows none; no insert was counted twice.
    assert per_flow == dict.fromkeys(enabled, 1)
    assert sum(created) == len(enabled) == len(rows)
    assert all(r.status is RunStatus.PENDING and r.doc["trigger"] == "schedule" for r in rows)
    store.engine.dispose()


@pytest.fixture
def forward() -> Iterator[PortForward]:
    """The metadata database's endpoint (127.0.0.1:5432) is refused to tenant connections, so these
    runs reach the same server, as their source, through a forwarded port."""
    port = PortForward()
    try:
        yield port
    finally:
        port.close()


def _services(meta: SourceDb, data_dir: Path) -> tuple[Services, dict[str, str]]:
    env = {"HEADWATER_DATA_DIR": str(data_dir), "HEADWATER_DATABASE_URL": meta.url}
    svc = Services(Settings(data_dir=data_dir, database_url=meta.url, run_embedded_executor=False))
    svc.migrate()
    return svc, env


def _wait(ledger: Ledger, run_id: str, timeout: float) -> RunStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = ledger.get(run_id)
        assert row is not None
        if row.status.terminal:
            return row.status
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still {ledger.get(run_id)}")


def test_sigkilled_workers_never_lose_or_duplicate_rows(
    meta_db: SourceDb, source_db: SourceDb, forward: PortForward, tmp_path: Path
) -> None:
    """12 incremental runs; the worker process is SIGKILLed at a random moment of each (every fourth right
    after its Iceberg commit, before its report), then restarted: each run is one more trial of the
    same kill points, and 12 keep the suite's time in bounds."""
    svc, env = _services(meta_db, tmp_path / "data")
    env["HW_TEST_PAUSE_AFTER_COMMIT"] = "0.4"
    with source_db.connect() as conn:
        conn.execute("CREATE TABLE events (id bigint PRIMARY KEY, ts timestamptz NOT NULL DEFAULT clock_timestamp(), "
                     "payload text)")
    flow = create_flow(svc, source_db=source_db.name, table="public.events", delta="ts", port=forward.port)
    ledger = Ledger(svc.store)
    lake, ident = svc.lake, dataset_ident(svc, flow)
    log = tmp_path / "worker.log"
    rng = seed.rng("sigkilled-workers")
    worker = spawn("worker", env=env, log=log)
    killed_states: list[str] = []
    next_id = 1
    try:
        for i in range(12):
            with source_db.connect() as conn:
                n = rng.randint(5000, 15000)
                conn.execute("INSERT INTO events (id, payload) SELECT g, repeat('x', 40) || g "
                             "FROM generate_series(%s::bigint, %s::bigint) g", (next_id, next_id + n - 1))
                next_id += n
            time.sleep(0.6)  # past the 0.5 s safety lag, so this run's window covers the new rows
            run_id = new_run_id()
            ledger.insert(run_id=run_id, scope=SCOPE, flow_id=flow.id, scheduled_at=now_ms(),
                          doc=new_doc(flow_spec={}, trigger="schedule"))
            if i % 4 == 3:
                # A targeted kill: after the Iceberg commit, before the run is reported.
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and not (lake.exists(ident) and lake.committed_run(ident, run_id)):
                    time.sleep(0.02)
            else:
                time.sleep(rng.uniform(0.0, 0.9))
            row = ledger.get(run_id)
            assert row is not None
            committed = lake.exists(ident) and lake.committed_run(ident, run_id) is not None
            killed_states.append(row.status.value + ("+committed" if committed else ""))
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            worker = spawn("worker", env=env, log=log)
            assert _wait(ledger, run_id, 60) is RunStatus.SUCCESS, log.read_text()[-3000:]
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    table = svc.lake.scan(dataset_ident(svc, flow))
    ids = table.column("id").to_pylist()
    with source_db.connect() as conn:
        source = dict(conn.execute("SELECT id, payload FROM events").fetchall())
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicated rows"
    assert set(ids) == set(source), f"lost {len(set(source) - set(ids))} rows"
    assert dict(zip(ids, table.column("payload").to_pylist(), strict=True)) == source
    runs = ledger.for_scope(SCOPE, flow_ids=[flow.id])
    assert sum(r.doc["metrics"]["recordSummary"]["outputRecordCount"] for r in runs) == len(source)
    # The kills really landed mid-run (not only between runs) and some runs needed a second claim.
    assert "inProgress" in killed_states and "inProgress+committed" in killed_states, killed_states
    assert any(r.attempt > 1 for r in runs)
    print(f"kill points: {killed_states}; attempts: {[r.attempt for r in runs]}")


def test_a_celery_worker_executes_a_run_end_to_end(
    meta_db: SourceDb, source_db: SourceDb, forward: PortForward, tmp_path: Path
) -> None:
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("Redis is required at 127.0.0.1:6379")
    broker = f"redis://127.0.0.1:6379/{seed.rng('celery-broker-db').randint(1, 15)}"
    svc, env = _services(meta_db, tmp_path / "data")
    with source_db.connect() as conn:
        conn.execute("CREATE TABLE t (id bigint PRIMARY KEY, name text)")
        conn.execute("INSERT INTO t SELECT g, 'n' || g FROM generate_series(1, 1234) g")
    flow = create_flow(svc, source_db=source_db.name, table="public.t", delta=None, frequency="once",
                       start_time=int(time.time()) - 5, port=forward.port)
    log = tmp_path / "celery.log"
    worker = spawn("celery", broker, env=env, log=log)
    try:
        # The scheduler creates the one-time run and, a broker being configured, hands it to Celery.
        from headwater.runs.celery_app import create_celery, enqueuer
        from headwater.runs.scheduler import Scheduler

        sched = Scheduler(svc.store)
        assert sched.tick().created == 1
        assert sched.dispatch(enqueuer(create_celery(broker)), requeue_after_s=60) == 1
        (run,) = Ledger(svc.store).for_scope(SCOPE, flow_ids=[flow.id])
        assert _wait(Ledger(svc.store), run.id, 90) is RunStatus.SUCCESS, log.read_text()[-3000:]
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
    done = Ledger(svc.store).get(run.id)
    assert done is not None and done.doc["metrics"]["recordSummary"]["outputRecordCount"] == 1234
    assert ":celery" in log.read_text() or "succeeded" in log.read_text()
    assert sorted(svc.lake.scan(dataset_ident(svc, flow)).column("id").to_pylist()) == list(range(1, 1235))
