"""Where a chunked PostgreSQL read loses time against one COPY: per-chunk setup and the consumer's idle gaps.

Reads the read benchmark's mixed table (bench/pg_read.py builds it) through `PostgresConnector`,
alternating one transaction (`read`) with chunks (`plan_chunks` + `read_chunks`), each pass in its
own process, and writes every batch to zstd Parquet in a temporary directory (a chunk to its own
writer, as a run stages it), so the reader and the writer compete for the CPU as in a flow run.

    .venv/bin/python bench/chunk_gap.py --rows 5000000 --chunk-rows 250000 --repeat 3

Per pass: wall and CPU seconds (this process; the server's backend is not counted), the consumer's
time blocked waiting for a batch, and for chunked passes each chunk's setup in its reader thread
(job start to first batch) and the consumer's gap from one chunk's last batch to the next's first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, run_child
from pg_read import SCHEMA, bench_auth, ensure_table, table_name


def child(rows: int, chunk_rows: int, write: bool) -> None:
    import pyarrow.parquet as pq

    from headwater.connectors._pg_sql import format_path
    from headwater.connectors.postgres import PostgresConnector
    from headwater.domain import ReadRequest

    auth = bench_auth()
    connector = PostgresConnector()
    request = ReadRequest(format_path(SCHEMA, table_name(rows)), parallelism=1)
    # Connections opened for COPY reads, and the time spent opening them (in reader threads).
    import headwater.connectors._pg_stream as pg_stream

    opened: list[float] = []
    open_connection = pg_stream.adbc_connection

    @contextlib.contextmanager
    def timed_connection(target: Any) -> Iterator[Any]:
        began = time.perf_counter()
        with open_connection(target) as conn:
            opened.append(time.perf_counter() - began)
            yield conn

    pg_stream.adbc_connection = timed_connection  # type: ignore[assignment]

    # Time each query's reader spends producing a batch (not counting its waits for the consumer):
    # the first batch of a query pays its start, the others only their decoding.
    first_batch: list[float] = []
    next_batch: list[float] = []
    batches_of = pg_stream._batches

    def timed_batches(*args: Any) -> Iterator[Any]:
        inner = batches_of(*args)
        produced = first_batch
        while True:
            began = time.perf_counter()
            batch = next(inner, None)
            produced.append(time.perf_counter() - began)
            if batch is None:
                return
            produced = next_batch
            yield batch

    pg_stream._batches = timed_batches  # type: ignore[assignment]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    plan_s = 0.0
    if chunk_rows > 0:
        plan = connector.plan_chunks(auth, request, chunk_rows=chunk_rows)
        assert plan is not None
        plan_s = time.perf_counter() - wall0
        items: Iterator[Any] = connector.read_chunks(auth, request, plan.chunks)
    else:
        items = (("whole", b) for b in connector.read(auth, request))
    waited, gaps, count, batches = 0.0, [], 0, 0
    chunk_ended: float | None = None
    writer = None
    with tempfile.TemporaryDirectory() as tmp:
        while True:
            t = time.perf_counter()
            item = next(items, None)
            now = time.perf_counter()
            waited += now - t
            if item is None:
                break
            key, batch = item
            if batch is None:
                if writer is not None:
                    writer.close()
                    writer = None
                chunk_ended = time.perf_counter()
                continue
            if chunk_ended is not None:
                gaps.append(now - chunk_ended)
                chunk_ended = None
            count += batch.num_rows
            batches += 1
            if write:
                if writer is None:
                    writer = pq.ParquetWriter(
                        os.path.join(tmp, f"{key}-{batches}.parquet"), batch.schema, compression="zstd"
                    )
                writer.write_batch(batch)
        if writer is not None:
            writer.close()
    emit(
        {
            "rows": count,
            "batches": batches,
            "wall": time.perf_counter() - wall0,
            "cpu": time.process_time() - cpu0,
            "waited": waited,
            "plan": plan_s,
            "opened": opened,
            "first_batch": first_batch,
            "next_batch": next_batch,
            "gaps": gaps,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="drain only, no Parquet")
    parser.add_argument("--flow", action="store_true", help="whole flow runs (bench/flow_run.py children) instead")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child and args.flow:
        return flow_child(args.rows, args.chunk_rows)
    if args.child:
        return child(args.rows, args.chunk_rows, not args.no_write)
    ensure_table(args.rows)
    if args.flow:
        return flow_runs(args)
    me = str(Path(__file__).resolve())
    base = [me, "--child", "--rows", str(args.rows), *(["--no-write"] if args.no_write else [])]
    for i in range(args.repeat):
        whole = run_child([*base, "--chunk-rows", "0"]).output
        chunked = run_child([*base, "--chunk-rows", str(args.chunk_rows)]).output
        assert whole["rows"] == chunked["rows"] == args.rows, (whole["rows"], chunked["rows"])
        opened, gaps = chunked["opened"], chunked["gaps"]
        print(
            f"pass {i + 1}: one transaction {whole['wall']:.2f} s wall / {whole['cpu']:.2f} s CPU "
            f"(waited {whole['waited']:.2f} s, {whole['batches']} batches); chunked {chunked['wall']:.2f} s / "
            f"{chunked['cpu']:.2f} s CPU (waited {chunked['waited']:.2f} s, {chunked['batches']} batches, "
            f"plan {chunked['plan'] * 1000:.0f} ms); wall ratio {whole['wall'] / chunked['wall']:.3f}, "
            f"CPU ratio {whole['cpu'] / chunked['cpu']:.3f}"
        )
        print(
            f"  {len(gaps) + 1} chunks, {len(opened)} COPY connections opened ({sum(opened) * 1000:.0f} ms); "
            f"consumer gap between chunks median {statistics.median(gaps) * 1000 if gaps else 0:.0f} ms, "
            f"total {sum(gaps) * 1000:.0f} ms"
        )
        for label, out in (("one transaction", whole), ("chunked", chunked)):
            print(
                f"  {label}: reader per batch: first of a query median "
                f"{statistics.median(out['first_batch']) * 1000:.0f} ms (x{len(out['first_batch'])}), "
                f"others median {statistics.median(out['next_batch']) * 1000:.0f} ms, "
                f"reader busy {(sum(out['first_batch']) + sum(out['next_batch'])):.2f} s"
            )


def flow_runs(args: argparse.Namespace) -> None:
    """Flow runs in one transaction and in chunks, alternating: wall and CPU seconds (user + system) of
    each run's process, and its peak RSS. The server's backends are not counted."""
    base = [str(Path(__file__).resolve()), "--child", "--flow", "--rows", str(args.rows)]
    ratios: list[tuple[float, float]] = []
    for i in range(args.repeat):
        whole = cpu_child([*base, "--chunk-rows", "0"])
        chunked = cpu_child([*base, "--chunk-rows", str(args.chunk_rows)])
        ratios.append((whole[0] / chunked[0], whole[1] / chunked[1]))
        print(
            f"pair {i + 1}: one transaction {whole[0]:.2f} s wall / {whole[1]:.2f} s CPU / {whole[2]:.0f} MiB; "
            f"chunked {chunked[0]:.2f} s / {chunked[1]:.2f} s CPU / {chunked[2]:.0f} MiB; "
            f"ratio wall {ratios[-1][0]:.3f}, CPU {ratios[-1][1]:.3f}"
        )
    print(
        f"median ratio (one transaction / chunked): wall {statistics.median(r[0] for r in ratios):.3f}, "
        f"CPU {statistics.median(r[1] for r in ratios):.3f}"
    )


def flow_child(rows: int, chunk_rows: int) -> None:
    """One flow run (bench/flow_run.py's child), noting for each chunk after the first how long its
    reader took from producing the previous chunk's last batch to starting this chunk's query: the
    server has nothing to do meanwhile (printed to stderr)."""
    import flow_run

    import headwater.connectors._pg_stream as pg_stream

    marks: list[tuple[str, float]] = []
    batches_of = pg_stream._batches

    def marked_batches(*args: Any) -> Iterator[Any]:
        marks.append(("start", time.perf_counter()))
        for batch in batches_of(*args):
            marks.append(("batch", time.perf_counter()))
            yield batch

    pg_stream._batches = marked_batches  # type: ignore[assignment]
    try:
        flow_run.child_flow_run(rows, None, chunk_rows, None, None)
    finally:
        idle = [t - marks[i - 1][1] for i, (kind, t) in enumerate(marks) if kind == "start" and i > 0]
        if idle:
            print(
                f"server idle between chunks: median {statistics.median(idle) * 1000:.0f} ms, "
                f"max {max(idle) * 1000:.0f} ms, total {sum(idle):.2f} s over {len(idle)}",
                file=sys.stderr,
            )


def cpu_child(argv: list[str]) -> tuple[float, float, float]:
    """Run seconds (as the run reports them), CPU seconds and peak RSS (MiB) of one child process."""
    proc = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE)
    out = proc.stdout.read() if proc.stdout is not None else b""
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv!r} failed")
    seconds = json.loads(out.decode().strip().splitlines()[-1])["seconds"]
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


if __name__ == "__main__":
    main()
