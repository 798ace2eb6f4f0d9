"""Helpers of the scale-out test: `headwater worker` processes, brokers, small source tables, a worker killed
while it holds a run, and the catalog read back by plain pyiceberg in a process of its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from headwater.runs.ledger import Ledger, RunRow
from headwater.runs.model import RunStatus
from tests.runs.source import SCOPE, SourceDb
from tests.support import seed
from tests.support.net import wait_for
from tests.support.s3 import ObjectStore

FOREIGN_ENV = ("HEADWATER_", "AWS_")  # prefixes of what a developer's shell may hold that must not leak in


def without_foreign_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(FOREIGN_ENV):
            monkeypatch.delenv(name)


@dataclass
class Worker:
    """A `headwater worker` process and its log."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def holds(self, row: RunRow) -> bool:
        # Lease owners are host:pid:random:celery.
        return row.status is RunStatus.IN_PROGRESS and f":{self.process.pid}:" in (row.lease_owner or "")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def start_worker(data_dir: Path, extra_env: dict[str, str]) -> Worker:
    """`headwater worker`; with HEADWATER_BROKER_URL set, a Celery worker executing runs."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "worker.log"
    env = {**os.environ, "HEADWATER_DATA_DIR": str(data_dir), **extra_env}
    with log_path.open("wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "headwater.cli", "worker"], env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    return Worker(proc, log_path)


def broker_url(kind: str) -> str:
    """The local Redis (a database chosen by the seed) or RabbitMQ; fails clearly when it is not there."""
    if kind == "redis":
        url = f"redis://127.0.0.1:6379/{seed.rng('scale-out-redis-db').randint(1, 15)}"
        try:
            redis.Redis.from_url(url).ping()
        except redis.ConnectionError:
            pytest.fail("Redis is required at 127.0.0.1:6379")
        return url
    url = "amqp://guest:guest@127.0.0.1:5672//"
    import kombu

    try:
        with kombu.Connection(url, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        pytest.fail(f"RabbitMQ is required at 127.0.0.1:5672 (guest/guest): {exc}")
    return url


def norm(value: Any) -> Any:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def make_sources(db: SourceDb, count: int) -> list[Counter[tuple[Any, ...]]]:
    """Tables t0..t<count-1>, each with rows of its own and some exact duplicates (so copies are counted)."""
    expected = []
    with db.connect() as conn:
        for i in range(count):
            conn.execute(f"CREATE TABLE t{i} (id bigint, name text, updated_at timestamptz)")
            conn.execute(
                f"INSERT INTO t{i} SELECT g, 't{i}-' || g, timestamptz '2024-01-01' + g * {i + 1} * interval '1 min' "
                f"FROM generate_series(1, {40 + 9 * i}) g"
            )
            conn.execute(f"INSERT INTO t{i} SELECT * FROM t{i} WHERE id % 5 = {i % 5}")
            rows = conn.execute(f"SELECT id, name, updated_at FROM t{i}").fetchall()
            expected.append(Counter(tuple(norm(v) for v in row) for row in rows))
    return expected


def kill_holding_a_run(ledger: Ledger, worker: Worker, *, after_successes: int) -> list[RunRow]:
    """SIGKILL `worker` once `after_successes` runs succeeded and it holds a run; the runs it held then.

    Small runs finish in milliseconds, so a run seen held may be done by the time a signal lands. The worker
    is frozen (SIGSTOP) before its runs are read again: only a run it still holds while frozen counts, and
    a worker found holding none is let go on and tried again."""

    def ready() -> bool:
        rows = ledger.for_scope(SCOPE)
        done = sum(r.status is RunStatus.SUCCESS for r in rows)
        return done >= after_successes and any(worker.holds(r) for r in rows)

    def frozen_holding() -> bool:
        wait_for("the worker to hold a run", ready, timeout=60, every=0.02)
        worker.process.send_signal(signal.SIGSTOP)
        if any(worker.holds(r) for r in ledger.for_scope(SCOPE)):
            return True
        worker.process.send_signal(signal.SIGCONT)
        return False

    wait_for("the worker to be frozen holding a run", frozen_holding, timeout=120, every=0)
    held = [r for r in ledger.for_scope(SCOPE) if worker.holds(r)]
    worker.process.send_signal(signal.SIGKILL)
    worker.process.wait(timeout=10)
    return held


# Plain pyiceberg, configured as any reader of the catalog would be (docs/deploy.md).
_READER = """
import json, sys
from datetime import UTC, datetime
from pyiceberg.catalog.sql import SqlCatalog

catalog = SqlCatalog("headwater", **json.load(sys.stdin))
out = {}
for namespace in catalog.list_namespaces():
    for ident in catalog.list_tables(namespace):
        table = catalog.load_table(ident)
        rows = [{k: v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
                for row in table.scan().to_arrow().to_pylist()]
        runs = [s.summary["headwater.run-id"] for s in table.snapshots() if s.summary is not None]
        out[".".join(ident)] = {"rows": rows, "runs": runs, "location": table.location()}
print(json.dumps(out))
"""


def read_catalog_elsewhere(catalog_url: str, warehouse: str, store: ObjectStore) -> dict[str, Any]:
    """Every table of the catalog, from a fresh interpreter outside the repository: rows, run ids, location."""
    properties = {
        "uri": catalog_url,
        "warehouse": warehouse,
        "s3.endpoint": store.endpoint,
        "s3.region": store.region,
        "s3.access-key-id": store.access_key_id,
        "s3.secret-access-key": store.secret_access_key,
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_ENV)}
    done = subprocess.run(
        [sys.executable, "-c", _READER],
        input=json.dumps(properties),  # on stdin, never in a process listing
        env={**clean, "AWS_EC2_METADATA_DISABLED": "true"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",  # nothing of the repository on its path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result
