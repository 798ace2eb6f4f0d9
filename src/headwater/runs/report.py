"""The run document: Adobe's flow run object as stored in `runs.doc` and shown by the API.

Keys starting with `_` are private (the resolved window, set-aside rows); the API never shows them.

Record counts tell what happened, never what was hoped for: `inputRecordCount` is the rows read
from the source by the attempt, `failedRecordCount` the rows set aside (partial ingestion), and
`outputRecordCount`/`outputBytes`/`outputFileCount` only what a committed snapshot holds. Rows
written to Parquet but not yet committed are shown in `progress.recordsWritten` while the run
streams; a run that fails or is cancelled committed nothing, so its output figures are 0.

`progress.estimatedTotalRecords` (Headwater extension) is the source's own row estimate, given when
the run reads the whole table (no lower window bound, no row filter), so clients can show a
percentage and an ETA; it is absent when the source keeps no statistics (views, never-analyzed tables).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from headwater.connectors._estimates import estimate_rows
from headwater.runs.model import RunStatus
from headwater.runs.partial import SetAside
from headwater.runs.window import Window, to_epoch_ms

if TYPE_CHECKING:
    from headwater.runs.plan import FlowPlan

COPY = "copyActivity"
ESTIMATE = "estimatedTotalRecords"
_ESTIMATE_KEPT = "_estimatedTotalRecords"


def new_doc(
    *,
    flow_spec: dict[str, Any],
    trigger: str,
    params: dict[str, Any] | None = None,
    audit: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A pending run's document."""
    doc: dict[str, Any] = {
        "flowSpec": flow_spec,
        "trigger": trigger,  # "schedule" | "onDemand" | "runNow" (a recurring flow's next window, now)
        "metrics": {
            "durationSummary": {},
            "sizeSummary": {"inputBytes": 0, "outputBytes": 0},
            "recordSummary": {"inputRecordCount": 0, "outputRecordCount": 0, "failedRecordCount": 0},
            "statusSummary": {"status": RunStatus.PENDING.value, "errors": []},
        },
        "activities": [],
        **(audit or {}),
    }
    if params is not None:
        doc["params"] = params
    return doc


def started(doc: dict[str, Any], *, now: int, attempt: int) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    metrics = out["metrics"]
    metrics["durationSummary"].setdefault("startedAtUTC", now)
    metrics["durationSummary"].pop("completedAtUTC", None)
    metrics["statusSummary"] = {"status": RunStatus.IN_PROGRESS.value, "errors": [], "attempt": attempt}
    return out


def with_window(doc: dict[str, Any], window: Window | None, *, incremental: bool, now: int) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    extensions: dict[str, Any] = {}
    if window is not None:
        out["_window"] = window.to_json()
        extensions = {"windowStart": to_epoch_ms(window.start), "windowEnd": to_epoch_ms(window.end)}
    activity = {
        "id": COPY,
        "updatedAtUTC": now,
        "durationSummary": {"startedAtUTC": now, "extensions": extensions},
        "sizeSummary": {"inputBytes": 0, "outputBytes": 0},
        "recordSummary": {"inputRecordCount": 0, "outputRecordCount": 0, "failedRecordCount": 0},
        "statusSummary": {
            "status": RunStatus.IN_PROGRESS.value,
            "extensions": {"type": "incremental" if incremental else "one-time"},
        },
    }
    out["activities"] = [activity]
    return out


def with_estimate(doc: dict[str, Any], plan: FlowPlan, window: Window | None) -> dict[str, Any]:
    """The source's row estimate, kept until `progressed` shows it, when this read covers the whole table.

    A window with a lower bound or a row filter reads a part of the table whose size the source's
    statistics do not tell, and a wrong total is worse than none. It is kept privately so that
    `progress` appears, whole, with the first live figures.
    """
    out = copy.deepcopy(doc)
    out.pop(_ESTIMATE_KEPT, None)  # an earlier attempt's
    whole = plan.row_filter is None and (window is None or window.start is None)
    estimate = estimate_rows(plan.connector, plan.auth, plan.table) if whole else None
    if estimate is not None:
        out[_ESTIMATE_KEPT] = estimate
    return out


