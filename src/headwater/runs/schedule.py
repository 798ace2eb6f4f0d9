"""`scheduleParams` of a flow: validation with Adobe's error codes, and the parsed form everyone reads.

Values are echoed as the client sent them (Adobe's examples send `"startTime": "1612310466"` as a
string and GETs echo strings), so the stored doc keeps the raw values; every reader parses them with
`parse_schedule` into a `Schedule` rather than reading the strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headwater.domain.kinds import Frequency
from headwater.domain.numbers import ascii_int
from headwater.errors import BadRequest

_UNIT_SECONDS = {Frequency.MINUTE: 60, Frequency.HOUR: 3600, Frequency.DAY: 86_400, Frequency.WEEK: 604_800}


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: start (epoch seconds), frequency, interval and backfill.

    The times it fires at are computed by `headwater.runs.scheduler.latest_due`, the one place.
    """

    start_time: int
    frequency: Frequency
    interval: int = 1
    backfill: bool = True

    @property
    def recurring(self) -> bool:
        return self.frequency is not Frequency.ONCE

    @property
    def period_seconds(self) -> int:
        """The time between two runs of a recurring schedule."""
        return _UNIT_SECONDS[self.frequency] * self.interval


def _integer(value: Any, field: str, code: str) -> int:
    if isinstance(value, bool):
        raise BadRequest(f"scheduleParams.{field} must be an integer.", code=code)
    number = ascii_int(value, low=-(2**63), high=2**63 - 1)
    if number is not None:
        return number
    raise BadRequest(f"scheduleParams.{field} must be an integer (or a numeric string).", code=code)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise BadRequest("scheduleParams.backfill must be true or false.", code="1000")


def parse_schedule(params: Any) -> Schedule:
    """Validate `scheduleParams` with the codes of Adobe's source errors (1317, 1361-1364, 1397)."""
    if not isinstance(params, dict) or not params:
        raise BadRequest("scheduleParams cannot be empty: give startTime and frequency.", code="1317")
    unknown = set(params) - {"startTime", "frequency", "interval", "backfill"}
    if unknown:
        raise BadRequest(f"The field scheduleParams.{sorted(unknown)[0]} is not allowed.", code="1000")
    if "startTime" not in params:
        raise BadRequest("The mandatory field scheduleParams.startTime is not provided.", code="1317")
    start = _integer(params["startTime"], "startTime", "1000")
    if start < 0 or start > 32_503_680_000:
        raise BadRequest("scheduleParams.startTime must be epoch seconds between 1970 and 3000.", code="1000")
    given = params.get("frequency")
    if not isinstance(given, str) or given.lower() not in {f.value for f in Frequency}:
        raise BadRequest(f"Invalid frequency {str(given)[:20]!r}: use one of {', '.join(Frequency)}.", code="1397")
    frequency = Frequency(given.lower())
    if frequency is Frequency.ONCE:
        if "interval" in params:
            raise BadRequest("Interval is not allowed with one time ingestion.", code="1361")
        if "backfill" in params:
            raise BadRequest("The backfill flag is not allowed when frequency is set to once.", code="1364")
        return Schedule(start, frequency, 1, True)
    if "interval" not in params:
        raise BadRequest(f"Interval is required with frequency {frequency}.", code="1362")
    interval = _integer(params["interval"], "interval", "1362")
    minimum = 15 if frequency is Frequency.MINUTE else 1
    if interval < minimum:
        raise BadRequest(f"Interval cannot be less than {minimum}.", code="1362")
    if interval > 10_000:
        raise BadRequest(f"Interval {interval} is not allowed with frequency: {frequency}.", code="1363")
    backfill = _boolean(params.get("backfill", True))
    return Schedule(start, frequency, interval, backfill)
