"""Run-engine test helpers: a throwaway PostgreSQL source database, and flows created through the services.

Flows are created with the same validation as the API (`Services.flows.create`), so a run test starts
from a flow the API would have accepted, read by the production `PostgresConnector`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from headwater.identity import Principal
from headwater.lake import DatasetIdent
from headwater.runs.plan import lake_ident
from headwater.runs.task import RunDeps
from headwater.service import Context, Services
from headwater.settings import RunSettings
from headwater.store import Record, Scope
from tests.support.ids import CRM_TO_AEP, LAKE_SPEC, ORG, PG_SPEC
from tests.support.pg import PG_ADMIN_DSN

SCOPE = Scope(ORG, "prod")
# Run settings that make leases, retries and progress reports fast enough for tests.
FAST = RunSettings(
    safety_lag_seconds=0.5,
    lease_seconds=2.0,
    heartbeat_seconds=0.5,
    backoff_base_seconds=0.05,
    progress_seconds=0.0,
    poll_seconds=0.1,
    # One chunk per transaction, so tests count the reads they stage (tests/connectors/postgres/
    # test_pg_chunk_join.py and test_resume.py's joined run check the joins).
    chunk_seconds=0.0,
)
SOURCE_HOST, SOURCE_PORT = "127.0.0.1", 5432
MakeDeps = Callable[..., RunDeps]  # the `make_deps` fixture


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
    return SourceDb(
        name,
        f"host={SOURCE_HOST} port={SOURCE_PORT} user=postgres dbname={name}",
        f"postgresql+psycopg://postgres@{SOURCE_HOST}:{SOURCE_PORT}/{name}",
    )


def drop_database(db: SourceDb) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')


class PortForward:
    """Forwards a fresh loopback port to the local PostgreSQL server.

    Headwater refuses tenant connections to its own metadata database's endpoint. Tests whose
    metadata database is the local server reach the same server as a source through this port,
    which the deny list does not cover (a loopback rule is per port).
    """

    def __init__(self, host: str = SOURCE_HOST, port: int = SOURCE_PORT) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, name="pg-forward", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()


def context() -> Context:
    return Context(principal=Principal("test-client", ORG), scope=SCOPE, request_id="test")


def create_flow(
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
    port: int = SOURCE_PORT,
    date_format: str | None = None,
) -> Record:
    """Create a connection, source and target connections, a dataset and a flow as a client would."""
    ctx = context()
    connection = svc.connections.create(
        ctx,
        {
            "name": "pg",
            "auth": {
                "specName": "Basic Authentication",
                "params": {
                    "server": SOURCE_HOST,
                    "port": str(port),
                    "database": source_db,
                    "username": "postgres",
                    "password": "unused-with-trust",
                    "sslMode": "Disable",
                },
            },
            "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
        },
    )
    params: dict[str, Any] = {"tableName": table}
    if columns:
        params["columns"] = [{"name": c} for c in columns]
    source = svc.source_connections.create(
        ctx,
        {
            "name": "src",
            "baseConnectionId": connection["id"],
            "params": params,
            "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
        },
    )
    (dataset_ref,) = svc.datasets.create(ctx, {"name": "ds"})
    target = svc.target_connections.create(
        ctx,
        {
            "name": "tgt",
            "params": {"dataSetId": dataset_ref.rsplit("/", 1)[-1]},
            "connectionSpec": {"id": LAKE_SPEC, "version": "1.0"},
        },
    )
    transformations: list[dict[str, Any]] = []
    if delta:
        column: dict[str, Any] = {"name": delta} | ({"dateFormat": date_format} if date_format else {})
        transformations.append({"name": "Copy", "params": {"deltaColumn": column}})
    if mapping_id:
        transformations.append({"name": "Mapping", "params": {"mappingId": mapping_id, "mappingVersion": 0}})
    schedule: dict[str, Any] = {"startTime": str(start_time), "frequency": frequency}
    if frequency != "once":
        schedule |= {"interval": str(interval), "backfill": "true" if backfill else "false"}
    flow = svc.flows.create(
        ctx,
        {
            "name": "flow",
            "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
            "sourceConnectionIds": [source["id"]],
            "targetConnectionIds": [target["id"]],
            "transformations": transformations,
            "scheduleParams": schedule,
        },
    )
    return svc.flows.record(ctx, flow["id"])


def dataset_ident(svc: Services, flow: Record) -> DatasetIdent:
    target = svc.store.get("targetConnection", SCOPE, flow.doc["targetConnectionIds"][0])
    assert target is not None
    dataset = svc.store.get("dataSet", SCOPE, target.doc["params"]["dataSetId"])
    assert dataset is not None
    return lake_ident(dataset)
