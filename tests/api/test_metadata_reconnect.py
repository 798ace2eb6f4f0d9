"""A PostgreSQL metadata database that drops its connections: the next request is still answered.

The pool keeps connections between requests. When their backends end (a restart, an administrator's
pg_terminate_backend, an idle timeout), the next request must get a working connection, not a 500
or a 503: a closed connection is replaced at checkout (store/engine.py), and a read whose connection
is lost mid-way is run again on a new one (Store.read).
"""

from __future__ import annotations

import select
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from headwater.api import create_app
from headwater.service import Services
from headwater.settings import Settings
from headwater.store import Scope, Store
from headwater.store.engine import _closed_by_server
from tests.support.cluster import create_cluster
from tests.support.ids import ORG
from tests.support.metadata import app_on
from tests.support.pg import PG_ADMIN_DSN, pg_admin
from tests.support.tenants import make_tenant

FLOW = "/data/foundation/flowservice"
PG_SPEC = "74a1c565-4e59-48d7-9d67-7c03b8a13137"


def _database(store: Store) -> str:
    name = store.engine.url.database
    assert name
    return name


def _terminate_all(store: Store) -> int:
    """End every backend of the store's database (what a restart does to them); how many there were."""
    with pg_admin() as admin:
        ended = admin.execute(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()) t",
            (_database(store),),
        ).fetchone()
        # Termination is signalled: wait until the backends are gone, as after a restart.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (_database(store),))
            if left.fetchone() == (0,):
                break
            time.sleep(0.02)
    assert ended is not None
    return int(ended[0])


def _connection_body(name: str) -> dict[str, Any]:
    params = {"server": "127.0.0.1", "port": 15432, "database": "postgres", "username": "postgres",
              "password": "reconnect-pw", "sslMode": "Disable"}  # fmt: skip
    return {
        "name": name,
        "auth": {"specName": "Basic Authentication", "params": params},
        "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
    }


def test_requests_after_the_metadata_backends_were_terminated(tmp_path: Path) -> None:
    with app_on("postgresql", tmp_path, prefix="hw_reconnect") as (client, services, tenant):
        headers = tenant.headers()
        created = client.post(f"{FLOW}/connections", json=_connection_body("before"), headers=headers)
        assert created.status_code == 201, created.text
        path = f"{FLOW}/connections/{created.json()['id']}"
        assert client.get(path, headers=headers).status_code == 200
        assert client.get(f"{FLOW}/flows?limit=5", headers=headers).status_code == 200

        # Every pooled connection is now dead; each kind of request must still succeed.
        assert _terminate_all(services.store) >= 1
        got = client.get(path, headers=headers)
        assert got.status_code == 200, got.text
        assert got.json()["items"][0]["name"] == "before"

        assert _terminate_all(services.store) >= 1
        listed = client.get(f"{FLOW}/connections", headers=headers)
        assert listed.status_code == 200, listed.text
        assert [c["name"] for c in listed.json()["items"]] == ["before"]

        assert _terminate_all(services.store) >= 1  # a write checks out a connection too
        again = client.post(f"{FLOW}/connections", json=_connection_body("after"), headers=headers)
        assert again.status_code == 201, again.text


def test_a_read_that_loses_its_connection_midway_is_run_again(tmp_path: Path) -> None:
    with app_on("postgresql", tmp_path, prefix="hw_reconnect") as (_, services, tenant):
        store = services.store
        scope = Scope(ORG, "prod")
        store.insert("connection", scope, id="c-1", doc={"name": "kept"})
        calls: list[int] = []

        def read() -> str | None:
            # The first attempt's backend ends after checkout, between two of its statements.
            with store.begin() as conn:
                pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            calls.append(pid)
            if len(calls) == 1:
                with pg_admin() as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
                        time.sleep(0.01)
            assert store.client_is_active(tenant.client_id, ORG)
            record = store.get("connection", scope, "c-1")
            return record.doc["name"] if record else None

        assert store.read(read) == "kept"
        assert len(calls) == 2 and calls[0] != calls[1]


def test_a_request_checks_out_one_metadata_connection_per_read(tmp_path: Path) -> None:
    with app_on("postgresql", tmp_path, prefix="hw_reconnect") as (client, services, tenant):
        flow = {"name": "f", "flowSpec": {"id": "x", "version": "1.0"}, "state": "enabled",
                "sourceConnectionIds": [], "targetConnectionIds": [], "scheduleParams": {}}  # fmt: skip
        services.store.insert("flow", Scope(ORG, "prod"), id="f-1", doc=flow)
        checkouts: list[int] = []
        statements: list[str] = []
        event.listen(services.store.engine, "checkout", lambda *_: checkouts.append(1))
        event.listen(services.store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        listed = client.get(f"{FLOW}/flows?limit=5", headers=tenant.headers())
        assert listed.status_code == 200, listed.text
        assert [f["id"] for f in listed.json()["items"]] == ["f-1"]
        # The token's client, then the page and the flows' last runs: two reads, one connection each.
        assert len(statements) >= 3, statements
        assert len(checkouts) == 2


def test_a_connection_ended_by_its_server_is_seen_without_a_round_trip() -> None:
    with psycopg.connect(PG_ADMIN_DSN) as live:
        live.execute("SELECT 1").fetchone()
        live.rollback()
        assert not _closed_by_server(live)
        with pg_admin() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (live.info.backend_pid,))
        # The server's FATAL message and close arrive asynchronously.
        select.select([live.fileno()], [], [], 5)
        assert _closed_by_server(live)


def test_a_write_after_the_backends_were_terminated(tmp_path: Path) -> None:
    # No read comes first to find the lost connections: the checkout must.
    with app_on("postgresql", tmp_path, prefix="hw_reconnect") as (_, services, _tenant):
        store = services.store
        scope = Scope(ORG, "prod")
        store.insert("connection", scope, id="c-1", doc={"name": "one"})
        assert _terminate_all(store) >= 1
        store.insert("connection", scope, id="c-2", doc={"name": "two"})
        assert [r.id for r in store.list("connection", scope)] == ["c-1", "c-2"]


@pytest.mark.slow  # a private cluster, stopped and started
def test_requests_after_the_metadata_database_restarted(tmp_path: Path) -> None:
    cluster = create_cluster("hw-meta-restart-", conf="", hba="local all all trust\nhost all all 127.0.0.1/32 trust\n")
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/postgres"
        settings = Settings(data_dir=tmp_path / "data", database_url=url, run_embedded_executor=False)
        services = Services(settings)
        services.migrate()
        tenant = make_tenant(services, ORG)
        with TestClient(create_app(settings, services=services), raise_server_exceptions=False) as client:
            headers = tenant.headers()
            created = client.post(f"{FLOW}/connections", json=_connection_body("kept"), headers=headers)
            assert created.status_code == 201, created.text
            path = f"{FLOW}/connections/{created.json()['id']}"
            assert client.get(path, headers=headers).status_code == 200
            for _ in range(3):  # again and again: each restart leaves the whole pool closed
                cluster.stop("fast")
                cluster.start()
                got = client.get(path, headers=headers)
                assert got.status_code == 200, got.text
                assert got.json()["items"][0]["name"] == "kept"
                listed = client.get(f"{FLOW}/connections", headers=headers)
                assert listed.status_code == 200, listed.text
            cluster.stop("fast")
            down = client.get(path, headers=headers)
            assert down.status_code == 503, down.text  # unavailable, and said so: not a 500
            cluster.start()
            assert client.get(path, headers=headers).status_code == 200
        services.store.engine.dispose()
    finally:
        cluster.remove()
