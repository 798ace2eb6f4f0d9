"""An incremental flow through a real `headwater serve`, while concurrent writers commit into the
source: ties, late commits held open across several runs, NULL delta values and an integer table
that stops growing. Runs are triggered back to back with the `runNow` extension, as a user would;
at the end every source row has landed exactly once (docs/incremental.md)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from headwater.lake import DatasetIdent
from headwater.service import Services
from headwater.settings import Settings
from tests.runs.settled import wait_settled
from tests.support.chain import ok
from tests.support.ids import CATALOG, CRM_TO_AEP, FLOW, LAKE_SPEC, ORG, PG_SPEC
from tests.support.live_filters import wait_run
from tests.support.pg import pg_admin
from tests.support.server import LiveServer, running_server, sandbox_client

pytestmark = pytest.mark.slow  # a server, writers for ~12 s

WRITE_SECONDS = 12.0
LATE_SECONDS = 5.0  # a transaction stamped now() that commits this much later, across several runs


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("live_incr"), {"HEADWATER_RUN_POLL_SECONDS": "0.1"}) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with sandbox_client(server, ORG, prefix="i") as c:
        yield c


@pytest.fixture
def table() -> Iterator[str]:
    schema = f"hw_incr_{uuid.uuid4().hex[:8]}"
    with pg_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(
            f'CREATE TABLE "{schema}".events (id bigserial PRIMARY KEY, ts timestamptz DEFAULT now(), '
            "grp int, writer text)"
        )
        conn.execute(f'CREATE INDEX ON "{schema}".events (ts)')
    try:
        yield f"{schema}.events"
    finally:
        with pg_admin() as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def recurring_flow(client: httpx.Client, table: str, delta: str) -> tuple[str, str]:
    """connection → source → dataset → target → flow every 15 minutes, first run far away; (flow, dataset)."""
    auth = {
        "specName": "Basic Authentication",
        "params": {
            "server": "127.0.0.1",
            "port": 5432,
            "database": "postgres",
            "username": "postgres",
            "password": "unused",
            "sslMode": "Disable",
        },
    }
    conn = ok(client.post(f"{FLOW}/connections", json={"name": "pg", "auth": auth, "connectionSpec": {"id": PG_SPEC}}))
    source = ok(
        client.post(
            f"{FLOW}/sourceConnections",
            json={"name": "src", "baseConnectionId": conn["id"], "params": {"tableName": table},
                  "connectionSpec": {"id": PG_SPEC, "version": "1.0"}},
        )
    )["id"]  # fmt: skip
    dataset = ok(client.post(f"{CATALOG}/dataSets", json={"name": "ds"}))[0].split("/")[-1]
    target = ok(
        client.post(
            f"{FLOW}/targetConnections",
            json={
                "name": "lake",
                "params": {"dataSetId": dataset},
                "connectionSpec": {"id": LAKE_SPEC, "version": "1.0"},
            },
        )
    )["id"]
    body = {
        "name": "incremental",
        "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
        "sourceConnectionIds": [source],
        "targetConnectionIds": [target],
        "transformations": [{"name": "Copy", "params": {"deltaColumn": {"name": delta}}}],
        # The first scheduled slot is in an hour: every run here is a runNow.
        "scheduleParams": {"startTime": str(int(time.time()) + 3600), "frequency": "minute", "interval": "15",
                           "backfill": "true"},
    }  # fmt: skip
    return ok(client.post(f"{FLOW}/flows", json=body))["id"], dataset


def run_now(client: httpx.Client, flow: str) -> dict[str, Any]:
    run_id = ok(client.post(f"{FLOW}/runs", json={"flowId": flow, "params": {"runNow": True}}))["items"][0]["id"]
    item = wait_run(client, run_id)
    assert item["metrics"]["statusSummary"]["status"] == "success", item
    return item


def landed_ids(server: LiveServer, client: httpx.Client, dataset: str) -> Counter[int]:
    """The ids in the dataset's current Iceberg snapshot, read from the lake as pyiceberg users do."""
    ice = ok(client.get(f"{CATALOG}/dataSets/{dataset}"), 200)[dataset]["iceberg"]
    lake = Services(Settings(data_dir=server.data_dir)).lake
    rows = lake.scan(DatasetIdent(ice["namespace"], ice["table"])).column("id").to_pylist()
    return Counter(int(i) for i in rows)


