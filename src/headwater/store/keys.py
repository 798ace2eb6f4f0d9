"""The index columns of a resource row, derived from its doc on every write.

A key is the lower-cased text of one doc field (list filters compare text case-insensitively), or
NULL when the field is absent, not text, or longer than its column: a filter whose value is longer
than a column is evaluated in memory instead, so a NULL key never hides a match.
"""

from __future__ import annotations

from typing import Any

KEY_SIZES = {"name_key": 255, "state_key": 64, "spec_key": 64, "ref_key": 64}


def fits(column: str, value: str) -> bool:
    """Whether a lower-cased filter value can be compared with `column` (else it is filtered in memory)."""
    return len(value.lower()) <= KEY_SIZES[column]


def _key(value: Any, column: str) -> str | None:
    if not isinstance(value, str):
        return None
    lowered = value.lower()
    return lowered if len(lowered) <= KEY_SIZES[column] else None


def referenced_id(kind: str, doc: dict[str, Any]) -> Any:
    """The one resource a row names, kept in `ref_key`: a source connection's base connection, a target
    connection's dataset (target connections have no base connection), so "who uses X" is an index lookup."""
    if kind == "targetConnection":
        params = doc.get("params")
        return params.get("dataSetId") if isinstance(params, dict) else None
    return doc.get("baseConnectionId")


def index_keys(kind: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The key columns of a row of `kind` holding `doc`; a flow write also asks the scheduler to look."""
    spec = doc.get("connectionSpec") or doc.get("flowSpec")
    keys: dict[str, Any] = {
        "name_key": _key(doc.get("name"), "name_key"),
        "state_key": _key(doc.get("state"), "state_key"),
        "spec_key": _key(spec.get("id") if isinstance(spec, dict) else None, "spec_key"),
        "ref_key": _key(referenced_id(kind, doc), "ref_key"),
    }
    # Any change to a flow (create, patch, enable, disable) may change when it is due: 0 makes the
    # scheduler's next tick compute it again (runs/scheduler.py owns the arithmetic).
    keys["next_due_at"] = 0 if kind == "flow" else None
    return keys
