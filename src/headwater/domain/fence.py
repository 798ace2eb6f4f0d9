"""A source's own view of in-flight transactions, used to fence incremental windows (docs/incremental.md).

PostgreSQL numbers transactions with 64-bit ids (`xid8`). A snapshot's `xmin` is the oldest
transaction still running when it was taken: every transaction with a smaller id has finished, so
the set of committed row versions with `xmin` below it never changes again. An incremental run
reads the versions whose transaction ids lie in `[after, before)`, where `after` is the previous
run's `before`; consecutive runs therefore read disjoint sets whose union is every committed
version, whatever the delta column holds and however late a transaction commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SnapshotFacts:
    """The snapshot a fenced read ran in, reported by the source as the read starts.

    `before` is its xmin (every transaction below it has finished), `xmax` the first id not yet
    assigned, `running` how many transactions it lists as in progress; `captured_at` is the source
    clock just after it was taken and `newest` the largest delta value it holds (when asked for).
    """

    before: int
    xmax: int
    running: int
    captured_at: dt.datetime
    newest: Any = None
    # Ids at or above `before` whose rows this read took (the committed "band" above the horizon);
    # None when it left the band for a later run.
    band: tuple[int, ...] | None = None


@dataclass(frozen=True)
class XidFence:
    """Committed row versions whose transaction id is in `[after, before)` (or `>= after` with `band`),
    minus `exclude`; `after` None is unbounded.

    `before` None asks the source to read in a fresh snapshot and take its xmin, reporting the
    snapshot to `on_snapshot` before the first batch.
    """

    before: int | None = None
    after: int | None = None
    # Also committed versions at or above `before`, visible in the read's snapshot (set by the source).
    band: bool = False
    # Transaction ids already read by an earlier run's band: never again.
    exclude: tuple[int, ...] = ()
    on_snapshot: Callable[[SnapshotFacts], None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SessionFacts:
    """What a source says about its open transactions, read BEFORE a fenced read's snapshot.

    `oldest_start` is the start of the oldest other open transaction in the database (None when
    there is none), trustworthy only when `sees_all_sessions`; `statement_at` is the source clock
    when the list was read. `utc_offset_seconds` is the source session's time-zone offset, for
    timestamps without a zone.
    """

    statement_at: dt.datetime
    oldest_start: dt.datetime | None
    sees_all_sessions: bool
    utc_offset_seconds: int = 0
