"""Does guessing at the token endpoint slow the rest of the API? (a real `headwater serve`, SQLite)

    python bench/token_guess.py [--requests 50] [--guessers 16] [--max-failures N] [--rounds 1]

Starts a server in a fresh data directory, creates API credentials and a connection, then measures
GET /connections/{id} latency from one client making `--requests` sequential requests (20 ms
apart): first alone, then while `--guessers` concurrent clients (in another process, from the same
address) post wrong secrets to /ims/token/v3 as fast as the server answers, half for the known
client id and half for random ones. Prints both p99s and their ratio; the target is a ratio <= 2
and the exit status is 1 when it is missed. `--max-failures` sets HEADWATER_AUTH_MAX_FAILURES
(default: the server's own default) — a large value shows the cost of guesses that are all hashed.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from _common import PG_SPEC, start_server  # bench/ is sys.path[0] when a benchmark runs as a script

FLOW = "/data/foundation/flowservice"
ORG = "GUESSBENCH00000000000000@AdobeOrg"
TARGET_RATIO = 2.0
PAUSE_SECONDS = 0.02
SETTLE_SECONDS = 1.0


def p99(samples: list[float]) -> float:
    """Nearest-rank 99th percentile (of 50 samples: the largest)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def measure(base: str, url: str, headers: dict[str, str], requests: int) -> list[float]:
    latencies = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        http.get(url).raise_for_status()  # connect outside the measurement
        for _ in range(requests):
            start = time.perf_counter()
            http.get(url).raise_for_status()
            latencies.append(time.perf_counter() - start)
            time.sleep(PAUSE_SECONDS)
    return latencies


def guess_process(base: str, known_id: str, guessers: int, stop: Any, results: Any) -> None:
    """In a child process: `guessers` threads posting wrong secrets until `stop` is set."""
    counts: Counter[int] = Counter()
    lock = threading.Lock()

    def guess(known: bool) -> None:
        mine: Counter[int] = Counter()
        with httpx.Client(base_url=base, timeout=60) as http:
            while not stop.is_set():
                client_id = known_id if known else secrets.token_hex(16)
                form = {"client_id": client_id, "client_secret": "p8e-" + secrets.token_urlsafe(32)}
                try:
                    mine[http.post("/ims/token/v3", data=form).status_code] += 1
                except httpx.HTTPError:
                    mine[0] += 1
        with lock:
            counts.update(mine)

    threads = [threading.Thread(target=guess, args=(i % 2 == 0,)) for i in range(guessers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put(dict(counts))


def setup(base: str, creds: dict[str, str]) -> tuple[dict[str, str], str]:
    form = {"grant_type": "client_credentials", **creds}
    token = httpx.post(base + "/ims/token/v3", data=form).json()["access_token"]
    headers = {
        "Authorization": f"Bearer {token}",
        "x-api-key": creds["client_id"],
        "x-gw-ims-org-id": ORG,
        "x-sandbox-name": "prod",
    }
    body = {
        "name": "pg",
        "auth": {
            "specName": "Basic Authentication",
            "params": {
                "server": "127.0.0.1",
                "port": 5432,
                "database": "postgres",
                "username": "postgres",
                "password": "bench",
                "sslMode": "Disable",
            },
        },
        "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
    }
    resp = httpx.post(base + f"{FLOW}/connections", json=body, headers=headers)
    resp.raise_for_status()
    return headers, f"{FLOW}/connections/{resp.json()['id']}"


def one_round(base: str, creds: dict[str, str], headers: dict[str, str], url: str, args: Any) -> dict[str, Any]:
    alone = measure(base, url, headers, args.requests)
    ctx = mp.get_context("spawn")
    stop, results = ctx.Event(), ctx.Queue()
    child = ctx.Process(target=guess_process, args=(base, creds["client_id"], args.guessers, stop, results))
    child.start()
    time.sleep(SETTLE_SECONDS)  # the guessers reach their steady state
    started = time.perf_counter()
    guessed = measure(base, url, headers, args.requests)
    elapsed = time.perf_counter() - started
    stop.set()
    statuses: dict[int, int] = results.get(timeout=120)
    child.join(timeout=60)
    return {
        "alone_p50_ms": statistics.median(alone) * 1000,
        "alone_p99_ms": p99(alone) * 1000,
        "guessed_p50_ms": statistics.median(guessed) * 1000,
        "guessed_p99_ms": p99(guessed) * 1000,
        "ratio": p99(guessed) / p99(alone),
        "guesses": sum(statuses.values()),
        "guess_statuses": statuses,
        "guess_rate": sum(statuses.values()) / (elapsed + SETTLE_SECONDS),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50, help="measured GET requests per phase")
    parser.add_argument("--guessers", type=int, default=16, help="concurrent guessing clients")
    parser.add_argument("--max-failures", type=int, default=None, help="HEADWATER_AUTH_MAX_FAILURES")
    parser.add_argument("--rounds", type=int, default=1, help="repeat alone/guessed measurements")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (server log)")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="hw-guess-"))
    env = {**os.environ, "HEADWATER_DATA_DIR": str(data)}
    if args.max_failures is not None:
        env["HEADWATER_AUTH_MAX_FAILURES"] = str(args.max_failures)
    out = subprocess.run(
        [sys.executable, "-m", "headwater.cli", "credentials", "create", "--org", ORG, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    creds = {k: v for k, v in json.loads(out).items() if k in ("client_id", "client_secret")}
    proc, base = start_server(data, env)
    limit = args.max_failures if args.max_failures is not None else "default"
    print(
        f"token_guess: headwater serve (SQLite, 1 web worker), {os.cpu_count()} CPUs, {args.requests} GETs per "
        f"phase, {args.guessers} guessers from the same address, HEADWATER_AUTH_MAX_FAILURES={limit}"
    )
    worst = 0.0
    try:
        headers, url = setup(base, creds)
        for i in range(args.rounds):
            r = one_round(base, creds, headers, url, args)
            worst = max(worst, r["ratio"])
            codes = " ".join(f"{k}:{v}" for k, v in sorted(r["guess_statuses"].items()))
            print(
                f"round {i + 1}: GET /connections/{{id}} alone p50 {r['alone_p50_ms']:.1f} ms p99 "
                f"{r['alone_p99_ms']:.1f} ms | under guessing p50 {r['guessed_p50_ms']:.1f} ms p99 "
                f"{r['guessed_p99_ms']:.1f} ms | ratio {r['ratio']:.2f} | {r['guesses']} guesses "
                f"({r['guess_rate']:.0f}/s), statuses {codes}",
                flush=True,
            )
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        if args.keep:
            print(f"data and server log kept in {data}")
        else:
            shutil.rmtree(data, ignore_errors=True)
    met = worst <= TARGET_RATIO
    print(f"target p99 ratio <= {TARGET_RATIO:.0f}: {'met' if met else 'MISSED'} (worst {worst:.2f})")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
