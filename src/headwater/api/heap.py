"""The server process's heap after start: what it imported and built is set aside from the collector.

A server process holds about a million objects once Headwater, pyarrow, pyiceberg and SQLAlchemy are
imported. Every full collection walks all of them: measured at 80 ms every 3 s per web worker under
load, a pause every request waiting on that worker sits through (most of the p99 of a list at 50
clients). `gc.freeze()` moves the objects alive at start to a generation the collector never walks;
they are still freed by reference counting. Only long-lived server processes do this: a test process
that builds many apps would keep the cycles of each in the frozen generation for good.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what starting left behind, then keep every surviving object out of later collections."""
    gc.collect()
    gc.freeze()
