"""Worker processes for the resume tests: `python -m tests.runs.resume_worker CHUNK_ROWS PAUSE`.

This process imports Headwater once, then forks one worker per line read on stdin and prints its
pid: a worker is a real process (SIGKILL ends it like any other) that is ready in milliseconds,
where a fresh interpreter needs seconds to import on a loaded machine.

A worker is the embedded pool (one worker thread, no scheduler) with fast run settings, chunks of
CHUNK_ROWS rows, and PAUSE seconds spent on every batch written to a chunk's staged files, so that
a SIGKILL sent a moment after a chunk was staged lands inside the next one. Settings otherwise
come from HEADWATER_* variables.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from headwater.runs.executor import RunEngine
from headwater.service import Services
from headwater.settings import Settings
from tests.runs.source import FAST


def worker(chunk_rows: int, pause: float) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")
    run = FAST.model_copy(update={"chunk_rows": chunk_rows, "max_claims": 100})
    deps = Services(Settings(run=run)).run_deps()
    lake = deps.lake
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
    engine = RunEngine(deps, workers=1, schedule=False).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    engine.stop()


def main(chunk_rows: str, pause: str) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed workers are reaped by the kernel
    for _ in sys.stdin:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                worker(int(chunk_rows), float(pause))
            finally:
                os._exit(0)
        print(pid, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
