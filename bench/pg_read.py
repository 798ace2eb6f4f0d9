"""PostgreSQL read benchmark: raw COPY BINARY drain vs Headwater's connector.read → zstd Parquet.

Builds (once; reused when present) a mixed-type table in the local PostgreSQL — bigint id, int,
numeric(18,4), double, boolean, text, varchar, timestamptz, date, uuid, jsonb, text[], about 5% NULLs
— then measures, each step in its own process so peak RSS is separate:

1. raw: `COPY (SELECT * FROM t) TO STDOUT (FORMAT BINARY)` drained with psycopg, bytes discarded
   (the floor: the server's work plus the wire);
2. headwater: `PostgresConnector.read()` → `pyarrow.parquet.ParquetWriter(compression="zstd")`,
   serial and with key-range partitions in parallel.

    .venv/bin/python bench/pg_read.py [--rows 5000000] [--parallelism 2] [--repeat 1]

Prints seconds, ratio to the raw drain, rows/s, MB/s (COPY BINARY bytes per second) and peak RSS,
and writes bench/out/pg_read.json. Figures measured here are in docs/types.md (PostgreSQL, reads).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from _common import emit, run_child
from psycopg import sql

DSN = os.environ.get("HEADWATER_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
SCHEMA = "hw_bench"
OUT = Path(__file__).resolve().parent / "out" / "pg_read.json"

CREATE = """
CREATE TABLE {t} (
    id bigint PRIMARY KEY, qty int, amount numeric(18,4), score double precision, active boolean,
    note text, code varchar(32), created timestamptz, day date, ref uuid, attrs jsonb, tags text[]
)
"""
# ~5% NULLs in every nullable column; values vary so compression and parsing do real work.
FILL = """
INSERT INTO {t}
SELECT g,
  CASE WHEN random() < 0.05 THEN NULL ELSE (random() * 1e6)::int END,
  CASE WHEN random() < 0.05 THEN NULL ELSE round((random() * 1e9)::numeric, 4) END,
  CASE WHEN random() < 0.05 THEN NULL ELSE random() * 1000 END,
  CASE WHEN random() < 0.05 THEN NULL ELSE random() < 0.5 END,
  CASE WHEN random() < 0.05 THEN NULL ELSE 'note ' || md5(g::text) END,
  CASE WHEN random() < 0.05 THEN NULL ELSE 'C-' || (g %% 10000) END,
  CASE WHEN random() < 0.05 THEN NULL
       ELSE TIMESTAMPTZ '2020-01-01 00:00:00+00' + (random() * 1.5e8) * INTERVAL '1 second' END,
  CASE WHEN random() < 0.05 THEN NULL ELSE DATE '2000-01-01' + (random() * 9000)::int END,
  CASE WHEN random() < 0.05 THEN NULL ELSE gen_random_uuid() END,
  CASE WHEN random() < 0.05 THEN NULL
       ELSE jsonb_build_object('k', g %% 97, 'name', 'item ' || (g %% 1000), 'ok', g %% 2 = 0) END,
  CASE WHEN random() < 0.05 THEN NULL ELSE ARRAY['a' || (g %% 7), 'b' || (g %% 11), NULL] END
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g
"""


def table_name(rows: int) -> str:
    return f"mixed_{rows}"


def ensure_table(rows: int) -> None:
    name = table_name(rows)
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
        ident = sql.Identifier(SCHEMA, name)
        exists = conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{name}",)).fetchone()
        if exists and exists[0] is not None:
            count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ident)).fetchone()
            if count and count[0] == rows:
                print(f"reusing {SCHEMA}.{name} ({rows:,} rows)", file=sys.stderr)
                return
            conn.execute(sql.SQL("DROP TABLE {}").format(ident))
        print(f"building {SCHEMA}.{name} ({rows:,} rows)…", file=sys.stderr)
        start = time.perf_counter()
        conn.execute(sql.SQL(CREATE).format(t=ident))
        step = 1_000_000
        for lo in range(1, rows + 1, step):
            conn.execute(sql.SQL(FILL).format(t=ident), {"lo": lo, "hi": min(lo + step - 1, rows)})
        # Set hint bits and statistics now, so the first timed read does not pay for them.
        conn.execute(sql.SQL("VACUUM (FREEZE, ANALYZE) {}").format(ident))
        print(f"built in {time.perf_counter() - start:.1f} s", file=sys.stderr)


def bench_auth() -> Any:
    """Headwater's basic auth for the benchmark database (DSN)."""
    from pydantic import SecretStr

    from headwater.connectors._pg_auth import PgBasicAuth

    info = psycopg.conninfo.conninfo_to_dict(DSN)
    return PgBasicAuth(
        server=str(info.get("host", "127.0.0.1")),
        port=int(str(info.get("port", 5432))),
        database=str(info.get("dbname", "postgres")),
        username=str(info.get("user", "postgres")),
        password=SecretStr(str(info.get("password") or "unused-with-trust")),  # the local server trusts
        sslMode="disable",
    )


