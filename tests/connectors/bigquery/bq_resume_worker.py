"""Worker processes for test_bq_worker_killed.py: `python -m tests.connectors.bigquery.bq_resume_worker PAUSE`.

A forker of tests/support/forked_workers.py.

A worker is the embedded pool (one worker thread, no scheduler) with fast run settings, reading one
Storage Read stream at a time. It spends PAUSE seconds before each batch it writes to a stream's
staged files, and PAUSE seconds before and after the run's Iceberg commit, so that a worker frozen a
moment after its k-th stream was staged is inside stream k+1, or, once every stream is staged, before
the commit; and one frozen a moment after the commit has not yet recorded the run as succeeded.
Settings otherwise come from HEADWATER_* variables (the emulator's endpoints, the metadata database).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from headwater.service import Services
from headwater.settings import Settings
from tests.runs.source import FAST
from tests.support.forked_workers import run_engine_until_stopped, serve_forks, slowed_stage_writes


def worker(pause: float) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")
    run = FAST.model_copy(update={"read_parallelism": 1, "max_claims": 100})
    deps = Services(Settings(run=run)).run_deps()
    lake = deps.lake
    slowed_stage_writes(lake, pause)
    write_run = lake.write_run

    def slow_write_run(*args: Any, **kwargs: Any) -> Any:
        time.sleep(pause)
        result = write_run(*args, **kwargs)
        time.sleep(pause)
        return result

    lake.write_run = slow_write_run  # type: ignore[method-assign]
    run_engine_until_stopped(deps)


if __name__ == "__main__":
    serve_forks(lambda: worker(float(sys.argv[1])))
