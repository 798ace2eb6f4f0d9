"""End-to-end flow run throughput (PostgreSQL table -> Iceberg dataset) against the raw COPY BINARY drain,
peak memory, and the scheduler's tick time with many flows defined.

    .venv/bin/python bench/flow_run.py                     # 5,000,000 rows, 10,000 flows
    .venv/bin/python bench/flow_run.py --rows 500000 --flows 2000 --repeat 3

- table: the read benchmark's mixed-type table (bench/pg_read.py builds it once and reuses it).
- raw drain: `COPY (SELECT * FROM t) TO STDOUT (FORMAT BINARY)` drained and discarded, in its own
  process: the floor any reader of this table pays.
- flow run: a real run through `execute_run` (claim, lease, heartbeat, read with
  `headwater.connectors.postgres`, zstd Parquet, one Iceberg commit, report) of a one-time flow over
  the same table, in its own process so its peak RSS is its own.
- scheduler: one tick over N enabled flows when all are due (N inserts) and when none is (steady state).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _common import create_once_flow, emit, run_child  # noqa: E402
from pg_read import SCHEMA, ensure_table, table_name  # noqa: E402

# Headwater is imported inside the steps, not here: a measured child forked from a parent that had
# already imported pyarrow and SQLAlchemy would report the parent's pages in its own peak RSS.


def child_flow_run(rows: int, parallelism: int | None) -> None:
    """One on-demand run of a one-time flow over the mixed table, into a fresh Iceberg dataset."""
    from headwater.runs.ledger import Ledger, new_run_id
    from headwater.runs.model import RunStatus
    from headwater.runs.report import new_doc
    from headwater.runs.task import execute_run
    from headwater.service import Services
    from headwater.settings import Settings
    from headwater.store import now_ms

    with tempfile.TemporaryDirectory() as tmp:
        svc = Services(Settings(data_dir=Path(tmp), run_embedded_executor=False))
        svc.migrate()
        flow = create_once_flow(svc, database="postgres", table=f"{SCHEMA}.{table_name(rows)}")
        deps = svc.run_deps()
        if parallelism:
            tuned = deps.settings.model_copy(update={"read_parallelism": parallelism})
            deps = dataclasses.replace(deps, settings=tuned)
        run_id = new_run_id()
        Ledger(svc.store).insert(run_id=run_id, scope=flow.scope, flow_id=flow.id, scheduled_at=now_ms(),
                                 doc=new_doc(flow_spec={}, trigger="onDemand"))
        began = time.perf_counter()
        status = execute_run(deps, run_id, owner="bench")
        seconds = time.perf_counter() - began
        row = Ledger(svc.store).get(run_id)
        assert status is RunStatus.SUCCESS and row is not None, row
        metrics = row.doc["metrics"]
        emit({"seconds": seconds, "rows": metrics["recordSummary"]["outputRecordCount"],
              "parquet_bytes": metrics["sizeSummary"]["outputBytes"], "parallelism": deps.settings.read_parallelism})


def scheduler_ticks(flows: int, data_dir: Path) -> tuple[float, float, int]:
    from sqlalchemy import insert

    from headwater.runs.scheduler import Scheduler
    from headwater.store import Scope, Store, now_ms
    from headwater.store.tables import resources

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
    parser.add_argument("--repeat", type=int, default=1, help="best of N for each measurement")
    parser.add_argument("--parallelism", type=int, default=None, help="read partitions (default: the run setting)")
    parser.add_argument("--child", choices=["flow"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "flow":
        return child_flow_run(args.rows, args.parallelism)

    ensure_table(args.rows)
    reader = str(ROOT / "bench" / "pg_read.py")
    me = str(Path(__file__).resolve())
    run_child([reader, "--child", "raw", "--rows", str(args.rows)])  # warm the page cache; not counted

    def best(argv: list[str]) -> Any:
        return min((run_child(argv) for _ in range(max(1, args.repeat))), key=lambda r: r.output["seconds"])

    raw = best([reader, "--child", "raw", "--rows", str(args.rows)])
    extra = ["--parallelism", str(args.parallelism)] if args.parallelism else []
    run = best([me, "--child", "flow", "--rows", str(args.rows), *extra])
    assert run.output["rows"] == args.rows, run.output
    drain_s, run_s, size = raw.output["seconds"], run.output["seconds"], raw.output["bytes"]
    print(f"rows: {args.rows:,}   COPY BINARY size: {size / 1e6:,.1f} MB")
    print(f"raw COPY BINARY drain: {drain_s:.2f} s, {args.rows / drain_s:,.0f} rows/s, "
          f"{size / 1e6 / drain_s:,.1f} MB/s, peak RSS {raw.peak_rss_mib:,.0f} MiB")
    print(f"flow run (p={run.output['parallelism']}): {run_s:.2f} s, {args.rows / run_s:,.0f} rows/s, "
          f"{size / 1e6 / run_s:,.1f} MB/s, {run.output['parquet_bytes'] / 2**20:,.0f} MiB Parquet, "
          f"peak RSS {run.peak_rss_mib:,.0f} MiB")
    print(f"ratio flow run / raw drain: {run_s / drain_s:.2f}x")
    with tempfile.TemporaryDirectory() as tmp:
        busy, idle, created = scheduler_ticks(args.flows, Path(tmp))
    print(f"scheduler with {args.flows:,} flows: tick creating {created:,} runs {busy * 1000:,.0f} ms; "
          f"idle tick {idle * 1000:,.0f} ms")


if __name__ == "__main__":
    main()
