"""The cost of fencing an incremental read by transaction ids, against a plain windowed read.

    .venv/bin/python bench/fence_cost.py                      # 5,000,000 rows, best of 3
    .venv/bin/python bench/fence_cost.py --rows 500000 --repeat 1 --parallelism 2

Each step drains `PostgresConnector.read` (Arrow batches, no Parquet) in its own process, over
bench/pg_read.py's mixed-type table, with the delta column `id` (the primary key):
- plain full: `1 <= id < rows+1`, the shape of a value window covering the whole table;
- fenced full: a backfill run's fenced read (`age(xmin)` tested on every row, the read in one
  REPEATABLE READ snapshot exported to its partitions, the snapshot facts and max(id) captured);
- plain tail / fenced tail: the same for the newest 1% of ids (an index range scan), the shape of
  a steady-state incremental run;
- sessions: the pg_stat_activity probe a fenced run makes before it reads.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _common import emit, run_child  # noqa: E402
from pg_read import SCHEMA, bench_auth, ensure_table, table_name  # noqa: E402

STEPS = ("plain-full", "fenced-full", "plain-tail", "fenced-tail", "sessions")


def child(step: str, rows: int, parallelism: int) -> None:
    from headwater.connectors._pg_sql import format_path
    from headwater.connectors.postgres import PostgresConnector
    from headwater.domain import DeltaWindow, ReadRequest
    from headwater.domain.fence import XidFence

    connector, auth = PostgresConnector(), bench_auth()
    table = format_path(SCHEMA, table_name(rows))
    if step == "sessions":
        start = time.perf_counter()
        facts = connector.fence_sessions(auth, table)
        emit({"seconds": time.perf_counter() - start, "rows": 0, "fenced": facts is not None})
        return
    tail = max(1, rows - rows // 100 + 1)
    low = 1 if step.endswith("full") else tail
    if step.startswith("plain"):
        window = DeltaWindow("id", low, rows + 1)
    else:
        window = DeltaWindow("id", None if low == 1 else low, None, nulls=True, fence=XidFence())
    request = ReadRequest(table=table, window=window, parallelism=parallelism)
    start = time.perf_counter()
    count = 0
    for batch in connector.read(auth, request):
        count += batch.num_rows
    emit({"seconds": time.perf_counter() - start, "rows": count})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for each step")
    parser.add_argument("--parallelism", type=int, default=1, help="key-range partitions read at once")
    parser.add_argument("--child", choices=STEPS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.rows, args.parallelism)
    ensure_table(args.rows)
    me = str(Path(__file__).resolve())

    def best(step: str) -> dict[str, Any]:
        argv = [me, "--child", step, "--rows", str(args.rows), "--parallelism", str(args.parallelism)]
        runs = [run_child(argv).output for _ in range(max(1, args.repeat))]
        return min(runs, key=lambda r: r["seconds"])

    best("plain-full")  # warm the page cache; not counted
    got = {step: best(step) for step in STEPS}
    for kind in ("full", "tail"):
        plain, fenced = got[f"plain-{kind}"], got[f"fenced-{kind}"]
        assert plain["rows"] == fenced["rows"], (plain, fenced)
        print(
            f"{kind:<5} {plain['rows']:>10,} rows   plain {plain['seconds']:8.3f} s   fenced "
            f"{fenced['seconds']:8.3f} s   ratio {fenced['seconds'] / plain['seconds']:.3f}"
        )
    print(f"sessions probe {got['sessions']['seconds'] * 1000:.1f} ms (fenced: {got['sessions']['fenced']})")


if __name__ == "__main__":
    main()
