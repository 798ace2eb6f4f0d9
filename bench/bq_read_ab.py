"""BigQuery Storage Read throughput of two source trees, side by side against one emulator.

For a change to the read path: `--before` is a checkout of the reference commit (a git worktree),
`--after` this tree. One bqemulator (from its own venv, scripts/install-bqemulator.sh) serves one
table built with CREATE TABLE AS SELECT; each round reads it once with each tree, alternating, each
read in its own child process whose `headwater` is imported from that tree's `src`. Prints each
tree's median and best rows/s and its median rows per CPU second of the reader process (less
disturbed by other load on a shared machine), their ratios, and writes bench/out/bq_read_ab.json.

    git worktree add /tmp/hw-before <commit>
    .venv/bin/python bench/bq_read_ab.py --before /tmp/hw-before --after . [--rows 2000000] [--rounds 5]

`--env NAME=VALUE` (repeatable) sets a HEADWATER_* variable in the after-tree's readers only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import run_child  # bench/ is sys.path[0] when a benchmark runs as a script

PROJECT = "headwater-bench"
REPO = Path(__file__).resolve().parents[1]


def reader(src: str, rest: int, grpc_port: int, rows: int, parallelism: int) -> None:
    """Child: read the table once with the `headwater` of `src`; print rows/s as JSON."""
    sys.path.insert(0, src)
    from google.auth.credentials import AnonymousCredentials

    import headwater
    from headwater.connectors._bq_auth import BqOAuth
    from headwater.connectors._bq_clients import BqTimeouts
    from headwater.connectors.bigquery import BigQueryConnector
    from headwater.domain import ReadRequest
    from headwater.settings import Settings

    assert headwater.__file__ is not None and headwater.__file__.startswith(src), headwater.__file__
    settings = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="hw-bq-ab-")),
        bigquery_api_endpoint=f"http://127.0.0.1:{rest}",
        bigquery_read_endpoint=f"http://127.0.0.1:{grpc_port}",
    )
    connector = BigQueryConnector(settings, timeouts=BqTimeouts(request=300.0, deadline=600.0))
    # The emulator does not check tokens: skip the OAuth exchange, keep every other step.
    connector._credentials = lambda auth: AnonymousCredentials()  # type: ignore[method-assign]
    auth = BqOAuth.model_validate({"project": PROJECT, "clientId": "x", "clientSecret": "x", "refreshToken": "x"})
    started, cpu_started = time.perf_counter(), time.process_time()
    count = sum(b.num_rows for b in connector.read(auth, ReadRequest("bench.events", parallelism=parallelism)))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    assert count == rows, (count, rows)
    # CPU time of the reader (all its threads): what the read path costs, less disturbed by other load.
    print(json.dumps({"rows": count, "seconds": round(seconds, 3), "rows_per_s": round(count / seconds),
                      "cpu_seconds": round(cpu, 3), "rows_per_cpu_s": round(count / cpu)}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, type=Path, help="reference source tree (a git worktree)")
    parser.add_argument("--after", required=True, type=Path, help="source tree under test")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the after-tree's readers")
    parser.add_argument("--reader", nargs=5, help=argparse.SUPPRESS)  # src rest grpc rows parallelism
    args = parser.parse_args()
    if args.reader:
        src, rest, grpc_port, rows, parallelism = args.reader
        reader(src, int(rest), int(grpc_port), int(rows), int(parallelism))
        return

    from bq_read import start_emulator
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    workdir = Path(tempfile.mkdtemp(prefix="hw-bq-ab-"))
    proc, rest, grpc_port = start_emulator(workdir / "emulator.log")
    try:
        admin = bigquery.Client(
            project=PROJECT,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": f"http://127.0.0.1:{rest}"},
        )
        admin.create_dataset(f"{PROJECT}.bench", timeout=30)
        admin.query(
            f"CREATE TABLE `{PROJECT}.bench.events` AS SELECT x AS id, CONCAT('event-', CAST(x AS STRING)) AS label, "
            "CAST(x AS NUMERIC) / 100 AS amount, TIMESTAMP_ADD(TIMESTAMP '2024-01-01', INTERVAL x SECOND) AS at, "
            f"MOD(x, 2) = 0 AS even FROM UNNEST(GENERATE_ARRAY(1, {args.rows})) AS x",
            timeout=600,
        ).result(timeout=600)
        after_env = dict(item.split("=", 1) for item in args.env)
        trees = {"before": (args.before, {}), "after": (args.after, after_env)}
        rates: dict[str, list[int]] = {name: [] for name in trees}
        per_cpu: dict[str, list[int]] = {name: [] for name in trees}
        peaks: dict[str, list[float]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name, (tree, env) in trees.items():
                argv = [__file__, "--before", ".", "--after", ".", "--reader", str((tree / "src").resolve()),
                        str(rest), str(grpc_port), str(args.rows), str(args.parallelism)]  # fmt: skip
                result = run_child(argv, env=env)
                rates[name].append(int(result.output["rows_per_s"]))
                per_cpu[name].append(int(result.output["rows_per_cpu_s"]))
                peaks[name].append(result.peak_rss_mib)
                print(json.dumps({"tree": name, **result.output, "peak_rss_mib": round(result.peak_rss_mib)}))
        median = {name: statistics.median(values) for name, values in rates.items()}
        summary: dict[str, Any] = {
            "rows": args.rows,
            "rounds": args.rounds,
            "parallelism": args.parallelism,
            "after_env": after_env,
            "before_rows_per_s": rates["before"],
            "after_rows_per_s": rates["after"],
            "median_before": round(median["before"]),
            "median_after": round(median["after"]),
            "ratio_after_over_before": round(median["after"] / median["before"], 3),
            # On a shared machine the least disturbed read of each tree is the fairer comparison.
            "best_before": max(rates["before"]),
            "best_after": max(rates["after"]),
            "ratio_of_best": round(max(rates["after"]) / max(rates["before"]), 3),
            "median_rows_per_cpu_s_before": round(statistics.median(per_cpu["before"])),
            "median_rows_per_cpu_s_after": round(statistics.median(per_cpu["after"])),
            "cpu_ratio_after_over_before": round(
                statistics.median(per_cpu["after"]) / statistics.median(per_cpu["before"]), 3
            ),
            "peak_rss_mib_before": round(max(peaks["before"])),
            "peak_rss_mib_after": round(max(peaks["after"])),
        }
        print(json.dumps(summary, indent=2))
        out = REPO / "bench" / "out"
        out.mkdir(parents=True, exist_ok=True)
        (out / "bq_read_ab.json").write_text(json.dumps(summary, indent=2) + "\n")
    finally:
        proc.kill()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
