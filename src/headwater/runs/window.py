"""Incremental read windows: which delta-column values a run reads, and the cursor it commits.

A window is half-open, `start <= delta < end`, and the next run starts at this run's end, so rows
that share the boundary value are read exactly once: by the run whose window contains them.

These value windows serve sources that cannot fence a read by transaction (BigQuery, PostgreSQL
views and servers before 13); fenced windows are in runs/cursor.py. Where `end` lies decides which
late rows survive:
- time columns (timestamp, date): `end = min(scheduled time, now - safety lag)`. A row whose
  transaction commits after the run read its window, carrying an older timestamp, is still ahead
  of the cursor as long as it committed within the lag.
- other ordered columns (integers, strings, decimals): `end = max(delta)` seen when the run starts,
  exclusive. Rows holding the newest value wait for the next run, because more rows with that
  same value may still arrive (the classic lost-rows-at-the-cursor bug).

Cursors are stored in the Iceberg snapshot as tagged strings (`ts:`, `date:`, `int:`, ...) so the
lake stores text and the type survives the round trip.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pyarrow as pa

from headwater.domain.fence import XidFence

UTC = dt.UTC


class DeltaKind(StrEnum):
    """How a delta column bounds its window."""

    TIME = "time"  # timestamp columns: bounded by the clock
    DATE = "date"
    MAX = "max"  # any other ordered scalar: bounded by the max value seen at start


def delta_kind(arrow_type: pa.DataType) -> DeltaKind:
    if pa.types.is_timestamp(arrow_type):
        return DeltaKind.TIME
    if pa.types.is_date(arrow_type):
        return DeltaKind.DATE
    return DeltaKind.MAX


def encode(value: Any) -> str | None:
    """A cursor value as a tagged string."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return "ts:" + value.isoformat()
    if isinstance(value, dt.date):
        return "date:" + value.isoformat()
    if isinstance(value, bool):
        raise TypeError("booleans cannot be cursors")
    if isinstance(value, int):
        return f"int:{value}"
    if isinstance(value, Decimal):
        return f"dec:{value}"
    if isinstance(value, float):
        return f"num:{value!r}"
    if isinstance(value, str):
        return "str:" + value
    raise TypeError(f"unsupported cursor type {type(value).__name__}")


def decode(text: str | None) -> Any:
    if text is None:
        return None
    tag, _, raw = text.partition(":")
    if tag == "ts":
        return dt.datetime.fromisoformat(raw)
    if tag == "date":
        return dt.date.fromisoformat(raw)
    if tag == "int":
        return int(raw)
    if tag == "dec":
        return Decimal(raw)
    if tag == "num":
        return float(raw)
    if tag == "str":
        return raw
    raise ValueError(f"unknown cursor tag {tag!r}")


def epoch_to_datetime(value: int | float | str) -> dt.datetime:
    """Epoch seconds or milliseconds as UTC: values below 1e11 (the year 5138 in seconds) are seconds."""
    number = float(value)
    if abs(number) >= 1e11:
        number /= 1000.0
    return dt.datetime.fromtimestamp(number, tz=UTC)


def as_column_value(moment: dt.datetime, arrow_type: pa.DataType) -> Any:
    """A UTC instant in the Python type the delta column compares against."""
    if pa.types.is_timestamp(arrow_type):
        # Delta values without a zone are read as UTC (docs/types.md), so compare naive-to-naive.
        return moment if arrow_type.tz else moment.astimezone(UTC).replace(tzinfo=None)
    if pa.types.is_date(arrow_type):
        return moment.astimezone(UTC).date()
    return moment


def to_epoch_ms(value: Any) -> Any:
    """A window bound as Adobe shows it (`windowStart`/`windowEnd` in epoch ms); others as given."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(aware.timestamp() * 1000)
    if isinstance(value, dt.date):
        return int(dt.datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000)
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass(frozen=True)
class Window:
    """A resolved window; `start`/`end` None means unbounded on that side.

    `nulls`: rows whose delta is NULL are read too. `fence`: only the row versions of these
    transactions (runs/cursor.py), whatever their delta value.
    """

    column: str
    start: Any
    end: Any
    nulls: bool = False
    fence: XidFence | None = None

    @property
    def empty(self) -> bool:
        return self.start is not None and self.end is not None and not self.start < self.end

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"column": self.column, "start": encode(self.start), "end": encode(self.end)}
        if self.nulls:
            out["nulls"] = True
        if self.fence is not None:
            out["fence"] = {"before": self.fence.before, "after": self.fence.after}
        return out


def time_end(*, scheduled: dt.datetime | None, now: dt.datetime, lag_seconds: float, arrow_type: pa.DataType) -> Any:
    """The safe end of a time window: never closer to now than the lag, never past the schedule."""
    safe = now - dt.timedelta(seconds=lag_seconds)
    if scheduled is not None and scheduled < safe:
        safe = scheduled
    return as_column_value(safe, arrow_type)