def progressed(
    doc: dict[str, Any],
    *,
    now: int,
    rows_in: int,
    bytes_in: int,
    rows_out: int,
    bytes_out: int,
    batches: int,
    notices: list[str] | None = None,
    failed: int = 0,
) -> dict[str, Any]:
    """Live figures while the run streams (updated every few seconds), and the connector's notices."""
    out = copy.deepcopy(doc)
    estimate = out.get(_ESTIMATE_KEPT)
    # Nothing is committed before the run ends: written rows are staged, shown under `progress`.
    summary = {"inputRecordCount": rows_in, "outputRecordCount": 0, "failedRecordCount": failed}
    out["metrics"]["recordSummary"] = summary
    out["metrics"]["sizeSummary"] = {"inputBytes": bytes_in, "outputBytes": 0}
    out["progress"] = {
        "recordsRead": rows_in,
        "bytesRead": bytes_in,
        "recordsWritten": rows_out,
        "bytesWritten": bytes_out,
        "recordsFailed": failed,
        "batches": batches,
        "updatedAtUTC": now,
    }
    if estimate is not None:
        out["progress"][ESTIMATE] = estimate
    for activity in out.get("activities", []):
        if activity["id"] == COPY:
            activity["updatedAtUTC"] = now
            activity["recordSummary"] = dict(summary)
            activity["sizeSummary"] = {"inputBytes": bytes_in, "outputBytes": 0}
            if notices:
                activity["statusSummary"]["extensions"]["notices"] = list(notices)
    return out


def finished(
    doc: dict[str, Any],
    *,
    status: RunStatus,
    now: int,
    rows_in: int | None = None,
    bytes_in: int | None = None,
    rows_out: int | None = None,
    bytes_out: int | None = None,
    files: int | None = None,
    error: tuple[str, str] | None = None,
    set_aside: SetAside | None = None,
) -> dict[str, Any]:
    """The document of a run that ended (or returns to pending for a retry).

    Only a success reports output: any other status committed nothing, so its output figures are 0
    whatever was staged. Input figures are kept as read (the last progress report when not given).
    """
    out = copy.deepcopy(doc)
    metrics = out["metrics"]
    if status.terminal:
        metrics["durationSummary"]["completedAtUTC"] = now
    previous = metrics.get("recordSummary", {})
    committed = status is RunStatus.SUCCESS
    failed = set_aside.count if set_aside is not None else int(previous.get("failedRecordCount", 0))
    metrics["recordSummary"] = {
        "inputRecordCount": rows_in if rows_in is not None else int(previous.get("inputRecordCount", 0)),
        "outputRecordCount": (rows_out or 0) if committed else 0,
        "failedRecordCount": failed,
    }
    read_bytes = bytes_in if bytes_in is not None else int(metrics.get("sizeSummary", {}).get("inputBytes", 0))
    metrics["sizeSummary"] = {"inputBytes": read_bytes, "outputBytes": (bytes_out or 0) if committed else 0}
    if files is not None or not committed:
        metrics["fileSummary"] = {"outputFileCount": (files or 0) if committed else 0}
    errors = [{"code": error[0], "message": error[1]}] if error else []
    metrics["statusSummary"] = {"status": status.value, "errors": errors}
    if set_aside is not None and set_aside.count:
        set_aside.report(out, committed=committed, rows_out=rows_out or 0)
    if status.terminal:
        out.pop("progress", None)
        out.pop(_ESTIMATE_KEPT, None)
    for activity in out.get("activities", []):
        if activity["id"] == COPY:
            activity["updatedAtUTC"] = now
            if status.terminal:
                activity["durationSummary"]["completedAtUTC"] = now
            activity["recordSummary"] = dict(metrics["recordSummary"])
            activity["sizeSummary"] = dict(metrics["sizeSummary"])
            activity["statusSummary"]["status"] = status.value
            if metrics["statusSummary"]["errors"]:
                activity["statusSummary"]["errors"] = list(metrics["statusSummary"]["errors"])
    return out
