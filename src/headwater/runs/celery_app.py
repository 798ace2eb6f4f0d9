"""Celery for scale-out: the same `execute_run` as the embedded pool, fed through a Redis or RabbitMQ broker.

The broker only carries run ids. Correctness never depends on it: the task claims the run with a
lease in the runs table, so a message delivered twice, or redelivered after a worker died, runs
the work at most once at a time, and the lake's run-id idempotency keeps the data exactly once.
A message lost by the broker is re-sent by the scheduler once the run's hand-over expires.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from celery import Celery

from headwater.runs.executor import owner_id
from headwater.runs.task import RunDeps, execute_run

TASK_NAME = "headwater.run"
QUEUE = "headwater-runs"


def create_celery(broker_url: str, deps_factory: Callable[[], RunDeps] | None = None) -> Celery:
    """A Celery app on `broker_url`; workers build their RunDeps lazily with `deps_factory`."""
    app = Celery("headwater", broker=broker_url)
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,  # a message is acknowledged after the run, so a dead worker's run comes back
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    lock = threading.Lock()
    cache: dict[str, Any] = {}

    def deps() -> RunDeps:
        with lock:
            if "deps" not in cache:
                if deps_factory is None:
                    raise RuntimeError("this Celery app only sends runs; start workers with `headwater worker`")
                cache["deps"] = deps_factory()
            found: RunDeps = cache["deps"]
            return found

    @app.task(name=TASK_NAME)  # type: ignore[untyped-decorator,misc]
    def run_flow(run_id: str) -> str | None:
        status = execute_run(deps(), run_id, owner=owner_id(":celery"))
        return status.value if status is not None else None

    return app


def enqueuer(app: Celery) -> Callable[[str], None]:
    """The scheduler's hand-over function for a broker."""

    def enqueue(run_id: str) -> None:
        app.send_task(TASK_NAME, args=[run_id], queue=QUEUE)

    return enqueue
