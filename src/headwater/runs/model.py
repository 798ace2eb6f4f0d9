"""The run state machine and the one function that maps exceptions to run status.

Statuses are the lowerCamel strings Adobe emits, shown as-is in `metrics.statusSummary.status`:

    pending ──claim──▶ inProgress ──▶ success | failed | cancelled
       ▲                   │
       └──── retry ────────┘   (TransientError, with exponential backoff; a lost lease also
                                returns the run to be claimed again by another worker)
    failed | cancelled ──RE_TRIGGER──▶ pending

A freshly created run (scheduled or on demand) is `pending`. Adobe's newest docs show `scheduled`
for a just-created on-demand run; Headwater keeps to the five statuses above (pending, inProgress,
success, failed, cancelled) so clients see one vocabulary everywhere.
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.exc import InterfaceError, OperationalError

from headwater.errors import ConfigError, HeadwaterError, TransientError
from headwater.lake import store_unavailable
from headwater.settings import RunSettings

log = logging.getLogger("headwater.runs")


class RunStatus(StrEnum):
    """The status of a run (the `status` column and `metrics.statusSummary.status`)."""

    PENDING = "pending"
    IN_PROGRESS = "inProgress"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.CANCELLED)


class RunEvent(StrEnum):
    """What happened to a run."""

    CLAIM = "claim"
    SUCCEED = "succeed"
    FAIL = "fail"
    RETRY = "retry"
    CANCEL = "cancel"
    RETRIGGER = "retrigger"


class InvalidTransition(HeadwaterError):
    """An event that the run's current status does not allow."""

    status = 409
    code = "1387"
    title = "Invalid run state"


_TRANSITIONS: dict[tuple[RunStatus, RunEvent], RunStatus] = {
    (RunStatus.PENDING, RunEvent.CLAIM): RunStatus.IN_PROGRESS,
    # A worker that lost its lease (killed, partitioned) leaves the run inProgress; the next claim
    # takes it over without passing through pending.
    (RunStatus.IN_PROGRESS, RunEvent.CLAIM): RunStatus.IN_PROGRESS,
    (RunStatus.IN_PROGRESS, RunEvent.SUCCEED): RunStatus.SUCCESS,
    (RunStatus.IN_PROGRESS, RunEvent.FAIL): RunStatus.FAILED,
    (RunStatus.IN_PROGRESS, RunEvent.RETRY): RunStatus.PENDING,
    (RunStatus.IN_PROGRESS, RunEvent.CANCEL): RunStatus.CANCELLED,
    (RunStatus.PENDING, RunEvent.CANCEL): RunStatus.CANCELLED,
    (RunStatus.FAILED, RunEvent.RETRIGGER): RunStatus.PENDING,
    (RunStatus.CANCELLED, RunEvent.RETRIGGER): RunStatus.PENDING,
}


def transition(current: RunStatus | str, event: RunEvent) -> RunStatus:
    """The one place that owns run status changes; raises InvalidTransition."""
    status = RunStatus(current)
    try:
        return _TRANSITIONS[(status, event)]
    except KeyError:
        raise InvalidTransition(f"A run in status {status} cannot {event}.") from None


def claimable_from(event: RunEvent) -> tuple[RunStatus, ...]:
    """Statuses from which `event` is allowed (used to build compare-and-set WHERE clauses)."""
    return tuple(s for (s, e) in _TRANSITIONS if e == event)


class Stage(StrEnum):
    """Where a run failed; decides the Adobe error code family."""

    SOURCE = "source"  # resolving credentials, reading the source: CONNECTOR-1001
    PROCESS = "process"  # mapping, writing the lake: CONNECTOR-2001


@dataclass(frozen=True)
class Decision:
    """What to do with a run after an exception."""

    event: RunEvent
    code: str
    message: str
    retry_in_seconds: float = 0.0


def decide(exc: BaseException, *, stage: Stage, attempt: int, settings: RunSettings) -> Decision:
    """Map an exception to the run's next status: the only such mapping.

    ConfigError: the user must act, fail now. TransientError: retry with exponential backoff
    until `max_attempts`. Anything else: fail; the traceback goes to the log, never the API.
    """
    family = "CONNECTOR-1001" if stage is Stage.SOURCE else "CONNECTOR-2001"
    exc = _classify_infrastructure(exc)
    if isinstance(exc, ConfigError):
        return Decision(RunEvent.FAIL, f"{family}-400", exc.message)
    if isinstance(exc, TransientError):
        if attempt < settings.max_attempts:
            delay = min(settings.backoff_max_seconds, settings.backoff_base_seconds * 2 ** (attempt - 1))
            return Decision(RunEvent.RETRY, f"{family}-503", exc.message, delay)
        return Decision(RunEvent.FAIL, f"{family}-503", f"{exc.message} (gave up after {attempt} attempts)")
    if isinstance(exc, HeadwaterError):
        return Decision(RunEvent.FAIL, f"{family}-{exc.status}", exc.message)
    log.error("run failed with an unexpected error at stage %s", stage, exc_info=exc)
    what = "copying the data from the source" if stage is Stage.SOURCE else "processing the copied data"
    return Decision(RunEvent.FAIL, f"{family}-500", f"Internal error while {what}; see the server log.")


def _classify_infrastructure(exc: BaseException) -> BaseException:
    """Give failures of Headwater's own infrastructure a clear meaning before `decide` maps them.

    The metadata database (which also holds the Iceberg catalog) or the warehouse's object store
    going away is transient: the commit is retried and, being idempotent per run id, never lands
    twice. A full warehouse disk is not: an operator must free space, then RE_TRIGGER the run; the
    message says exactly that.
    Messages never include the driver's text, which may carry a connection URL.
    """
    if isinstance(exc, OperationalError | InterfaceError):
        return TransientError("The metadata database is unreachable; the run will be retried.")
    if store_unavailable(exc):
        return TransientError(
            "The data lake's object store is unreachable or busy; nothing was committed and the run will be retried."
        )
    # pyarrow raises OSError without errno set, the errno only in its message.
    if isinstance(exc, OSError) and (exc.errno == errno.ENOSPC or "No space left on device" in str(exc)):
        return ConfigError(
            "No space left on the device holding the data lake warehouse; nothing was committed. "
            "Free space, then re-trigger the run."
        )
    return exc
