"""Producer/consumer reading for the parallel readers: worker threads, one bounded hand-off queue.

Each job is a callable returning an iterator of batches (one key range, one read stream). Worker
threads take jobs until none is left and hand every batch to the consumer through a queue of
`queue_size` items, so memory is bounded by the queue, not the table. The first error of any
worker is raised in the consumer; when the consumer stops early (an error, a closed generator),
the workers are told to stop and their pending batches are dropped. With `idle_limit`, a source
that goes silent (a server that accepted the read and never answers) fails the read instead of
holding it forever.
"""

from __future__ import annotations

import contextlib
import contextvars
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# How often a blocked worker looks at the stop flag; short enough that cancellation feels immediate.
_POLL_SECONDS = 0.1


class ReadStalled(Exception):
    """No worker handed over anything for the idle limit: the source stopped answering."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no data arrived for {seconds:.0f} s")
        self.seconds = seconds


class _Done:
    """A worker has no more jobs."""


@dataclass(frozen=True)
class _Failed:
    error: BaseException


@dataclass(frozen=True)
class _Item(Generic[T]):
    value: T


def read_in_parallel(
    jobs: Sequence[Callable[[], Iterator[T]]],
    *,
    workers: int,
    queue_size: int,
    thread_name: str,
    stop_wait: float | None = None,
    idle_limit: float | None = None,
) -> Generator[T]:
    """Run `jobs` on `workers` threads and yield their items as they come, in no set order.

    `stop_wait` bounds how long closing waits for workers still blocked in their source (None: until
    they finish, so their connections are closed before this returns). `idle_limit` bounds how long
    the consumer waits for the next item (ReadStalled); time the consumer spends elsewhere, such as
    writing what it was given, does not count.
    """
    todo: queue.SimpleQueue[Callable[[], Iterator[T]]] = queue.SimpleQueue()
    for job in jobs:
        todo.put(job)
    handoff: queue.Queue[_Item[T] | _Done | _Failed] = queue.Queue(maxsize=max(1, queue_size))
    stop = threading.Event()

    def put(item: _Item[T] | _Done | _Failed) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            while not stop.is_set():
                try:
                    job = todo.get_nowait()
                except queue.Empty:
                    return
                values = job()
                try:
                    for value in values:
                        if not put(_Item(value)):
                            return
                finally:
                    # A generator left open would hold its connection until garbage-collected.
                    close = getattr(values, "close", None)
                    if close is not None:
                        close()
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failed(exc))
        finally:
            put(_Done())

    count = max(1, min(workers, len(jobs)))
    # Each worker runs in a copy of the caller's context, so its log lines carry the caller's run id.
    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(work,), name=f"{thread_name}-{i}", daemon=True)
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    try:
        finished = 0
        while finished < len(threads):
            try:
                item = handoff.get(timeout=idle_limit)
            except queue.Empty:
                raise ReadStalled(idle_limit or 0.0) from None
            if isinstance(item, _Done):
                finished += 1
            elif isinstance(item, _Failed):
                raise item.error
            else:
                yield item.value
    finally:
        # Reached on completion, on error and when the consumer stops early (generator closed).
        stop.set()
        deadline = None if stop_wait is None else time.monotonic() + stop_wait
        while any(t.is_alive() for t in threads) and (deadline is None or time.monotonic() < deadline):
            with contextlib.suppress(queue.Empty):
                handoff.get(timeout=_POLL_SECONDS)
