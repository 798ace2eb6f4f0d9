"""The parallel readers' hand-off: a source that goes silent fails the read instead of holding it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from headwater.connectors._parallel import ReadStalled, read_in_parallel


def test_a_source_that_goes_silent_fails_the_read_after_the_idle_limit() -> None:
    release = threading.Event()

    def silent() -> Iterator[int]:
        yield 1
        release.wait(30)  # a server that accepted the read and stopped answering
        yield 2

    got: list[int] = []
    started = time.monotonic()
    try:
        with pytest.raises(ReadStalled, match="no data arrived for 1 s"):
            items = read_in_parallel([silent], workers=1, queue_size=1, thread_name="t", stop_wait=1, idle_limit=1)
            for value in items:
                got.append(value)
    finally:
        release.set()
    assert got == [1]
    assert time.monotonic() - started < 10  # the limit, plus the bounded wait for the stuck worker


def test_time_the_consumer_spends_on_what_it_was_given_is_not_idle() -> None:
    got: list[int] = []
    for value in read_in_parallel([lambda: iter(range(3))], workers=1, queue_size=1, thread_name="t", idle_limit=0.2):
        time.sleep(0.5)  # writing the item takes longer than the idle limit
        got.append(value)
    assert got == [0, 1, 2]
