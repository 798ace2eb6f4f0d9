"""What a dataset's view shows of its Iceberg table (columns, data files, current snapshot), kept in the
metadata store.

Reading it from the lake costs a catalog load and a scan plan per dataset, so lists of datasets read
it from the `lake_facts` column instead. It is written when a dataset is created and after every
run (whatever the run's outcome: a first run may create the table and then fail), and read from
the lake again when missing (datasets stored before it existed, or a refresh that failed).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from headwater.domain.kinds import ResourceKind
from headwater.domain.type_names import type_name_of
from headwater.lake import FLOW_ID, RUN_ID, Lake
from headwater.runs.plan import lake_ident
from headwater.store import Record, Scope, Store

if TYPE_CHECKING:
    from pyiceberg.table.snapshots import Snapshot

log = logging.getLogger("headwater.runs.dataset_facts")


def columns_of(schema: pa.Schema) -> list[dict[str, str]]:
    return [{"name": f.name, "type": type_name_of(f.type), "arrowType": str(f.type)} for f in schema]


def snapshot_facts(snapshot: Snapshot | None) -> dict[str, Any] | None:
    """The current snapshot's id and commit time, and the run and flow that committed it (if a run did)."""
    if snapshot is None:
        return None
    out: dict[str, Any] = {"id": str(snapshot.snapshot_id), "committed": snapshot.timestamp_ms}
    summary = snapshot.summary
    for key, name in ((RUN_ID, "runId"), (FLOW_ID, "flowId")):
        value = summary[key] if summary is not None else None
        if value:
            out[name] = value
    return out


def read_facts(lake: Lake, dataset: Record) -> dict[str, Any]:
    """The view's `schema`, data file count and current `snapshot`, read from the lake."""
    ident = lake_ident(dataset)
    if not lake.exists(ident):
        return {"schema": None, "dataFiles": 0, "snapshot": None}
    # Three reads of the table: a run committing between them may leave these facts mixed, but they are
    # older than the refresh that follows that run (refresh_after_run), which replaces them.
    snapshot = snapshot_facts(lake.current_snapshot(ident))
    return {
        "schema": {"columns": columns_of(lake.schema(ident))},
        "dataFiles": len(lake.data_files(ident)),
        "snapshot": snapshot,
    }


def refresh_facts(store: Store, lake: Lake, dataset: Record) -> dict[str, Any]:
    """Read a dataset's facts from the lake and keep them (unless facts read later are kept already)."""
    as_of = time.time_ns()
    facts = read_facts(lake, dataset)
    store.save_lake_facts(dataset.id, facts, as_of=as_of)
    return facts


def refresh_after_run(store: Store, lake: Lake, scope: Scope, flow_id: str) -> None:
    """After a run of `flow_id`, refresh its dataset's facts; a failure forgets them (read again on view)."""
    dataset = None
    try:
        flow = store.get(ResourceKind.FLOW, scope, flow_id)
        target_ids = flow.doc.get("targetConnectionIds", []) if flow else []
        target = store.get(ResourceKind.TARGET_CONNECTION, scope, target_ids[0]) if target_ids else None
        dataset_id = (target.doc.get("params") or {}).get("dataSetId") if target else None
        dataset = store.get(ResourceKind.DATASET, scope, dataset_id) if dataset_id else None
        if dataset is not None:
            refresh_facts(store, lake, dataset)
    except Exception:
        log.warning("could not refresh the dataset facts after a run of flow %s", flow_id, exc_info=True)
        if dataset is not None:
            try:
                store.save_lake_facts(dataset.id, None, as_of=time.time_ns())
            except Exception:
                log.warning("could not forget the dataset facts of %s", dataset.id, exc_info=True)