def writers(table: str, stop: threading.Event) -> list[threading.Thread]:
    schema, name = table.split(".")
    target = f'"{schema}"."{name}"'

    def steady(tag: str) -> None:
        rng = random.Random(tag)
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
            while not stop.is_set():
                grp = rng.choice([None, 1, 2, 3])
                with conn.transaction():
                    for _ in range(rng.randint(1, 5)):
                        conn.execute(f"INSERT INTO {target} (grp, writer) VALUES (%s, %s)", (grp, tag))
                time.sleep(rng.uniform(0.0, 0.05))

    def late(tag: str) -> None:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
            while not stop.is_set():
                with conn.transaction():
                    # ts = now() is the transaction's start: stamped early, visible only at commit.
                    conn.execute(f"INSERT INTO {target} (grp, writer) VALUES (NULL, %s)", (tag,))
                    stop.wait(LATE_SECONDS)
                    conn.execute(f"INSERT INTO {target} (grp, writer) VALUES (7, %s)", (tag,))

    threads = [threading.Thread(target=steady, args=(f"w{i}",)) for i in range(3)]
    threads.append(threading.Thread(target=late, args=("late",)))
    for t in threads:
        t.start()
    return threads


def test_concurrent_writers_and_late_commits_land_exactly_once_through_the_api(
    server: LiveServer, client: httpx.Client, table: str
) -> None:
    flow, dataset = recurring_flow(client, table, "ts")
    stop = threading.Event()
    threads = writers(table, stop)
    runs = 0
    try:
        deadline = time.monotonic() + WRITE_SECONDS
        while time.monotonic() < deadline:
            run_now(client, flow)
            runs += 1
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    # The writers have stopped; two more runs take what committed last (the second finds nothing new).
    # A transaction left open anywhere in the cluster would delay (never lose) rows committed after
    # it began: wait for the horizon, as a user's next scheduled run would simply come later.
    with pg_admin() as conn:
        wait_settled(conn)
    run_now(client, flow)
    last = run_now(client, flow)
    with pg_admin() as conn:
        source = {r[0] for r in conn.execute(f"SELECT id FROM {table}").fetchall()}
        late = conn.execute(f"SELECT count(*) FROM {table} WHERE writer = 'late'").fetchone()
    counts = landed_ids(server, client, dataset)
    assert runs >= 3 and late is not None and late[0] >= 2, (runs, late)
    assert sorted(k for k, n in counts.items() if n > 1) == [], "duplicates"
    assert sorted(source - set(counts))[:20] == [], "lost rows"
    assert set(counts) == source
    assert last["metrics"]["recordSummary"]["outputRecordCount"] == 0


def test_an_integer_table_that_stops_growing_lands_its_last_rows(
    server: LiveServer, client: httpx.Client, table: str
) -> None:
    flow, dataset = recurring_flow(client, table, "id")
    with pg_admin() as conn, pg_admin() as slow:
        conn.execute(f"INSERT INTO {table} (grp) SELECT 1 FROM generate_series(1, 5)")  # ids 1..5
        slow.execute("BEGIN")
        slow.execute(f"INSERT INTO {table} (grp) VALUES (2)")  # id 6, committed after larger ids
        conn.execute(f"INSERT INTO {table} (grp) SELECT 3 FROM generate_series(1, 5)")  # ids 7..11
        run_now(client, flow)
        slow.execute("COMMIT")
        wait_settled(conn)
    run_now(client, flow)
    run_now(client, flow)
    counts = landed_ids(server, client, dataset)
    assert counts == Counter(range(1, 12))
