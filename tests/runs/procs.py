"""Entry points of the processes the multi-process run tests start: `python -m tests.runs.procs KIND ...`.

- `scheduler URL START_AT SECONDS`: tick the scheduler in a tight loop; print how many runs it created.
- `worker`: the embedded worker pool (no scheduler), as in `headwater worker` without a broker.
- `celery BROKER_URL`: a real Celery worker executing runs.
Settings come from HEADWATER_* variables; runs read the source with the production connector.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any

from headwater.runs.celery_app import QUEUE, create_celery
from headwater.runs.executor import RunEngine
from headwater.runs.scheduler import Scheduler
from headwater.runs.task import RunDeps
from headwater.service import Services
from headwater.settings import Settings
from headwater.store import Store
from tests.runs.source import FAST


def scheduler(url: str, start_at: str, seconds: str) -> None:
    sched = Scheduler(Store.from_url(url))
    time.sleep(max(0.0, float(start_at) - time.time()))  # both processes start together
    created = 0
    deadline = time.time() + float(seconds)
    while time.time() < deadline:
        created += sched.tick().created
    print(created, flush=True)


def _deps() -> RunDeps:
    deps = Services(Settings(run=FAST)).run_deps()
    lake = deps.lake
    original = lake.write_run
    pause = float(os.environ.get("HW_TEST_PAUSE_AFTER_COMMIT", "0"))

    def write_run(*args: Any, **kwargs: Any) -> Any:
        # Widen the gap between the Iceberg commit and the run report, so that random kills land
        # in it too (the case the run-id idempotency exists for).
        result = original(*args, **kwargs)
        time.sleep(pause)
        return result

    lake.write_run = write_run  # type: ignore[method-assign]
    return deps


def worker() -> None:
    engine = RunEngine(_deps(), workers=1, schedule=False).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    engine.stop()


def celery(broker: str) -> None:
    app = create_celery(broker, _deps)
    app.worker_main(["worker", "--pool=threads", "--concurrency=1", "-Q", QUEUE, "--loglevel=INFO",
                     "--without-mingle", "--without-gossip", "--without-heartbeat"])


if __name__ == "__main__":
    kind, *args = sys.argv[1:]
    {"scheduler": scheduler, "worker": worker, "celery": celery}[kind](*args)
