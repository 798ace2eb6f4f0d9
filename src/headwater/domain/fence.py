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
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class XidFence:
    """Committed row versions whose transaction id is in `[after, before)`; `after` None is unbounded."""

    before: int
    after: int | None = None


@dataclass(frozen=True)
class FenceCapture:
    """What a source reports just before an incremental read: its snapshot and the clocks around it.

    `oldest_start` is the start of the oldest other open transaction in the database (None when
    there is none), trustworthy only when `sees_all_sessions`; `statement_at` was taken before the
    snapshot and `captured_at` after it, both on the source's clock. `newest` is the largest delta
    value visible in the snapshot (None when not asked for or the table holds none).
    `utc_offset_seconds` is the source session's time-zone offset, for timestamps without a zone.
    """

    before: int  # pg_snapshot_xmin: every transaction below it has finished
    xmax: int  # pg_snapshot_xmax: every transaction at or above it started after the snapshot
    statement_at: dt.datetime
    captured_at: dt.datetime
    oldest_start: dt.datetime | None
    sees_all_sessions: bool
    newest: Any = None
    utc_offset_seconds: int = 0
