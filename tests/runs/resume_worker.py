"""Worker processes for the resume tests: `python -m tests.runs.resume_worker CHUNK_ROWS PAUSE`.

A forker of tests/support/forked_workers.py.

A worker is the embedded pool (one worker thread, no scheduler) with fast run settings, chunks of
CHUNK_ROWS rows, and PAUSE seconds spent on every batch written to a chunk's staged files, so that
a SIGKILL sent a moment after a chunk was staged lands inside the next one. Settings otherwise
come from HEADWATER_* variables.
"""

from __future__ import annotations

import logging
import sys

from headwater.service import Services
from headwater.settings import Settings
from tests.runs.source import FAST
from tests.support.forked_workers import run_engine_until_stopped, serve_forks, slowed_stage_writes


def worker(chunk_rows: int, pause: float) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")
    # A lease far longer than a heartbeat's delay on a loaded machine: a live worker never loses its
    # run to the standby, so every attempt is one the test caused (it expires a killed worker's lease).
    run = FAST.model_copy(update={"chunk_rows": chunk_rows, "max_claims": 100, "lease_seconds": 15.0})
    deps = Services(Settings(run=run)).run_deps()
    slowed_stage_writes(deps.lake, pause)
    run_engine_until_stopped(deps)


if __name__ == "__main__":
    chunk_rows, pause = sys.argv[1:]
    serve_forks(lambda: worker(int(chunk_rows), float(pause)))
