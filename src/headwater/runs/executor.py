"""The embedded executor: a scheduler loop plus a pool of worker threads inside one process.

Threads, not processes: a run spends its time in C (the source driver, Arrow, the Parquet
writer), which releases the GIL. Workers of any number of processes share the runs table: each
claims a run with a lease, so a run killed with its process is picked up again once the lease
expires. With a broker configured, the loop hands runs to Celery instead of running them here.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable

from headwater.runs.ledger import Ledger
from headwater.runs.scheduler import Scheduler
from headwater.runs.task import RunDeps, execute_run
from headwater.store import now_ms

log = logging.getLogger("headwater.runs.executor")


def owner_id(suffix: str = "") -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}{suffix}"


class RunEngine:
    """Scheduler loop and worker pool; `start()` returns immediately, `stop()` waits for the threads."""

    def __init__(
        self,
        deps: RunDeps,
        *,
        workers: int,
        schedule: bool = True,
        scheduler_interval: float = 5.0,
        enqueue: Callable[[str], None] | None = None,
        wake: threading.Event | None = None,
    ) -> None:
        self.deps = deps
        self.ledger = Ledger(deps.store)
        self.scheduler = Scheduler(deps.store)
        self.workers = 0 if enqueue is not None else workers
        self.schedule = schedule
        self.interval = scheduler_interval
        self.enqueue = enqueue
        self._stop = threading.Event()
        # Shared with whoever creates runs in this process, so a new run is picked up at once.
        self._wake = wake if wake is not None else threading.Event()
        self._threads: list[threading.Thread] = []
        self.owner = owner_id()

    def start(self) -> RunEngine:
        if self.schedule or self.enqueue is not None:
            self._threads.append(threading.Thread(target=self._schedule_loop, name="hw-scheduler", daemon=True))
        for i in range(self.workers):
            self._threads.append(
                threading.Thread(target=self._work_loop, args=(i,), name=f"hw-worker-{i}", daemon=True)
            )
        for t in self._threads:
            t.start()
        log.info(
            "run engine started: %d workers, scheduler=%s, broker=%s",
            self.workers,
            self.schedule,
            self.enqueue is not None,
        )
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=timeout)

    def _schedule_loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.schedule:
                    tick = self.scheduler.tick()
                    if tick.created:
                        log.info("scheduler created %d runs (%d flows, %.3fs)", tick.created, tick.flows, tick.seconds)
                        self._wake.set()
                if self.enqueue is not None:
                    self.scheduler.dispatch(self.enqueue, requeue_after_s=self.deps.settings.lease_seconds * 2)
            except Exception:
                log.exception("scheduler tick failed")
            self._stop.wait(self.interval)

    def _work_loop(self, index: int) -> None:
        owner = f"{self.owner}:{index}"
        while not self._stop.is_set():
            try:
                worked = self.work_once(owner)
            except Exception:
                log.exception("worker %s failed to poll for runs", owner)
                worked = False
            if not worked:
                self._wake.wait(self.deps.settings.poll_seconds)
                self._wake.clear()

    def work_once(self, owner: str) -> bool:
        """Run at most one claimable run; True if one was run."""
        for candidate in self.ledger.candidates(now=now_ms()):
            if self._stop.is_set():
                return False
            if execute_run(self.deps, candidate.id, owner=owner) is not None:
                return True
        return False
