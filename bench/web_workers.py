"""The default number of web workers against one, side by side: bench/load_read.py run for each, alternately.

    python bench/web_workers.py [--rounds 2] [--duration 20] [--connections 50]

Each round runs `load_read.py` once with HEADWATER_WEB_WORKERS unset (the default: one per core)
and once with HEADWATER_WEB_WORKERS=1, alternating so that load from elsewhere on the machine
weighs on both alike. Prints each run's p99 of GET /connections/{id}, the medians, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ENDPOINT = "GET /connections/{id}"


def load_read(args: argparse.Namespace, web_workers: int | None) -> dict[str, Any]:
    argv = [sys.executable, str(HERE / "load_read.py"), "--duration", str(args.duration)]
    argv += ["--connections", str(args.connections)]
    env = {k: v for k, v in os.environ.items() if k != "HEADWATER_WEB_WORKERS"}
    if web_workers is not None:
        argv += ["--web-workers", str(web_workers)]
    # load_read exits 1 when its target is missed: the figures are what this benchmark wants either way.
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    if not lines:
        raise SystemExit(f"load_read.py printed no RESULT line:\n{out.stdout}\n{out.stderr}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return result[ENDPOINT]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=20, help="seconds per endpoint and run")
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    p99: dict[str, list[float]] = {"default": [], "one": []}
    print(f"{ENDPOINT}, {args.connections} clients, {args.duration}s, {cores} cores available to this process")
    print(f"{'round':>5} {'workers':>16} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for i in range(args.rounds):
        for label, workers in (("default", None), ("one", 1)):
            r = load_read(args, workers)
            p99[label].append(r["p99_us"] / 1000)
            shown = f"default ({cores})" if workers is None else "1"
            print(
                f"{i + 1:>5} {shown:>16} {r['rps']:>8.0f} {r['p50_us'] / 1000:>8.1f} "
                f"{r['p99_us'] / 1000:>8.1f} {r['errors']:>7}",
                flush=True,
            )
    default, one = statistics.median(p99["default"]), statistics.median(p99["one"])
    print(f"median p99: default {default:.1f} ms, HEADWATER_WEB_WORKERS=1 {one:.1f} ms")
    print(f"ratio default / one worker = {default / one:.2f}")
    print("RESULT " + json.dumps({"p99_ms": p99, "ratio": default / one}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
