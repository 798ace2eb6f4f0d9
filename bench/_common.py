"""Helpers shared by benchmarks: run a measured step in a child process and read its own peak RSS.

A child per step keeps peaks separate: `os.wait4` returns the rusage of exactly that child, where
RUSAGE_CHILDREN would report the largest child so far.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


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


# Adobe's published ids (bench/ is its own program: it imports headwater, never tests/).
PG_SPEC = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
BENCH_ORG = "BENCH000000000000000000000@AdobeOrg"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_once_flow(svc: Any, *, database: str, table: str) -> Any:
    """A one-time flow from a table of the local PostgreSQL (trust auth) into a new dataset; its Record.

    Built through the services as the API would; `svc` is a migrated `headwater.service.Services`.
    """
    from headwater.identity import Principal
    from headwater.service import Context
    from headwater.store import Scope

    ctx = Context(principal=Principal("bench", BENCH_ORG), scope=Scope(BENCH_ORG, "prod"), request_id="bench")
    pg = {"id": PG_SPEC, "version": "1.0"}
    params = {"server": "127.0.0.1", "port": "5432", "database": database, "username": "postgres",
              "password": "unused-with-trust", "sslMode": "Disable"}  # fmt: skip
    auth = {"specName": "Basic Authentication", "params": params}
    connection = svc.connections.create(ctx, {"name": "pg", "auth": auth, "connectionSpec": pg})
    source = svc.source_connections.create(
        ctx, {"name": "src", "baseConnectionId": connection["id"], "params": {"tableName": table}, "connectionSpec": pg}
    )
    (dataset_ref,) = svc.datasets.create(ctx, {"name": "ds"})
    target = svc.target_connections.create(
        ctx,
        {
            "name": "tgt",
            "params": {"dataSetId": dataset_ref.rsplit("/", 1)[-1]},
            "connectionSpec": {"id": LAKE_SPEC, "version": "1.0"},
        },
    )
    flow = svc.flows.create(
        ctx,
        {
            "name": "flow",
            "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
            "sourceConnectionIds": [source["id"]],
            "targetConnectionIds": [target["id"]],
            "transformations": [],
            "scheduleParams": {"startTime": "1600000000", "frequency": "once"},
        },
    )
    return svc.flows.record(ctx, flow["id"])


def start_server(data: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """Start `headwater serve` on a free port, logging to data/server.log; wait until it answers."""
    port = free_port()
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "headwater.cli", "serve"],
        env={**env, "HEADWATER_PORT": str(port)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # several web workers each import all of Headwater first: slow on a busy machine
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"headwater serve exited:\n{(data / 'server.log').read_text()}")
        try:
            httpx.get(base + "/openapi.json", timeout=1)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("headwater serve did not start")
