"""A minimal PostgreSQL reader for run-engine tests, and helpers to seed flows into a store.

The run engine is tested against a real PostgreSQL source table. When the production connector
(`headwater.connectors.postgres`) can read, the tests use it; until then this small reader, which
honours the same ReadRequest contract (columns, half-open delta window), stands in.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pyarrow as pa
from pydantic import BaseModel

from headwater.connectors.base import Connector
from headwater.connectors.postgres import SPEC
from headwater.domain import ColumnInfo, ReadRequest, TableSchema
from headwater.errors import NotFound, TransientError
from headwater.identity import Principal
from headwater.service import Context, Services
from headwater.store import Record, Scope

PG_ADMIN_DSN = os.environ.get("HEADWATER_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
ORG = "5C1328435BF324E90A49402A@AdobeOrg"
SCOPE = Scope(ORG, "prod")
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"

_TYPES = {
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "text": pa.string(),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "timestamp without time zone": pa.timestamp("us"),
    "date": pa.date32(),
    "double precision": pa.float64(),
}


class PgTestConnector:
    """Reads a PostgreSQL table with psycopg into Arrow batches (tests only)."""

    spec = SPEC

    def __init__(self, dsn: str, *, fail_reads: int = 0) -> None:
        self.dsn = dsn
        self.fail_reads = fail_reads  # the first N reads raise TransientError (connection lost)
        self.reads = 0

    def check(self, auth: BaseModel) -> None:
        return None

    def list_objects(self, auth: BaseModel) -> list[Any]:
        return []

    def preview(self, auth: BaseModel, table: str, *, limit: int = 100) -> Any:
        raise NotImplementedError

    def describe(self, auth: BaseModel, table: str) -> TableSchema:
        schema, _, name = table.rpartition(".")
        with psycopg.connect(self.dsn) as conn:
            rows = conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (schema or "public", name),
            ).fetchall()
        if not rows:
            raise NotFound("table", table)
        cols = tuple(ColumnInfo(n, t, _TYPES[t], "string", {"type": "string"}) for n, t in rows)
        return TableSchema(table, cols)

    def read(self, auth: BaseModel, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        self.reads += 1
        if self.reads <= self.fail_reads:
            raise TransientError("The connection to the source was lost (test).")
        schema = self.describe(auth, request.table).arrow_schema
        if request.columns:
            schema = pa.schema([schema.field(c) for c in request.columns])
        cols = ", ".join(f'"{c}"' for c in schema.names)
        table = ".".join(f'"{p}"' for p in request.table.split("."))
        sql, args = f"SELECT {cols} FROM {table}", []
        window = request.window
        if window is not None:
            conds = []
            if window.start is not None:
                conds.append(f'"{window.column}" >= %s')
                args.append(window.start)
            if window.end is not None:
                conds.append(f'"{window.column}" < %s')
                args.append(window.end)
            if conds:
                sql += " WHERE " + " AND ".join(conds)
        with psycopg.connect(self.dsn) as conn, conn.cursor(name=f"c{uuid.uuid4().hex[:8]}") as cur:
            cur.execute(sql, args)
            while True:
                rows = cur.fetchmany(min(request.batch_rows, 2000))
                if not rows:
                    return
                arrays = [pa.array([r[i] for r in rows], type=f.type) for i, f in enumerate(schema)]
                yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def connector_for(dsn: str) -> Connector:
    return PgTestConnector(dsn)


@dataclass
class SourceDb:
    """A throwaway PostgreSQL database holding the source tables."""

    name: str
    dsn: str
    url: str

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.dsn, autocommit=True)


def create_database(prefix: str) -> SourceDb:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return SourceDb(name, f"host=127.0.0.1 port=5432 user=postgres dbname={name}",
                    f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")


def drop_database(db: SourceDb) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')


def context() -> Context:
    return Context(principal=Principal("test-client", ORG), scope=SCOPE, request_id="test")


def seed_flow(
    svc: Services,
    *,
    source_db: str,
    table: str,
    delta: str | None,
    frequency: str = "minute",
    interval: int = 15,
    start_time: int = 1_600_000_000,
    backfill: bool = True,
    columns: list[str] | None = None,
    mapping_id: str | None = None,
    state: str = "enabled",
    port: int = 5432,
) -> Record:
    """Insert a connection, source and target connections, a dataset and a flow; returns the flow.

    `port` is the stored connection's: runs that read with the test reader never use it.
    """
    store = svc.store
    conn = svc.connections.create(context(), {
        "name": "pg",
        "auth": {"specName": "Basic Authentication", "params": {
            "server": "127.0.0.1", "port": str(port), "database": source_db, "username": "postgres",
            "password": "unused", "sslMode": "Disable",
        }},
        "connectionSpec": {"id": SPEC.id, "version": "1.0"},
    })
    params: dict[str, Any] = {"tableName": table}
    if columns:
        params["columns"] = [{"name": c} for c in columns]
    src = store.insert("sourceConnection", SCOPE, id=str(uuid.uuid4()), doc={
        "name": "src", "baseConnectionId": conn["id"], "data": {"format": "tabular"}, "params": params,
        "connectionSpec": {"id": SPEC.id, "version": "1.0"}, "state": "enabled",
    })
    dataset_id = uuid.uuid4().hex[:24]
    store.insert("dataSet", SCOPE, id=dataset_id, doc={
        "name": "ds", "description": "", "_iceberg": {"namespace": "hw_test", "table": f"ds_{dataset_id}"},
    })
    tgt = store.insert("targetConnection", SCOPE, id=str(uuid.uuid4()), doc={
        "name": "tgt", "data": {}, "params": {"dataSetId": dataset_id},
        "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}, "state": "enabled",
    })
    transformations: list[dict[str, Any]] = []
    if delta:
        transformations.append({"name": "Copy", "params": {"deltaColumn": {"name": delta}}})
    if mapping_id:
        transformations.append({"name": "Mapping", "params": {"mappingId": mapping_id, "mappingVersion": 0}})
    schedule: dict[str, Any] = {"startTime": str(start_time), "frequency": frequency}
    if frequency != "once":
        schedule |= {"interval": str(interval), "backfill": "true" if backfill else "false"}
    return store.insert("flow", SCOPE, id=str(uuid.uuid4()), doc={
        "name": "flow", "description": "", "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"}, "state": state,
        "sourceConnectionIds": [src.id], "targetConnectionIds": [tgt.id], "transformations": transformations,
        "scheduleParams": schedule,
    })


def dataset_ident(svc: Services, flow: Record) -> Any:
    from headwater.lake import DatasetIdent

    tgt = svc.store.get("targetConnection", SCOPE, flow.doc["targetConnectionIds"][0])
    assert tgt is not None
    ds = svc.store.get("dataSet", SCOPE, tgt.doc["params"]["dataSetId"])
    assert ds is not None
    return DatasetIdent(ds.doc["_iceberg"]["namespace"], ds.doc["_iceberg"]["table"])
