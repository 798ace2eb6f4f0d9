"""Worker processes for test_bq_worker_killed.py: `python -m tests.connectors.bigquery.bq_resume_worker PAUSE`.

This process imports Headwater once, then forks one worker per line read on stdin and prints its
pid: a worker is a real process (SIGKILL ends it like any other) that is ready in milliseconds,
where a fresh interpreter needs seconds to import on a loaded machine.

A worker is the embedded pool (one worker thread, no scheduler) with fast run settings, reading one
Storage Read stream at a time. It spends PAUSE seconds before each batch it writes to a stream's
staged files, and PAUSE seconds before and after the run's Iceberg commit, so that a worker frozen a
moment after its k-th stream was staged is inside stream k+1, or, once every stream is staged, before
the commit; and one frozen a moment after the commit has not yet recorded the run as succeeded.
Settings otherwise come from HEADWATER_* variables (the emulator's endpoints, the metadata database).
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


def worker(pause: float) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")
    run = FAST.model_copy(update={"read_parallelism": 1, "max_claims": 100})
    deps = Services(Settings(run=run)).run_deps()
    lake = deps.lake
    stage_writer, write_run = lake.stage_writer, lake.write_run

    def slow_stage_writer(*args: Any, **kwargs: Any) -> Any:
        writer = stage_writer(*args, **kwargs)
        write = writer.write

        def paused(batch: Any) -> None:
            time.sleep(pause)
            write(batch)

        writer.write = paused  # type: ignore[method-assign]
        return writer

    def slow_write_run(*args: Any, **kwargs: Any) -> Any:
        time.sleep(pause)
        result = write_run(*args, **kwargs)
        time.sleep(pause)
        return result

    lake.stage_writer = slow_stage_writer  # type: ignore[method-assign]
    lake.write_run = slow_write_run  # type: ignore[method-assign]
    engine = RunEngine(deps, workers=1, schedule=False).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    engine.stop()


def main(pause: str) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed workers are reaped by the kernel
    for _ in sys.stdin:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                worker(float(pause))
            finally:
                os._exit(0)
        print(pid, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
