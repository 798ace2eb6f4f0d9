"""Failed-attempt counting and lockout for the token endpoint (in-process, per server process).

Keys are opaque strings (the API layer uses one per client id and one per source address). A key
with `max_failures` failures inside `window_seconds` is locked for `lockout_seconds`. Unknown
client ids are counted like known ones, so the lockout itself does not reveal which ids exist.
Memory is bounded: beyond `max_keys` the least recently failed keys are forgotten.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable


class FailureLimiter:
    """Not thread-safe: the API calls it from the event loop only."""

    def __init__(
        self,
        *,
        max_failures: int,
        window_seconds: float,
        lockout_seconds: float,
        max_keys: int = 65_536,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.lockout_seconds = lockout_seconds
        self._max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._locked: OrderedDict[str, float] = OrderedDict()  # key -> monotonic time the lock ends

    def retry_after(self, *keys: str) -> float | None:
        """Seconds until every given key is unlocked, or None when none is locked."""
        now = self._clock()
        remaining = 0.0
        for key in keys:
            until = self._locked.get(key)
            if until is None:
                continue
            if until <= now:
                del self._locked[key]
            else:
                remaining = max(remaining, until - now)
        return remaining or None

    def failed(self, *keys: str) -> None:
        """Count one failed attempt against each key, locking those that reach the limit."""
        now = self._clock()
        for key in keys:
            times = self._failures.pop(key, None) or deque(maxlen=self.max_failures)
            while times and times[0] <= now - self.window_seconds:
                times.popleft()
            times.append(now)
            if len(times) >= self.max_failures:
                self._locked.pop(key, None)
                self._locked[key] = now + self.lockout_seconds
                continue  # the lock replaces the count: a new window starts when it ends
            self._failures[key] = times  # re-inserted last: the most recently failed
        self._trim(now)

    def _trim(self, now: float) -> None:
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)
        if len(self._locked) > self._max_keys:
            for key in [k for k, until in self._locked.items() if until <= now]:
                del self._locked[key]
            while len(self._locked) > self._max_keys:
                self._locked.popitem(last=False)
