"""Load test of the read endpoints against a real `headwater serve` on loopback.

    python bench/load_read.py [--duration 60] [--connections 50] [--threads 2]
    python bench/load_read.py --scale [--postgres] [--duration 20] [--reuse DIR]

Starts a server in a fresh data directory, creates API credentials and a few connections, then
drives each read endpoint with wrk (`apt-get install -y wrk`) for `--duration` seconds with
`--connections` concurrent keep-alive clients, and prints requests/s, p50/p99 latency and errors
(socket errors and non-2xx answers). The target is p99 < 50 ms for GET /connections/{id}; the
exit status is 1 when it is missed or any request failed.

`--scale` first seeds one sandbox with 10,000 connections, 10,000 flows and 100,000 runs (through
the service and store layers, bench/_scale_seed.py), then measures `GET /connections/{id}`,
`GET /flows?limit=20` and `GET /runs?property=flowId==X` against p99 targets of 50, 100 and 100 ms.
`--postgres` uses a fresh database on the local PostgreSQL (127.0.0.1:5432, trust) as the metadata
database instead of SQLite. The server runs with the tree's default configuration unless
`--web-workers` is given. `--reuse DIR` keeps the seeded data (directory and database) in DIR and
measures it again on the next run with the same DIR, skipping the minute of seeding: two builds are
then compared on the same rows (`--reuse` implies `--scale`; remove DIR, and its database if it is
on PostgreSQL (printed), when done).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from _common import PG_SPEC, start_server  # bench/ is sys.path[0] when a benchmark runs as a script

FLOW = "/data/foundation/flowservice"
ORG = "LOADTEST0000000000000000@AdobeOrg"
TARGET_P99_MS = 50.0
SCALE_TARGETS_MS = {"GET /connections/{id}": 50.0, "GET /flows?limit=20": 100.0, "GET /runs?property=flowId==X": 100.0}
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

LUA = """
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["x-api-key"] = "{client_id}"
wrk.headers["x-gw-ims-org-id"] = "{org}"
wrk.headers["x-sandbox-name"] = "prod"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
    .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def wrk(url: str, script: Path, *, duration: int, connections: int, threads: int, timeout: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            f"{timeout}s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return result


def alone_ms(url: str, headers: dict[str, str]) -> float:
    """The median latency of requests sent one at a time, after a warm-up of the server's processes.

    10 warm-up and 9 timed requests, fewer when they are slow (30 s of warm-up, 60 s of timing, at
    least 3 timed requests): a list that takes a minute is timed, not run 19 times.
    """
    # One keep-alive client: a new httpx client per request would time its TLS context set-up (~25 ms).
    with httpx.Client(headers=headers, timeout=600) as client:
        began = time.perf_counter()
        for _ in range(10):
            assert client.get(url).status_code == 200, url
            if time.perf_counter() - began > 30:
                break
        times: list[float] = []
        while len(times) < 9 and (len(times) < 3 or sum(times) < 60_000):
            start = time.perf_counter()
            assert client.get(url).status_code == 200, url
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU of the server and its web workers (children) so far, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    total = 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def create_pg_database() -> str:
    import psycopg

    name = f"hw_scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed_small(base: str, headers: dict[str, str]) -> dict[str, str]:
    """20 connections through the API; the paths to measure."""
    ids = []
    for i in range(20):
        body = {
            "name": f"pg {i}",
            "auth": {
                "specName": "Basic Authentication",
                "params": {
                    "server": "127.0.0.1",
                    "port": 5432,
                    "database": "postgres",
                    "username": "postgres",
                    "password": f"load-{i}",
                    "sslMode": "Disable",
                },
            },
            "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
        }
        r = httpx.post(base + f"{FLOW}/connections", json=body, headers=headers)
        r.raise_for_status()
        ids.append(r.json()["id"])
    return {
        "GET /connections/{id}": f"{FLOW}/connections/{ids[7]}",
        "GET /connections": f"{FLOW}/connections",
        "GET /connectionSpecs": f"{FLOW}/connectionSpecs",
    }


def seed_scale(env: dict[str, str]) -> dict[str, Any]:
    from _scale_seed import seed

    from headwater.settings import Settings

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return seed(Settings(), ORG, connections=10_000, flows=10_000, runs=100_000)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _reused(directory: Path, *, postgres: bool) -> dict[str, Any] | None:
    """What an earlier `--reuse DIR` run seeded there, or None when DIR holds no seeded data yet."""
    marker = directory / "seeded.json"
    if not marker.exists():
        return None
    seeded: dict[str, Any] = json.loads(marker.read_text())
    if bool(seeded.get("database")) != postgres:
        raise SystemExit(f"{directory} was seeded {'with' if seeded.get('database') else 'without'} --postgres")
    return seeded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--timeout", type=int, default=5, help="wrk's per-request timeout, seconds")
    parser.add_argument(
        "--web-workers", type=int, default=None, help="HEADWATER_WEB_WORKERS (default: the tree's default)"
    )
    parser.add_argument("--scale", action="store_true", help="10,000 connections and flows, 100,000 runs")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL as the metadata database")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (server log)")
    parser.add_argument("--reuse", type=Path, default=None, help="seed into DIR once, measure it again later")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required: apt-get install -y wrk")

    saved = _reused(args.reuse, postgres=args.postgres) if args.reuse else None
    args.scale = args.scale or args.reuse is not None
    if args.reuse:
        args.reuse.mkdir(parents=True, exist_ok=True)
    data = args.reuse or Path(tempfile.mkdtemp(prefix="hw-load-"))
    env = {**os.environ, "HEADWATER_DATA_DIR": str(data)}
    env.pop("HEADWATER_WEB_WORKERS", None)
    if args.web_workers is not None:
        env["HEADWATER_WEB_WORKERS"] = str(args.web_workers)
    pg_db = (saved or {}).get("database") or (create_pg_database() if args.postgres else None)
    if pg_db:
        env["HEADWATER_DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_db}"
    keep = args.keep or args.reuse is not None
    proc = None
    try:
        seeded = saved or (seed_scale(env) if args.scale else None)
        if seeded and not saved:
            print(f"seeded 10,000 connections, 10,000 flows, 100,000 runs in {seeded['seconds']:.0f}s", flush=True)
            if args.reuse:
                (args.reuse / "seeded.json").write_text(json.dumps({**seeded, "database": pg_db}))
        creds = json.loads(
            subprocess.run(
                [sys.executable, "-m", "headwater.cli", "credentials", "create", "--org", ORG, "--json"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        proc, base = start_server(data, env)
        token = httpx.post(
            base + "/ims/token/v3",
            data={"client_id": creds["client_id"], "client_secret": creds["client_secret"]},
        ).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "x-api-key": creds["client_id"],
            "x-gw-ims-org-id": ORG,
            "x-sandbox-name": "prod",
        }
        if seeded:
            paths = {
                "GET /connections/{id}": f"{FLOW}/connections/{seeded['connection']}",
                "GET /flows?limit=20": f"{FLOW}/flows?limit=20",
                "GET /runs?property=flowId==X": f"{FLOW}/runs?property={quote('flowId==' + seeded['flow'])}",
            }
            targets = SCALE_TARGETS_MS
        else:
            paths = seed_small(base, headers)
            targets = {"GET /connections/{id}": TARGET_P99_MS}
        script = data / "headers.lua"
        script.write_text(LUA.format(token=token, client_id=creds["client_id"], org=ORG))
        workers = args.web_workers if args.web_workers is not None else "the default number of"
        print(
            f"load: headwater serve ({'PostgreSQL' if pg_db else 'SQLite'}, {workers} web workers), "
            f"{args.connections} connections, {args.threads} wrk threads, "
            f"{args.duration}s per endpoint, {os.cpu_count()} CPUs; a fresh server per endpoint"
        )
        print(
            f"{'endpoint':<30} {'alone ms':>9} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
            f"{'max ms':>8} {'errors':>7} {'CPU ms/req':>10}"
        )
        results = {}
        for name, path in paths.items():
            # A fresh server each time: requests still queued from a slow endpoint do not weigh on the next.
            stop(proc)
            proc, base = start_server(data, env)
            alone = alone_ms(base + path, headers)
            cpu_before = server_cpu_seconds(proc.pid)
            r = wrk(
                base + path,
                script,
                duration=args.duration,
                connections=args.connections,
                threads=args.threads,
                timeout=args.timeout,
            )
            r["alone_ms"] = alone
            # CPU per request says what the latency figures cost, whatever else the machine was doing.
            r["cpu_ms"] = (server_cpu_seconds(proc.pid) - cpu_before) * 1000 / max(1, r["requests"])
            results[name] = r
            print(
                f"{name:<30} {alone:>9.1f} {r['rps']:>9.0f} {r['p50_us'] / 1000:>8.1f} "
                f"{r['p90_us'] / 1000:>8.1f} {r['p99_us'] / 1000:>8.1f} {r['max_us'] / 1000:>8.1f} {r['errors']:>7} "
                f"{r['cpu_ms']:>10.2f}",
                flush=True,
            )
    finally:
        stop(proc)
        if pg_db and not args.reuse:
            drop_pg_database(pg_db)
        if not keep:
            shutil.rmtree(data, ignore_errors=True)
        else:
            print(f"data and server log kept in {data}" + (f", database {pg_db}" if pg_db else ""))
    met = True
    for name, target in targets.items():
        p99 = results[name]["p99_us"] / 1000
        ok = results[name]["requests"] > 0 and p99 < target and results[name]["errors"] == 0
        met = met and ok
        shown = f"{p99:.1f} ms" if results[name]["requests"] else "no request finished"
        print(f"target {name} p99 < {target:.0f} ms, zero errors: {'met' if ok else 'MISSED'} ({shown})")
    print("RESULT " + json.dumps({k: {m: v for m, v in r.items()} for k, r in results.items()}))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
