"""BigQuery read benchmark: Storage Read API (Arrow, parallel streams) vs the REST tabledata.list path.

Starts bqemulator from its own venv (scripts/install-bqemulator.sh), fills one table with
CREATE TABLE AS SELECT, and reads it both ways through the connector's code. Prints rows/s and the
ratio, and writes bench/out/bq_read.json.

    .venv/bin/python bench/bq_read.py [--rows 1000000] [--streams 4]

Measured here (1,000,000 rows: INT64, STRING, NUMERIC, TIMESTAMP, BOOL; 4 streams; bqemulator 1.4.0):
Storage Read 1.63 M rows/s, REST tabledata.list 23.5 k rows/s, ratio 69x; client peak RSS 392 MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _common import free_port  # bench/ is sys.path[0] when a benchmark runs as a script
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from headwater.connectors._bq_auth import BqOAuth
from headwater.connectors._bq_clients import BqTimeouts
from headwater.connectors._bq_read import rest_read
from headwater.connectors._bq_types import conform
from headwater.connectors.bigquery import BigQueryConnector
from headwater.domain import ReadRequest
from headwater.settings import Settings

REPO = Path(__file__).resolve().parents[1]
EMULATOR_VENV = Path(os.environ.get("HEADWATER_BQEMULATOR_VENV", REPO / ".venv-bqemulator"))
PROJECT = "headwater-bench"



def start_emulator(log: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    python = EMULATOR_VENV / "bin" / "python"
    if not python.exists():
        sys.exit(f"bqemulator venv missing at {EMULATOR_VENV}: run scripts/install-bqemulator.sh")
    rest, grpc_port = free_port(), free_port()
    launcher = REPO / "tests" / "connectors" / "bigquery" / "emulator_main.py"
    env = {**os.environ, "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(python), str(launcher), "start", "--rest-port", str(rest), "--grpc-port", str(grpc_port),
             "--project", PROJECT, "--log-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"bqemulator exited at start-up, see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{rest}/bigquery/v2/projects/{PROJECT}/datasets", timeout=2).is_success:
                return proc, rest, grpc_port
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    sys.exit("bqemulator did not start within 60 s")


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--batch-rows", type=int, default=65_536)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="hw-bq-bench-"))
    proc, rest_port, grpc_port = start_emulator(workdir / "emulator.log")
    try:
        settings = Settings(
            data_dir=workdir,
            bigquery_api_endpoint=f"http://127.0.0.1:{rest_port}",
            bigquery_read_endpoint=f"http://127.0.0.1:{grpc_port}",
        )
        timeouts = BqTimeouts(request=300.0, deadline=600.0)
        connector = BigQueryConnector(settings, timeouts=timeouts)
        # The emulator does not check tokens: skip the OAuth exchange, keep every other step.
        connector._credentials = lambda auth: AnonymousCredentials()  # type: ignore[method-assign]
        auth = BqOAuth.model_validate({"project": PROJECT, "clientId": "x", "clientSecret": "x", "refreshToken": "x"})
        admin = bigquery.Client(
            project=PROJECT,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": settings.bigquery_api_endpoint},
        )
        admin.create_dataset(f"{PROJECT}.bench", timeout=30)
        started = time.perf_counter()
        admin.query(
            f"CREATE TABLE `{PROJECT}.bench.events` AS SELECT x AS id, CONCAT('event-', CAST(x AS STRING)) AS label, "
            "CAST(x AS NUMERIC) / 100 AS amount, TIMESTAMP_ADD(TIMESTAMP '2024-01-01', INTERVAL x SECOND) AS at, "
            f"MOD(x, 2) = 0 AS even FROM UNNEST(GENERATE_ARRAY(1, {args.rows})) AS x",
            timeout=600,
        ).result(timeout=600)
        load_s = time.perf_counter() - started
        table = "bench.events"
        schema = connector.describe(auth, table).arrow_schema

        def timed(label: str, batches: Any) -> dict[str, Any]:
            t0 = time.perf_counter()
            rows = 0
            for batch in batches:
                assert batch.schema == schema, batch.schema
                rows += batch.num_rows
            seconds = time.perf_counter() - t0
            assert rows == args.rows, (label, rows)
            result = {"path": label, "rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds)}
            print(json.dumps(result), flush=True)
            return result

        storage = timed(
            "storage_read",
            connector.read(auth, ReadRequest(table=table, parallelism=args.streams, batch_rows=args.batch_rows)),
        )
        client = bigquery.Client(
            project=PROJECT,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": settings.bigquery_api_endpoint},
        )
        bq_table = client.get_table(f"{PROJECT}.{table}", timeout=30)
        rest = timed(
            "rest_list",
            rest_read(
                client,
                table=f"{PROJECT}.{table}",
                fields=list(bq_table.schema),
                bounds=[],
                conform=lambda b: conform(b, schema),
                batch_rows=args.batch_rows,
                timeouts=timeouts,
            ),
        )
        summary = {
            "rows": args.rows,
            "streams": args.streams,
            "table_build_s": round(load_s, 2),
            "storage_read_rows_per_s": storage["rows_per_s"],
            "rest_list_rows_per_s": rest["rows_per_s"],
            "ratio_storage_over_rest": round(storage["rows_per_s"] / rest["rows_per_s"], 1),
            "client_peak_rss_mib": round(rss_mib()),
        }
        print(json.dumps(summary, indent=2))
        out = REPO / "bench" / "out"
        out.mkdir(parents=True, exist_ok=True)
        (out / "bq_read.json").write_text(json.dumps(summary, indent=2) + "\n")
    finally:
        # Ephemeral emulator: nothing to flush, and its graceful shutdown takes seconds.
        proc.kill()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
