"""Run-engine worker processes forked on demand, for tests that SIGKILL a worker mid-run.

A forker process imports Headwater once, then forks one worker per line read on stdin and prints its
pid: a worker is a real process (SIGKILL ends it like any other) that is ready in milliseconds, where
a fresh interpreter needs seconds to import on a loaded machine. `ForkedWorkers` drives a forker from
the test; `serve_forks` is the forker's loop; `slowed_stage_writes` and `run_engine_until_stopped` are
what a worker does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headwater.lake import Lake
from headwater.runs.executor import RunEngine

ROOT = Path(__file__).resolve().parents[2]


class ForkedWorkers:
    """Worker processes forked on demand by the forker module `module` (ready at once, killed for real)."""

    def __init__(self, module: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.forker = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT, env={**os.environ, **env}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=log.open("ab"),
        )  # fmt: skip
        self.pids: list[int] = []

    def spawn(self) -> int:
        assert self.forker.stdin is not None and self.forker.stdout is not None
        self.forker.stdin.write(b"\n")
        self.forker.stdin.flush()
        pid = int(self.forker.stdout.readline())
        self.pids.append(pid)
        return pid

    def kill(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)  # a stopped process dies of it too
        self.pids.remove(pid)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.01)
        raise AssertionError(f"worker {pid} survived SIGKILL")

    def close(self) -> None:
        for pid in list(self.pids):
            self.kill(pid)
        self.forker.kill()
        self.forker.wait()


def serve_forks(worker: Callable[[], None]) -> None:
    """The forker's loop: one forked `worker` per line on stdin, its pid printed."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed workers are reaped by the kernel
    for _ in sys.stdin:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                worker()
            finally:
                os._exit(0)
        print(pid, flush=True)


def slowed_stage_writes(lake: Lake, pause: float) -> None:
    """Every batch written to a run's staged files waits `pause` seconds first, so a signal sent a moment
    after a unit was staged lands inside the next one."""
    stage_writer = lake.stage_writer

    def slow_stage_writer(*args: Any, **kwargs: Any) -> Any:
        writer = stage_writer(*args, **kwargs)
        write = writer.write

        def paused(batch: Any) -> None:
            time.sleep(pause)
            write(batch)

        writer.write = paused  # type: ignore[method-assign]
        return writer

    lake.stage_writer = slow_stage_writer  # type: ignore[method-assign]


def run_engine_until_stopped(deps: Any) -> None:
    """The embedded pool (one worker thread, no scheduler) until SIGTERM."""
    engine = RunEngine(deps, workers=1, schedule=False).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    engine.stop()
