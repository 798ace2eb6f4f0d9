"""Throughput of one Lake.write_run against a plain pyarrow zstd ParquetWriter on the same batches.

    .venv/bin/python bench/lake_write.py [--rows 5000000] [--batch 65536] [--dir /tmp/x]

Batches are built from a small pool of pre-generated columns (only the id is recomputed) so the
figures measure writing, not data generation. Peak RSS is Linux's VmHWM, reset between phases.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from headwater.lake import DatasetIdent, Lake

SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("customer", pa.string()),
        pa.field("amount", pa.decimal128(18, 2)),
        pa.field("score", pa.float64()),
        pa.field("active", pa.bool_()),
        pa.field("created_at", pa.timestamp("us", tz="UTC")),
        pa.field("day", pa.date32()),
        pa.field("note", pa.string()),
    ]
)
POOL = 8


def make_pool(batch: int) -> list[pa.RecordBatch]:
    pool = []
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for p in range(POOL):
        n = pa.array(range(p * batch, (p + 1) * batch), pa.int64())
        pool.append(
            pa.RecordBatch.from_arrays(
                [
                    n,
                    pc.binary_join_element_wise("customer-", pc.cast(pc.divide(n, 7), pa.string()), ""),
                    pc.cast(pc.divide(pc.cast(n, pa.float64()), 100.0), pa.decimal128(18, 2)),
                    pc.divide(pc.cast(n, pa.float64()), 3.0),
                    pc.equal(pc.bit_wise_and(n, 1), 0),
                    pc.add(pa.scalar(base), pc.cast(pc.multiply(n, 1_000_003), pa.duration("us"))),
                    pc.cast(pc.cast(pc.add(pc.divide(n, 10_000), 19_000), pa.int32()), pa.date32()),
                    pc.if_else(
                        pc.equal(pc.bit_wise_and(n, 3), 0),
                        None,
                        pc.binary_join_element_wise("free text about order ", pc.cast(n, pa.string()), ""),
                    ),
                ],
                schema=SCHEMA,
            )
        )
    return pool


def batches(total: int, pool: list[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    size = pool[0].num_rows
    for i, lo in enumerate(range(0, total, size)):
        b = pool[i % POOL]
        n = min(size, total - lo)
        ids = pa.array(range(lo, lo + n), pa.int64())
        yield pa.RecordBatch.from_arrays([ids, *b.slice(0, n).columns[1:]], schema=SCHEMA)


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> int:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status("VmRSS:")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--batch", type=int, default=65_536)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="hw-lake-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    pool = make_pool(args.batch)
    input_bytes = sum(b.nbytes for b in batches(args.rows, pool))

    lake = Lake(catalog_url=f"sqlite:///{root / 'catalog.db'}", warehouse=str(root / "warehouse"))
    ident = DatasetIdent("bench", f"ds_{int(time.time())}")
    lake.create_dataset(ident, SCHEMA)
    base = _reset_peak()
    start = time.perf_counter()
    result = lake.write_run(ident, run_id="bench", flow_id="bench", batches=batches(args.rows, pool), cursor=None)
    seconds = time.perf_counter() - start
    peak = _status("VmHWM:") - base
    assert result.rows == args.rows == lake.row_count(ident)

    # Reference: the same batches, one zstd Parquet file, no Iceberg. It runs second so the lake's
    # peak is measured from a clean baseline.
    base = _reset_peak()
    start = time.perf_counter()
    ref_path = root / "reference.parquet"
    with pq.ParquetWriter(ref_path, SCHEMA, compression="zstd") as writer:
        for b in batches(args.rows, pool):
            writer.write_batch(b)
    ref_seconds = time.perf_counter() - start
    ref_peak = _status("VmHWM:") - base
    ref_bytes = ref_path.stat().st_size

    mib = 2**20
    report = {
        "rows": args.rows,
        "input_arrow_mib": round(input_bytes / mib, 1),
        "lake": {
            "seconds": round(seconds, 2),
            "rows_per_s": round(args.rows / seconds),
            "input_mib_per_s": round(input_bytes / mib / seconds, 1),
            "parquet_mib": round(result.bytes / mib, 1),
            "files": result.files,
            "peak_rss_over_baseline_mib": round(peak / mib),
        },
        "reference_parquetwriter": {
            "seconds": round(ref_seconds, 2),
            "rows_per_s": round(args.rows / ref_seconds),
            "parquet_mib": round(ref_bytes / mib, 1),
            "peak_rss_over_baseline_mib": round(ref_peak / mib),
        },
        "lake_throughput_vs_reference": round(ref_seconds / seconds, 3),
        "process_peak_rss_mib": round(_status("VmHWM:") / mib),
    }
    print(json.dumps(report, indent=2))
    lake.close()


if __name__ == "__main__":
    main()
