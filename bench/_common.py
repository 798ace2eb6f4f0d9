"""Helpers shared by benchmarks: run a measured step in a child process and read its own peak RSS.

A child per step keeps peaks separate: `os.wait4` returns the rusage of exactly that child, where
RUSAGE_CHILDREN would report the largest child so far.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChildResult:
    """What a measured child printed (one JSON object on its last stdout line) and its peak RSS."""

    output: dict[str, Any]
    peak_rss_mib: float
    wall_seconds: float


def run_child(argv: list[str], *, env: dict[str, str] | None = None) -> ChildResult:
    """Run `python argv…`, wait with wait4, and parse the JSON the child prints last."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, env={**os.environ, **(env or {})})
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step {argv!r} failed with exit code {proc.returncode}")
    last = out.decode().strip().splitlines()[-1]
    # ru_maxrss is in KiB on Linux.
    return ChildResult(json.loads(last), usage.ru_maxrss / 1024, wall)


def emit(result: dict[str, Any]) -> None:
    """The child's side of run_child: print one JSON line."""
    print(json.dumps(result), flush=True)
