"""The run document: Adobe's flow run object as stored in `runs.doc` and shown by the API.

Keys starting with `_` are private (the resolved window); the API never shows them.
"""

from __future__ import annotations

import copy
from typing import Any

from headwater.runs.model import RunStatus
from headwater.runs.window import Window, to_epoch_ms

COPY = "copyActivity"


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
        "trigger": trigger,  # "schedule" | "onDemand"
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
) -> dict[str, Any]:
    """Live figures while the run streams (updated every few seconds), and the connector's notices."""
    out = copy.deepcopy(doc)
    summary = {"inputRecordCount": rows_in, "outputRecordCount": rows_out, "failedRecordCount": 0}
    out["metrics"]["recordSummary"] = summary
    out["metrics"]["sizeSummary"] = {"inputBytes": bytes_in, "outputBytes": bytes_out}
    out["progress"] = {
        "recordsRead": rows_in,
        "bytesRead": bytes_in,
        "recordsWritten": rows_out,
        "bytesWritten": bytes_out,
        "batches": batches,
        "updatedAtUTC": now,
    }
    for activity in out.get("activities", []):
        if activity["id"] == COPY:
            activity["updatedAtUTC"] = now
            activity["recordSummary"] = dict(summary)
            activity["sizeSummary"] = {"inputBytes": bytes_in, "outputBytes": bytes_out}
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
) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    metrics = out["metrics"]
    if status.terminal:
        metrics["durationSummary"]["completedAtUTC"] = now
    if rows_in is not None:
        metrics["recordSummary"] = {
            "inputRecordCount": rows_in,
            "outputRecordCount": rows_out or 0,
            "failedRecordCount": 0,
        }
    if bytes_in is not None:
        metrics["sizeSummary"] = {"inputBytes": bytes_in, "outputBytes": bytes_out or 0}
    if files is not None:
        metrics["fileSummary"] = {"outputFileCount": files}
    errors = [{"code": error[0], "message": error[1]}] if error else []
    metrics["statusSummary"] = {"status": status.value, "errors": errors}
    if status.terminal:
        out.pop("progress", None)
    for activity in out.get("activities", []):
        if activity["id"] == COPY:
            activity["updatedAtUTC"] = now
            if status.terminal:
                activity["durationSummary"]["completedAtUTC"] = now
            activity["recordSummary"] = dict(metrics["recordSummary"])
            activity["sizeSummary"] = dict(metrics["sizeSummary"])
            activity["statusSummary"]["status"] = status.value
            if errors:
                activity["statusSummary"]["errors"] = errors
    return out
