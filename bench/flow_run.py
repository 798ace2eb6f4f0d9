"""End-to-end flow run throughput (PostgreSQL table -> Iceberg dataset) against the raw COPY BINARY drain:
chunked reads against one transaction, the oldest source transaction, peak memory, resume after SIGKILL,
and the scheduler's tick time with many flows defined.

    .venv/bin/python bench/flow_run.py                     # 5,000,000 rows, 10,000 flows
    .venv/bin/python bench/flow_run.py --rows 20000000 --kill-at 0.8 --flows 0
    .venv/bin/python bench/flow_run.py --rows 500000 --chunk-rows 50000 --repeat 3

- table: the read benchmark's mixed-type table (bench/pg_read.py builds it once and reuses it).
- raw drain: `COPY (SELECT * FROM t) TO STDOUT (FORMAT BINARY)` drained and discarded, in its own
  process: the floor any reader of this table pays.
- flow runs: real runs through `execute_run` (claim, lease, heartbeat, read with
  `headwater.connectors.postgres`, zstd Parquet, one Iceberg commit, report) of a one-time flow over
  the same table, each in its own process so its peak RSS is its own: once in one transaction
  (`HEADWATER_RUN_CHUNK_ROWS=0`, the reference) and once in chunks (the setting, or --chunk-rows), at
  the same parallelism. While each runs, pg_stat_activity is sampled every 0.2 s for the oldest open
  transaction reading the table: how long the source's vacuum horizon is held back.
- --kill-at F: a chunked run is SIGKILLed once F of its rows are staged, its lease expired, and a new
  process takes it over; the median resumed run of --repeat kills is compared with the median full
  chunked run.
- scheduler: one tick over N enabled flows when all are due (N inserts) and when none is (steady state).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import psycopg  # noqa: E402
from _common import create_once_flow, emit, run_child  # noqa: E402
from pg_read import DSN, SCHEMA, ensure_table, table_name  # noqa: E402

# Headwater is imported inside the steps, not here: a measured child forked from a parent that had
# already imported pyarrow and SQLAlchemy would report the parent's pages in its own peak RSS.


def child_flow_run(rows: int, parallelism: int | None, chunk_rows: int | None, data_dir: str | None,
                   run_id: str | None) -> None:
    """One on-demand run of a one-time flow over the mixed table, into a fresh Iceberg dataset.

    With `data_dir` and `run_id` (the kill-at mode), the run already exists there: execute it, or take
    it over (resume) when an earlier child was killed.
    """
    from headwater.runs.ledger import Ledger, new_run_id
    from headwater.runs.model import RunStatus
    from headwater.runs.report import new_doc
    from headwater.runs.task import execute_run
    from headwater.service import Services
    from headwater.settings import Settings
    from headwater.store import now_ms

    with tempfile.TemporaryDirectory() as tmp:
        svc = Services(Settings(data_dir=Path(data_dir or tmp), run_embedded_executor=False))
        deps = svc.run_deps()
        update: dict[str, Any] = {"lease_seconds": 5.0, "heartbeat_seconds": 1.0}
        if parallelism:
            update["read_parallelism"] = parallelism
        if chunk_rows is not None:
            update["chunk_rows"] = chunk_rows
        deps = dataclasses.replace(deps, settings=deps.settings.model_copy(update=update))
        if run_id is None:
            svc.migrate()
            flow = create_once_flow(svc, database="postgres", table=f"{SCHEMA}.{table_name(rows)}")
            run_id = new_run_id()
            Ledger(svc.store).insert(run_id=run_id, scope=flow.scope, flow_id=flow.id, scheduled_at=now_ms(),
                                     doc=new_doc(flow_spec={}, trigger="onDemand"))
        began, cpu = time.perf_counter(), time.process_time()
        status = execute_run(deps, run_id, owner=f"bench-{os.getpid()}")
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        row = Ledger(svc.store).get(run_id)
        assert status is RunStatus.SUCCESS and row is not None, row
        metrics = row.doc["metrics"]
        chunking = row.doc["activities"][0]["statusSummary"].get("extensions", {}).get("chunking")
        emit({"seconds": seconds, "cpu_seconds": cpu, "rows": metrics["recordSummary"]["outputRecordCount"],
              "parquet_bytes": metrics["sizeSummary"]["outputBytes"], "parallelism": deps.settings.read_parallelism,
              "chunking": chunking})


def prepare_run(rows: int, data_dir: Path) -> str:
    """A migrated data directory holding a one-time flow over the mixed table and one pending run of it."""
    from headwater.runs.ledger import Ledger, new_run_id
    from headwater.runs.report import new_doc
    from headwater.service import Services
    from headwater.settings import Settings
    from headwater.store import now_ms

    svc = Services(Settings(data_dir=data_dir, run_embedded_executor=False))
    svc.migrate()
    flow = create_once_flow(svc, database="postgres", table=f"{SCHEMA}.{table_name(rows)}")
    run_id = new_run_id()
    Ledger(svc.store).insert(run_id=run_id, scope=flow.scope, flow_id=flow.id, scheduled_at=now_ms(),
                             doc=new_doc(flow_spec={}, trigger="onDemand"))
    svc.store.engine.dispose()
    return run_id


def staged_rows(data_dir: Path, run_id: str) -> int:
    """Rows the run has staged so far, read from its ledger row (SQLite) without importing Headwater."""
    with sqlite3.connect(f"file:{data_dir / 'headwater.db'}?mode=ro", uri=True, timeout=5) as db:
        found = db.execute("SELECT doc FROM run_units WHERE run_id = ? AND unit_key <> ''", (run_id,)).fetchall()
    units = [json.loads(doc) for (doc,) in found]
    return sum(int(u["rows_in"]) for u in units if u["done"])


def expire_lease(data_dir: Path, run_id: str) -> None:
    """What a killed worker's lease does after `lease_seconds`, at once: the run can be taken over."""
    with sqlite3.connect(data_dir / "headwater.db", timeout=30) as db:
        db.execute("UPDATE runs SET lease_expires_at = 0 WHERE id = ?", (run_id,))


