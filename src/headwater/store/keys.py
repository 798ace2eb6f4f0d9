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


# `resources.name_order` (migration 0007 computes it in SQL; `name_order` below is the same rule):
# a rank character, then the name. Lists order names as service/_query.py `position_of` does,
# missing first (rank 0), numbers next (1), then text by code point (2); ties by id.
NAME_ORDER_SIZE = 255
# Names SQL cannot place exactly (numbers, other non-text values, text longer than the column or
# holding NUL) are marked with the empty string, which no placed name has: a list that would hold
# one sorts in memory instead.
UNORDERED = ""


def name_order(doc: dict[str, Any]) -> str:
    """The `name_order` value the database computes for a row holding `doc`."""
    name = doc.get("name")
    if name is None:
        return "0"
    if isinstance(name, str) and len(name) <= NAME_ORDER_SIZE and "\x00" not in name:
        return "2" + name
    return UNORDERED


def order_position(rank: int, value: Any) -> str | None:
    """The `name_order` text that a list position (rank, value) stands at, None if SQL cannot say.

    A number's position (from a page sorted in memory) falls between every missing name and every
    text: no row's `name_order` is "1".
    """
    if rank in (0, 1):
        return str(rank)
    if rank == 2 and isinstance(value, str) and "\x00" not in value:
        return "2" + value
    return None
