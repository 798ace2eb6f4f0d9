"""Seeds one sandbox at scale through the service and store layers (not HTTP), for bench/load_read.py.

Connections go through `ConnectionService.create` (secrets sealed as the API seals them); flows and
runs are written straight to the store and the runs table, shaped as the services write them, since
creating 10,000 flows through the API would describe the source table 10,000 times.
"""

from __future__ import annotations

import time
from typing import Any

from _common import CRM_TO_AEP, LAKE_SPEC, PG_SPEC
from sqlalchemy import create_engine, text, update

ONE_HOUR_FROM_2100 = {"startTime": "4102444800", "frequency": "hour", "interval": "1"}  # never due in a bench


def seed(settings: Any, org: str, *, connections: int, flows: int, runs: int) -> dict[str, Any]:
    """Create `connections`, `flows` (sharing 100 source/target pairs) and `runs` spread over the flows."""
    from headwater.identity import Principal
    from headwater.runs.ledger import Ledger
    from headwater.runs.report import new_doc
    from headwater.runs.scheduler import Scheduler
    from headwater.service import Context
    from headwater.service.assembly import Services
    from headwater.store import Scope, Store
    from headwater.store.tables import runs as runs_table

    began = time.perf_counter()
    url = settings.resolved_database_url
    if url.startswith("postgresql"):
        # Seeding commits row by row through the services; not waiting for each WAL flush makes it
        # minutes faster, and the server measured afterwards uses its own, normal connections.
        engine = create_engine(url, connect_args={"options": "-c synchronous_commit=off"})
        svc = Services(settings, store=Store(engine))
    else:
        svc = Services(settings)
    svc.migrate()
    scope = Scope(org, "prod")
    ctx = Context(principal=Principal("bench", org), scope=scope, request_id="seed")
    pg = {"id": PG_SPEC, "version": "1.0"}
    conn_ids = []
    for i in range(connections):
        params = {"server": "127.0.0.1", "port": 15432, "database": "postgres", "username": "postgres",
                  "password": f"scale-{i}", "sslMode": "Disable"}  # fmt: skip
        body = {"name": f"pg {i}", "auth": {"specName": "Basic Authentication", "params": params}, "connectionSpec": pg}
        conn_ids.append(svc.connections.create(ctx, body)["id"])
    (dataset_ref,) = svc.datasets.create(ctx, {"name": "scale ds"})
    dataset_id = dataset_ref.rsplit("/", 1)[-1]
    pairs = []
    for i in range(min(100, flows)):
        src = svc.source_connections.create(
            ctx,
            {
                "name": f"src {i}",
                "baseConnectionId": conn_ids[i % len(conn_ids)],
                "params": {"tableName": f"t{i}"},
                "connectionSpec": pg,
            },
        )
        tgt = svc.target_connections.create(
            ctx,
            {
                "name": f"tgt {i}",
                "params": {"dataSetId": dataset_id},
                "connectionSpec": {"id": LAKE_SPEC, "version": "1.0"},
            },
        )
        pairs.append((src["id"], tgt["id"]))
    audit = {
        "createdBy": "bench@AdobeID",
        "createdClient": "bench",
        "updatedBy": "bench@AdobeID",
        "updatedClient": "bench",
    }
    flow_ids = []
    for i in range(flows):
        src_id, tgt_id = pairs[i % len(pairs)]
        doc = {
            "name": f"flow {i}",
            "description": "",
            "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
            "state": "enabled",
            "sourceConnectionIds": [src_id],
            "targetConnectionIds": [tgt_id],
            "transformations": [],
            "scheduleParams": dict(ONE_HOUR_FROM_2100),
            **audit,
            "lastOperation": {"started": 0, "updated": 0, "operation": "create"},
        }
        flow_id = f"{i:08d}-0000-4000-8000-{i:012d}"
        svc.store.insert("flow", scope, id=flow_id, doc=doc)
        flow_ids.append(flow_id)
    ledger = Ledger(svc.store)
    start_ms = 1_700_000_000_000
    batch: list[dict[str, Any]] = []
    for i in range(runs):
        flow_id = flow_ids[i % len(flow_ids)]
        doc = new_doc(flow_spec={"id": CRM_TO_AEP, "version": "1.0"}, trigger="schedule")
        doc["metrics"]["durationSummary"] = {"startedAtUTC": start_ms + i, "completedAtUTC": start_ms + i + 1000}
        doc["metrics"]["statusSummary"]["status"] = "success"
        batch.append({"run_id": f"{i:08d}-1111-4000-8000-{i:012d}", "scope": scope, "flow_id": flow_id,
                      "scheduled_at": start_ms + (i // len(flow_ids)) * 3_600_000, "doc": doc})  # fmt: skip
        if len(batch) == 5000:
            ledger.insert_many(batch)
            batch = []
    if batch:
        ledger.insert_many(batch)
    with svc.store.begin() as conn:
        # Each run ended an hour after it was scheduled, as finished runs do (distinct end times).
        conn.execute(update(runs_table).values(status="success", updated_at=runs_table.c.scheduled_at + 3_600_000))
    if url.startswith("postgresql"):
        # The planner's statistics, as autovacuum would gather them soon after a bulk load: without
        # them PostgreSQL plans the seeded tables as if they were empty.
        with svc.store.begin() as conn:
            conn.execute(text("ANALYZE"))
    # One scheduler tick now, as a running server's first would: no flow is due (they start in 2100).
    Scheduler(svc.store).tick()
    svc.store.engine.dispose()
    return {"connection": conn_ids[len(conn_ids) // 2], "flow": flow_ids[len(flow_ids) // 2],
            "seconds": time.perf_counter() - began}  # fmt: skip