class ActivitySampler:
    """Samples pg_stat_activity every `interval` s: the oldest open transaction of a read of the bench table."""

    QUERY = """
    SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)), 0), count(*),
           array_agg(pid)
    FROM pg_stat_activity
    WHERE application_name = 'headwater' AND xact_start IS NOT NULL AND query LIKE %s
    """
    TICKS = os.sysconf("SC_CLK_TCK")

    def __init__(self, rows: int, interval: float = 0.2) -> None:
        self.pattern = f"%{table_name(rows)}%"
        self.interval = interval
        self.oldest = 0.0
        self.max_sessions = 0
        self._cpu: dict[int, float] = {}  # CPU seconds of each server backend seen reading the table
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ActivitySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        with psycopg.connect(DSN, autocommit=True) as conn:
            while not self._stop.wait(self.interval):
                age, sessions, pids = conn.execute(self.QUERY, (self.pattern,)).fetchone() or (0, 0, None)
                self.oldest = max(self.oldest, float(age))
                self.max_sessions = max(self.max_sessions, int(sessions))
                for pid in pids or ():
                    self._cpu[pid] = max(self._cpu.get(pid, 0.0), self._backend_cpu(pid))

    @property
    def server_cpu(self) -> float:
        """CPU seconds the server's backends spent, as last sampled (a lower bound: up to `interval` short)."""
        return sum(self._cpu.values())

    def _backend_cpu(self, pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # another machine's server, or the backend has just exited
            return 0.0
        return (int(fields[11]) + int(fields[12])) / self.TICKS  # utime + stime


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


def kill_and_resume(args: argparse.Namespace, me: str) -> tuple[float, float, int]:
    """SIGKILL a chunked run once `kill_at` of its rows are staged; the resumed attempt's time and figures."""
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        run_id = prepare_run(args.rows, data_dir)
        argv = [me, "--child", "flow", "--rows", str(args.rows), "--data-dir", str(data_dir), "--run-id", run_id,
                *(["--chunk-rows", str(args.chunk_rows)] if args.chunk_rows is not None else []),
                *(["--parallelism", str(args.parallelism)] if args.parallelism else [])]
        first = subprocess.Popen([sys.executable, *argv], stdout=subprocess.DEVNULL)
        began = time.perf_counter()
        while (staged := staged_rows(data_dir, run_id)) < args.kill_at * args.rows:
            assert first.poll() is None, "the run ended before it was killed"
            time.sleep(0.05)
        first.kill()
        first.wait()
        killed_after = time.perf_counter() - began
        expire_lease(data_dir, run_id)
        with ActivitySampler(args.rows) as activity:
            resumed = run_child(argv)
        assert resumed.output["rows"] == args.rows, resumed.output
        print(f"killed at {staged / args.rows:.0%} staged ({killed_after:.1f} s); resumed run "
              f"{resumed.output['seconds']:.2f} s, chunking {resumed.output['chunking']}, "
              f"peak RSS {resumed.peak_rss_mib:,.0f} MiB, oldest source transaction {activity.oldest:.1f} s")
        return resumed.output["seconds"], killed_after, staged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--flows", type=int, default=10_000, help="scheduler tick over this many flows (0: skip)")
    parser.add_argument("--repeat", type=int, default=1, help="best of N for each measurement")
    parser.add_argument("--parallelism", type=int, default=None, help="chunks read at once (default: the setting)")
    parser.add_argument("--chunk-rows", type=int, default=None, help="rows per chunk (default: the setting)")
    parser.add_argument("--kill-at", type=float, default=None,
                        help="also SIGKILL a chunked run at this fraction of its rows and time the resumed run")
    parser.add_argument("--child", choices=["flow"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--run-id", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "flow":
        return child_flow_run(args.rows, args.parallelism, args.chunk_rows, args.data_dir, args.run_id)

    ensure_table(args.rows)
    reader = str(ROOT / "bench" / "pg_read.py")
    me = str(Path(__file__).resolve())
    run_child([reader, "--child", "raw", "--rows", str(args.rows)])  # warm the page cache; not counted

    def sampled(argv: list[str]) -> tuple[Any, float]:
        """One measured child, with the oldest source transaction seen while it ran."""
        with ActivitySampler(args.rows) as activity:
            result = run_child(argv)
        if "cpu_seconds" in result.output:
            result.output["server_cpu_seconds"] = activity.server_cpu
        return result, activity.oldest

    def fastest(results: list[tuple[Any, float]]) -> tuple[Any, float]:
        return min(results, key=lambda r: r[0].output["seconds"])

    raw_argv = [reader, "--child", "raw", "--rows", str(args.rows)]
    raw = fastest([sampled(raw_argv) for _ in range(max(1, args.repeat))])[0]
    extra = ["--parallelism", str(args.parallelism)] if args.parallelism else []
    flow_argv = [me, "--child", "flow", "--rows", str(args.rows), *extra]
    chunked_argv = [*flow_argv, *(["--chunk-rows", str(args.chunk_rows)] if args.chunk_rows is not None else [])]
    # The reference is one COPY in one transaction (chunking off) at the same parallelism. The two
    # alternate, and which goes first alternates too (AB, BA, ...), so that a machine that speeds up
    # or slows down over the minutes of a measurement favours neither; best of --repeat each, and the
    # median of the pairs' ratios beside it.
    whole_argv = [*flow_argv, "--chunk-rows", "0"]
    pairs = []
    for i in range(max(1, args.repeat)):
        if i % 2 == 0:
            pairs.append((sampled(whole_argv), sampled(chunked_argv)))
        else:
            chunked_first = sampled(chunked_argv)
            pairs.append((sampled(whole_argv), chunked_first))
    whole, run = fastest([p[0] for p in pairs])[0], fastest([p[1] for p in pairs])[0]
    # The oldest source transaction over every run of each kind, not only the fastest.
    whole_oldest, run_oldest = max(p[0][1] for p in pairs), max(p[1][1] for p in pairs)
    for i, ((w, _), (c, _)) in enumerate(pairs):
        print(f"pair {i + 1}: one transaction {w.output['seconds']:.2f} s, chunked {c.output['seconds']:.2f} s, "
              f"ratio {w.output['seconds'] / c.output['seconds']:.2f}; CPU s worker/server: one transaction "
              f"{w.output['cpu_seconds']:.1f}/{w.output['server_cpu_seconds']:.1f}, "
              f"chunked {c.output['cpu_seconds']:.1f}/{c.output['server_cpu_seconds']:.1f}")
    for result in (whole, run):
        assert result.output["rows"] == args.rows, result.output
    drain_s, size = raw.output["seconds"], raw.output["bytes"]
    print(f"rows: {args.rows:,}   COPY BINARY size: {size / 1e6:,.1f} MB")
    print(f"raw COPY BINARY drain: {drain_s:.2f} s, {args.rows / drain_s:,.0f} rows/s, "
          f"{size / 1e6 / drain_s:,.1f} MB/s, peak RSS {raw.peak_rss_mib:,.0f} MiB")
    for label, result, oldest in (("one transaction (reference)", whole, whole_oldest),
                                  ("chunked", run, run_oldest)):
        seconds = result.output["seconds"]
        print(f"flow run, {label} (p={result.output['parallelism']}, {result.output['chunking']}): "
              f"{seconds:.2f} s, {args.rows / seconds:,.0f} rows/s, "
              f"{result.output['parquet_bytes'] / 2**20:,.0f} MiB Parquet, peak RSS {result.peak_rss_mib:,.0f} MiB, "
              f"oldest source transaction {oldest:.1f} s")
    ratios = sorted(w.output["seconds"] / c.output["seconds"] for (w, _), (c, _) in pairs)
    whole_times = [w.output["seconds"] for (w, _), _ in pairs]
    total = sum(whole_times) / sum(c.output["seconds"] for _, (c, _) in pairs)
    print(f"ratio flow run / raw drain: {run.output['seconds'] / drain_s:.2f}x; "
          f"chunked throughput / one transaction: {whole.output['seconds'] / run.output['seconds']:.2f} "
          "(best of each), "
          f"{statistics.median(ratios):.2f} (median of {len(ratios)} pairs, {ratios[0]:.2f}-{ratios[-1]:.2f}), "
          f"{total:.2f} (all pairs' seconds summed)")
    if len(whole_times) > 1:
        # What noise alone gives a pair: successive one-transaction runs of the same read. A pair's ratio
        # moving by as much says nothing about chunking; the median and the sum over pairs do.
        same = sorted(b / a for a, b in itertools.pairwise(whole_times))
        print(f"noise: consecutive one-transaction runs differ by ratios {same[0]:.2f}-{same[-1]:.2f}")
    if args.kill_at is not None:
        # One kill lands wherever the chunk in flight is, and one resumed run is as noisy as any run:
        # --repeat kills, their median against the median full chunked run (not the fastest).
        resumed = sorted(kill_and_resume(args, me)[0] for _ in range(max(1, args.repeat)))
        full = statistics.median(c.output["seconds"] for _, (c, _) in pairs)
        print(f"resume after SIGKILL at {args.kill_at:.0%}: median {statistics.median(resumed):.2f} s of "
              f"{len(resumed)} ({resumed[0]:.2f}-{resumed[-1]:.2f} s) = "
              f"{statistics.median(resumed) / full:.0%} of the median full chunked run ({full:.2f} s)")
    if args.flows:
        with tempfile.TemporaryDirectory() as tmp:
            busy, idle, created = scheduler_ticks(args.flows, Path(tmp))
        print(f"scheduler with {args.flows:,} flows: tick creating {created:,} runs {busy * 1000:,.0f} ms; "
              f"idle tick {idle * 1000:,.0f} ms")


if __name__ == "__main__":
    main()
