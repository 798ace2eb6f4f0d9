"""Load test of the read endpoints against a real `headwater serve` on loopback (SQLite metadata).

    python bench/load_read.py [--duration 60] [--connections 50] [--threads 2]

Starts a server in a fresh data directory, creates API credentials and a few connections, then
drives each read endpoint with wrk (`apt-get install -y wrk`) for `--duration` seconds with
`--connections` concurrent keep-alive clients, and prints requests/s, p50/p99 latency and errors
(socket errors and non-2xx answers). The target is p99 < 50 ms for GET /connections/{id}; the
exit status is 1 when it is missed or any request failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from _common import PG_SPEC, start_server  # bench/ is sys.path[0] when a benchmark runs as a script

FLOW = "/data/foundation/flowservice"
ORG = "LOADTEST0000000000000000@AdobeOrg"
TARGET_P99_MS = 50.0

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


def wrk(url: str, script: Path, *, duration: int, connections: int, threads: int) -> dict[str, Any]:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--web-workers", type=int, default=os.cpu_count() or 1, help="HEADWATER_WEB_WORKERS (default: one per CPU)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data directory (server log)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required: apt-get install -y wrk")

    data = Path(tempfile.mkdtemp(prefix="hw-load-"))
    env = {**os.environ, "HEADWATER_DATA_DIR": str(data), "HEADWATER_WEB_WORKERS": str(args.web_workers)}
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
    try:
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
        script = data / "headers.lua"
        script.write_text(LUA.format(token=token, client_id=creds["client_id"], org=ORG))
        endpoints = {
            "GET /connections/{id}": f"{base}{FLOW}/connections/{ids[7]}",
            "GET /connections": f"{base}{FLOW}/connections",
            "GET /connectionSpecs": f"{base}{FLOW}/connectionSpecs",
        }
        for url in endpoints.values():
            assert httpx.get(url, headers=headers).status_code == 200, url
        print(
            f"load: headwater serve (SQLite, {args.web_workers} web workers), {args.connections} connections, "
            f"{args.threads} wrk threads, "
            f"{args.duration}s per endpoint, {os.cpu_count()} CPUs"
        )
        print(f"{'endpoint':<24} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7}")
        results = {}
        for name, url in endpoints.items():
            r = wrk(url, script, duration=args.duration, connections=args.connections, threads=args.threads)
            results[name] = r
            print(
                f"{name:<24} {r['rps']:>9.0f} {r['p50_us'] / 1000:>8.1f} {r['p90_us'] / 1000:>8.1f} "
                f"{r['p99_us'] / 1000:>8.1f} {r['max_us'] / 1000:>8.1f} {r['errors']:>7}",
                flush=True,
            )
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)
        else:
            print(f"data and server log kept in {data}")
    p99 = results["GET /connections/{id}"]["p99_us"] / 1000
    errors = sum(r["errors"] for r in results.values())
    met = p99 < TARGET_P99_MS and errors == 0
    print(f"target GET /connections/{{id}} p99 < {TARGET_P99_MS:.0f} ms, zero errors: {'met' if met else 'MISSED'}")
    print("RESULT " + json.dumps({k: {m: v for m, v in r.items()} for k, r in results.items()}))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
