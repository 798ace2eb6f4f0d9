"""The run ids, figures and cursors that Headwater records in Iceberg snapshot summaries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyiceberg.table.snapshots import Snapshot, ancestors_of

if TYPE_CHECKING:
    from pyiceberg.table import Table

RUN_ID = "headwater.run-id"
FLOW_ID = "headwater.flow-id"
CURSOR = "headwater.cursor"


@dataclass(frozen=True, slots=True)
class CommitResult:
    """What one run committed: read back from its snapshot, so a retry reports the same figures."""

    rows: int
    bytes: int
    files: int
    snapshot_id: int
    already_committed: bool
    cursor: dict[str, Any] | None


def history(table: Table) -> Iterator[Snapshot]:
    return iter(ancestors_of(table.current_snapshot(), table.metadata))


def find_run(table: Table, run_id: str) -> CommitResult | None:
    for snapshot in history(table):
        if snapshot.summary is not None and snapshot.summary[RUN_ID] == run_id:
            return result_of(snapshot, already_committed=True)
    return None


def result_of(snapshot: Snapshot, *, already_committed: bool) -> CommitResult:
    summary = snapshot.summary
    assert summary is not None

    def number(key: str) -> int:
        return int(summary[key] or 0)

    return CommitResult(
        rows=number("added-records"),
        bytes=number("added-files-size"),
        files=number("added-data-files"),
        snapshot_id=snapshot.snapshot_id,
        already_committed=already_committed,
        cursor=cursor_of(snapshot),
    )


def cursor_of(snapshot: Snapshot) -> dict[str, Any] | None:
    raw = snapshot.summary[CURSOR] if snapshot.summary is not None else None
    return json.loads(raw) if raw else None
