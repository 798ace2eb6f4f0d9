"""End-to-end flow run throughput (PostgreSQL table -> Iceberg dataset) against the raw COPY BINARY drain,
peak memory, and the scheduler's tick time with many flows defined.

    .venv/bin/python bench/flow_run.py                     # 5,000,000 rows, 10,000 flows
    .venv/bin/python bench/flow_run.py --rows 500000 --flows 2000

- raw drain: `COPY (SELECT ...) TO STDOUT (FORMAT binary)` streamed by psql (libpq, C) and discarded:
  the floor any reader of this table pays.
- flow run: a real run through `execute_run` (claim, lease, heartbeat, read, Iceberg commit, report)
  of a one-time flow over the same table. It reads with `headwater.connectors.postgres` once that can
  read; until then with the ADBC reader below (COPY BINARY into Arrow, the driver DESIGN.md chose).
- peak RSS of this process (ru_maxrss), measured after the drain and the run.
- scheduler: one tick over N enabled flows when all are due (N inserts) and when none is (steady state).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
from pydantic import BaseModel
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from headwater.connectors.postgres import SPEC  # noqa: E402
from headwater.domain import ColumnInfo, ReadRequest, TableSchema  # noqa: E402
from headwater.runs.ledger import Ledger, new_run_id  # noqa: E402
from headwater.runs.model import RunSettings, RunStatus  # noqa: E402
from headwater.runs.report import new_doc  # noqa: E402
from headwater.runs.scheduler import Scheduler  # noqa: E402
from headwater.runs.task import execute_run  # noqa: E402
from headwater.service import Services  # noqa: E402
from headwater.settings import Settings  # noqa: E402
from headwater.store import Scope, Store, now_ms  # noqa: E402
from headwater.store.tables import resources  # noqa: E402

ADMIN = os.environ.get("HEADWATER_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
TABLE = "bench_flow_rows"


def build_table(dsn: str, rows: int) -> None:
    """A 5M-row table of typical columns (ints, float, text, timestamptz, bool)."""
    try:  # reuse the read benchmark's builder when it exists, so both measure the same table
        from bench.pg_read import build_table as shared  # type: ignore[import-not-found]

        shared(dsn, TABLE, rows)
        return
    except ImportError:
        pass
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(
            f"CREATE UNLOGGED TABLE {TABLE} (id bigint PRIMARY KEY, account int NOT NULL, amount float8, "
            "name text, created_at timestamptz NOT NULL, active boolean)"
        )
        conn.execute(
            f"INSERT INTO {TABLE} SELECT g, (g %% 100000)::int, g * 0.37, 'customer-' || md5(g::text), "
            "timestamptz '2024-01-01' + g * interval '1 second', g %% 3 = 0 FROM generate_series(1, %s) g",
            (rows,),
        )
        conn.execute(f"VACUUM ANALYZE {TABLE}")


def raw_drain(db: str) -> tuple[float, int]:
    """The floor: psql (libpq, C) streams COPY BINARY; we count the bytes in 1 MiB reads and drop them."""
    sql = f"COPY (SELECT * FROM {TABLE}) TO STDOUT (FORMAT binary)"
    began = time.perf_counter()
    total = 0
    with subprocess.Popen(["psql", "-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c", sql],
                          stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(1 << 20):
            total += len(chunk)
    if proc.returncode:
        raise RuntimeError("psql COPY failed")
    return time.perf_counter() - began, total


class AdbcReader:
    """COPY BINARY into Arrow through ADBC: stands in for the production connector until it can read."""

    spec = SPEC

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def describe(self, auth: BaseModel, table: str) -> TableSchema:
        schema = self._schema(table)
        return TableSchema(table, tuple(ColumnInfo(f.name, str(f.type), f.type, "string", {}) for f in schema))

    def _schema(self, table: str) -> pa.Schema:
        import adbc_driver_postgresql.dbapi as adbc

        with adbc.connect(self.uri) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT * FROM {table} LIMIT 0")
            return pa.schema([f.remove_metadata() for f in cur.fetch_record_batch().schema])

    def read(self, auth: BaseModel, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        import adbc_driver_postgresql.dbapi as adbc

        cols = ", ".join(f'"{c}"' for c in request.columns) if request.columns else "*"
        with adbc.connect(self.uri) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT {cols} FROM {request.table}")
            reader = cur.fetch_record_batch()
            clean = pa.schema([f.remove_metadata() for f in reader.schema])
            for batch in reader:
                yield pa.RecordBatch.from_arrays(batch.columns, schema=clean)

    def check(self, auth: BaseModel) -> None:
        return None

    def list_objects(self, auth: BaseModel) -> list[Any]:
        return []

    def preview(self, auth: BaseModel, table: str, *, limit: int = 100) -> Any:
        raise NotImplementedError


def flow_run(db: str, data_dir: Path) -> tuple[float, dict[str, Any], str]:
    from tests.runs.pgsource import SCOPE, seed_flow

    svc = Services(Settings(data_dir=data_dir, run_embedded_executor=False))
    svc.migrate()
    flow = seed_flow(svc, source_db=db, table=f"public.{TABLE}", delta=None, frequency="once")
    deps = svc.runs.deps()
    reader_name = "headwater.connectors.postgres"
    real = deps.resolve
    try:
        connector, auth = real(svc.store.list("connection", SCOPE)[0])
        connector.describe(auth, f"public.{TABLE}")
    except NotImplementedError:
        reader_name = "bench ADBC reader (production connector cannot read yet)"
        adbc = AdbcReader(f"postgresql://postgres@127.0.0.1:5432/{db}")
        deps = dataclasses.replace(deps, resolve=lambda rec: (adbc, real(rec)[1]))
    deps = dataclasses.replace(deps, settings=RunSettings(progress_seconds=2.0))
    run_id = new_run_id()
    Ledger(svc.store).insert(run_id=run_id, scope=SCOPE, flow_id=flow.id, scheduled_at=now_ms(),
                             doc=new_doc(flow_spec={}, trigger="onDemand"))
    began = time.perf_counter()
    status = execute_run(deps, run_id, owner="bench")
    elapsed = time.perf_counter() - began
    row = Ledger(svc.store).get(run_id)
    assert status is RunStatus.SUCCESS and row is not None, row
    return elapsed, row.doc["metrics"], reader_name


def scheduler_ticks(flows: int, data_dir: Path) -> tuple[float, float, int]:
    store = Store.from_url(f"sqlite:///{data_dir / 'sched.db'}")
    store.migrate()
    start = int(time.time()) - 3600
    scope = Scope("bench@AdobeOrg", "prod")

    rows = [
        dict(id=str(uuid.uuid4()), kind="flow", org=scope.org, sandbox=scope.sandbox, etag='"x"',
             created_at=now_ms(), updated_at=now_ms(), secrets=None,
             doc={"name": f"f{i}", "state": "enabled", "flowSpec": {"id": "x", "version": "1.0"},
                  "scheduleParams": {"startTime": str(start + i % 600), "frequency": "minute", "interval": "15",
                                     "backfill": "true"}})
        for i in range(flows)
    ]
    with store.begin() as conn:
        conn.execute(insert(resources), rows)
    sched = Scheduler(store)
    busy = sched.tick()
    idle = sched.tick()
    return busy.seconds, idle.seconds, busy.created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--flows", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the source database")
    args = parser.parse_args()
    db = f"hw_bench_flow_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db}"')
    dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={db}"
    try:
        t0 = time.perf_counter()
        build_table(dsn, args.rows)
        print(f"built {args.rows:,} rows in {time.perf_counter() - t0:.1f}s")
        raw_drain(db)  # warm the cache so both measurements read from memory
        drain_s, drain_bytes = raw_drain(db)
        print(f"raw COPY BINARY drain: {drain_s:.2f}s ({drain_bytes / 2**20:,.0f} MiB, "
              f"{args.rows / drain_s:,.0f} rows/s)")
        with tempfile.TemporaryDirectory() as tmp:
            run_s, metrics, reader = flow_run(db, Path(tmp) / "data")
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            rec, size = metrics["recordSummary"], metrics["sizeSummary"]
            print(f"flow run ({reader}): {run_s:.2f}s, {rec['outputRecordCount']:,} rows, "
                  f"{size['outputBytes'] / 2**20:,.0f} MiB Parquet, {args.rows / run_s:,.0f} rows/s")
            print(f"ratio flow run / raw drain: {run_s / drain_s:.2f}x; peak RSS {peak:,.0f} MiB")
            busy, idle, created = scheduler_ticks(args.flows, Path(tmp))
            print(f"scheduler with {args.flows:,} flows: tick creating {created:,} runs {busy * 1000:,.0f} ms; "
                  f"idle tick {idle * 1000:,.0f} ms")
    finally:
        if not args.keep:
            with psycopg.connect(ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