def child_raw(rows: int) -> None:
    query = sql.SQL("COPY (SELECT * FROM {}) TO STDOUT (FORMAT BINARY)").format(
        sql.Identifier(SCHEMA, table_name(rows))
    )
    with psycopg.connect(DSN) as conn, conn.cursor() as cur:
        start = time.perf_counter()
        size = 0
        with cur.copy(query) as copy:
            for chunk in copy:
                size += len(chunk)
        seconds = time.perf_counter() - start
    emit({"seconds": seconds, "bytes": size})


def child_headwater(rows: int, parallelism: int) -> None:
    import pyarrow.parquet as pq

    from headwater.connectors.postgres import PostgresConnector

    auth = bench_auth()
    from headwater.connectors._pg_sql import format_path
    from headwater.domain import ReadRequest

    connector = PostgresConnector()
    request = ReadRequest(table=format_path(SCHEMA, table_name(rows)), parallelism=parallelism)
    schema = connector.describe(auth, request.table).arrow_schema
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.parquet"
        start = time.perf_counter()
        count = 0
        batches = 0
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            for batch in connector.read(auth, request):
                writer.write_batch(batch)
                count += batch.num_rows
                batches += 1
        seconds = time.perf_counter() - start
        size = path.stat().st_size
    emit({"seconds": seconds, "rows": count, "batches": batches, "parquet_bytes": size})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--parallelism", type=int, default=2, help="partitions read in parallel (second run)")
    parser.add_argument("--repeat", type=int, default=1, help="best of N for each measurement")
    parser.add_argument("--child", choices=["raw", "headwater"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "raw":
        return child_raw(args.rows)
    if args.child == "headwater":
        return child_headwater(args.rows, args.parallelism)

    ensure_table(args.rows)
    me = str(Path(__file__).resolve())
    run_child([me, "--child", "raw", "--rows", str(args.rows)])  # warm the page cache; not counted

    def best(argv: list[str]) -> Any:
        runs = [run_child(argv) for _ in range(max(1, args.repeat))]
        return min(runs, key=lambda r: r.output["seconds"])

    raw = best([me, "--child", "raw", "--rows", str(args.rows)])
    copy_bytes = raw.output["bytes"]
    results: dict[str, Any] = {
        "rows": args.rows,
        "copy_binary_bytes": copy_bytes,
        "raw": {"seconds": raw.output["seconds"], "peak_rss_mib": raw.peak_rss_mib},
    }
    print(f"rows: {args.rows:,}   COPY BINARY size: {copy_bytes / 1e6:,.1f} MB")
    print(f"{'step':<26}{'seconds':>9}{'ratio':>8}{'rows/s':>13}{'MB/s':>9}{'peak RSS MiB':>14}")

    def line(label: str, seconds: float, rss: float) -> None:
        ratio = seconds / raw.output["seconds"]
        print(
            f"{label:<26}{seconds:>9.2f}{ratio:>7.2f}x{args.rows / seconds:>13,.0f}"
            f"{copy_bytes / 1e6 / seconds:>9.1f}{rss:>14.0f}"
        )

    line("raw COPY BINARY drain", raw.output["seconds"], raw.peak_rss_mib)
    for parallelism in sorted({1, args.parallelism, 4}):
        hw = best([me, "--child", "headwater", "--rows", str(args.rows), "--parallelism", str(parallelism)])
        assert hw.output["rows"] == args.rows, hw.output
        label = f"headwater → parquet p={parallelism}"
        line(label, hw.output["seconds"], hw.peak_rss_mib)
        results[f"headwater_p{parallelism}"] = {
            "seconds": hw.output["seconds"],
            "ratio": hw.output["seconds"] / raw.output["seconds"],
            "rows_per_second": args.rows / hw.output["seconds"],
            "copy_mb_per_second": copy_bytes / 1e6 / hw.output["seconds"],
            "peak_rss_mib": hw.peak_rss_mib,
            "batches": hw.output["batches"],
            "parquet_bytes": hw.output["parquet_bytes"],
        }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
