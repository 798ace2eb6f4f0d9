"""Faults during runs: each ends with a clear run status, no partial data in the dataset, and a good retry.

1. The source database restarts (crash, `pg_ctl -m immediate`) while a run streams from it.
2. The metadata database (PostgreSQL) is down for a few seconds while a run streams.
3. The disk holding the warehouse fills up during the Parquet write (a tiny tmpfs; we are root).
4. The process running the run (`headwater serve`) is SIGKILLed; a new one takes the run over.

Sources stream slowly on purpose (a view that sleeps every N rows), so the fault lands mid-run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from headwater.api import create_app
from headwater.lake import DatasetIdent
from headwater.runs.ledger import Ledger, RunRow
from headwater.runs.model import RunSettings, RunStatus
from headwater.service import Services
from headwater.settings import Settings
from headwater.store import Scope
from tests.support.chain import basic_auth, make_chain
from tests.support.cluster import Cluster
from tests.support.ids import FLOW
from tests.support.pg import pg_admin
from tests.support.server import cli, start_server
from tests.support.tenants import make_tenant

pytestmark = pytest.mark.slow  # faults on a private cluster and a killed server

ORG = "FAULTS0000000000000000000@AdobeOrg"
SCOPE = Scope(ORG, "prod")
FAST = {"lease_seconds": 3.0, "heartbeat_seconds": 0.5, "backoff_base_seconds": 0.5, "poll_seconds": 0.1}


def slow_view(conn: Any, *, rows: int, pauses: int, pause_s: float) -> str:
    """A view of `rows` rows (id, name, updated_at) that sleeps `pauses` times while it streams."""
    schema = f"flt_{uuid.uuid4().hex[:8]}"
    every = max(1, rows // pauses)
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    conn.execute(
        sql.SQL(
            "CREATE VIEW {}.slow AS SELECT g::bigint AS id, md5(g::text) AS name, "
            "timestamptz '2024-01-01' + g * interval '1 second' AS updated_at "
            "FROM generate_series(1, {}) g WHERE g % {} <> 0 OR pg_sleep({}) IS NOT NULL"
        ).format(sql.Identifier(schema), sql.Literal(rows), sql.Literal(every), sql.Literal(pause_s))
    )
    return f"{schema}.slow"


@contextmanager
def worker(services: Services, owner: str = "faults") -> Iterator[None]:
    """Work runs in a background thread until the block ends (errors logged and retried, like serve)."""
    stop = threading.Event()
    engine = services.engine(workers=0, schedule=False)

    def loop() -> None:
        while not stop.is_set():
            try:
                if not engine.work_once(owner):
                    time.sleep(0.05)
            except Exception:  # the metadata database may be down: keep polling, as the engine does
                time.sleep(0.2)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=60)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # a check may hit the database while it is down
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def ident_of(services: Services, dataset_id: str) -> DatasetIdent:
    record = services.store.get("dataSet", SCOPE, dataset_id)
    assert record is not None
    return DatasetIdent(record.doc["_iceberg"]["namespace"], record.doc["_iceberg"]["table"])


def in_progress(services: Services, run_id: str) -> Callable[[], bool]:
    def check() -> bool:
        row = Ledger(services.store).get(run_id)
        return row is not None and row.status is RunStatus.IN_PROGRESS

    return check


def finished(services: Services, run_id: str) -> Callable[[], RunRow | None]:
    def check() -> RunRow | None:
        row = Ledger(services.store).get(run_id)
        return row if row is not None and row.status.terminal else None

    return check


def retrigger(client: Any, headers: dict[str, str], services: Services, run_id: str) -> RunRow:
    """The user's retry of a failed run (RE_TRIGGER), worked to its end."""
    again = client.post(f"{FLOW}/runs/{run_id}/action", headers=headers, params={"op": "RE_TRIGGER"})
    assert again.status_code == 200, again.text
    with worker(services, owner="faults-retry"):
        row: RunRow = wait_for("the retried run to finish", finished(services, run_id), timeout=90)
    return row


def make_services(tmp_path: Path, **settings: Any) -> Services:
    run = RunSettings(**FAST)
    svc = Services(Settings(data_dir=tmp_path / "data", run_embedded_executor=False, run=run, **settings))
    svc.migrate()
    return svc


def snapshots_with_rows(services: Services, ident: DatasetIdent) -> list[int]:
    table = services.lake._load(ident)  # the committed history, as a reader sees it
    return [int((s.summary or {}).get("added-records", 0) or 0) for s in table.snapshots()]


def test_source_restarted_mid_run(tmp_path: Path, running_cluster: Cluster) -> None:
    rows = 40_000
    with running_cluster.admin() as conn:
        table = slow_view(conn, rows=rows, pauses=10, pause_s=0.3)
    services = make_services(tmp_path)
    tenant = make_tenant(services, ORG)
    auth = basic_auth(port=running_cluster.port)  # postgres connects with trust on the private cluster
    with TestClient(create_app(services.settings, services=services)) as client:
        chain = make_chain(client, tenant.headers(), table, auth=auth)
        assert chain.run is not None
        ident = ident_of(services, chain.dataset)
        seen: set[int] = set()
        with worker(services):
            wait_for("the run to start", in_progress(services, chain.run))
            time.sleep(1.0)  # a few pauses in: rows are streaming
            running_cluster.stop("immediate")  # a crash: connections die mid-COPY
            time.sleep(1.0)
            seen.add(services.lake.row_count(ident))
            running_cluster.start()
            row = wait_for("the run to finish", finished(services, chain.run), timeout=90)
            seen.add(services.lake.row_count(ident))
        run = client.get(f"{FLOW}/runs/{chain.run}", headers=tenant.headers()).json()["items"][0]
    print(f"faults[source restart]: status {row.status.value}, attempts {row.attempt}, rows seen {sorted(seen)}")
    assert row.status is RunStatus.SUCCESS, run
    assert row.attempt >= 2, "the interrupted attempt should have been retried"
    assert seen <= {0, rows}, f"partial data was visible: {seen}"
    assert services.lake.row_count(ident) == rows
    assert snapshots_with_rows(services, ident) == [rows]


def test_metadata_database_briefly_down(tmp_path: Path, running_cluster: Cluster) -> None:
    rows = 30_000
    meta = f"hw_meta_{uuid.uuid4().hex[:8]}"
    with running_cluster.admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(meta)))
    with pg_admin() as conn:  # the source is the shared local server this time
        table = slow_view(conn, rows=rows, pauses=10, pause_s=0.3)
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{running_cluster.port}/{meta}?connect_timeout=2"
        services = make_services(tmp_path, database_url=url)
        tenant = make_tenant(services, ORG)
        with TestClient(create_app(services.settings, services=services), raise_server_exceptions=False) as client:
            chain = make_chain(client, tenant.headers(), table)
            assert chain.run is not None
            ident = ident_of(services, chain.dataset)
            with worker(services):
                wait_for("the run to start", in_progress(services, chain.run))
                time.sleep(0.5)
                running_cluster.stop("immediate")
                down = client.get(f"{FLOW}/runs/{chain.run}", headers=tenant.headers())
                time.sleep(4.0)  # longer than the lease: the heartbeat cannot renew it
                running_cluster.start()
                row = wait_for("the run to finish", finished(services, chain.run), timeout=120)
            run = client.get(f"{FLOW}/runs/{chain.run}", headers=tenant.headers()).json()["items"][0]
            first = row.status
            partial = services.lake.row_count(ident)
            if row.status is RunStatus.FAILED:
                row = retrigger(client, tenant.headers(), services, chain.run)
        print(
            f"faults[metadata down]: API answered {down.status_code} while down; the run ended {first.value} "
            f"({run['metrics']['statusSummary'].get('errors')}); rows visible then {partial}; "
            f"after {'RE_TRIGGER' if first is RunStatus.FAILED else 'its own retries'}: {row.status.value}"
        )
        assert down.status_code == 503, down.text  # a clear answer while down, not a hang or a 500
        assert first in (RunStatus.SUCCESS, RunStatus.FAILED) and partial in (0, rows), (first, partial)
        assert row.status is RunStatus.SUCCESS, run
        assert services.lake.row_count(ident) == rows
        assert snapshots_with_rows(services, ident) == [rows]
    finally:
        if not running_cluster.is_up():
            running_cluster.start()
        with running_cluster.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(meta)))
        with pg_admin() as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(table.split(".")[0])))


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.fail(f"the disk-full test needs to mount a tmpfs (run as root): {out.stderr}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_during_parquet_write(tmp_path: Path, tiny_disk: Path) -> None:
    rows = 200_000
    schema = f"flt_{uuid.uuid4().hex[:8]}"
    with pg_admin() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.big AS SELECT g::bigint AS id, md5(g::text) || md5((-g)::text) AS name, "
                "timestamptz '2024-01-01' + g * interval '1 second' AS updated_at FROM generate_series(1, {}) g"
            ).format(sql.Identifier(schema), sql.Literal(rows))
        )
    try:
        services = make_services(tmp_path, warehouse=tiny_disk.as_uri())
        tenant = make_tenant(services, ORG)
        with TestClient(create_app(services.settings, services=services)) as client:
            chain = make_chain(client, tenant.headers(), f"{schema}.big")
            assert chain.run is not None
            ident = ident_of(services, chain.dataset)
            with worker(services):
                row = wait_for("the run to fail", finished(services, chain.run), timeout=90)
            run = client.get(f"{FLOW}/runs/{chain.run}", headers=tenant.headers()).json()["items"][0]
            errors = run["metrics"]["statusSummary"].get("errors")
            leftovers = [p for p in tiny_disk.rglob("*.parquet")]
            partial = services.lake.row_count(ident)
            print(f"faults[disk full]: status {row.status.value}, errors {errors}, leftover parquet {len(leftovers)}")
            assert row.status is RunStatus.FAILED, run
            assert errors, "a failed run must say why"
            assert partial == 0 and not leftovers, (partial, leftovers)

            subprocess.run(["mount", "-o", "remount,size=256m", str(tiny_disk)], check=True)
            row = retrigger(client, tenant.headers(), services, chain.run)
        print(f"faults[disk full]: after more space and RE_TRIGGER: {row.status.value}")
        assert row.status is RunStatus.SUCCESS
        assert services.lake.row_count(ident) == rows
        assert snapshots_with_rows(services, ident) == [rows]
    finally:
        with pg_admin() as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def test_worker_killed_mid_run(tmp_path: Path, running_cluster: Cluster) -> None:
    rows = 30_000
    with running_cluster.admin() as conn:
        table = slow_view(conn, rows=rows, pauses=12, pause_s=0.4)
    data = tmp_path / "live"
    env = {f"HEADWATER_RUN_{k.upper()}": str(v) for k, v in FAST.items()}
    env["HEADWATER_SCHEDULER_INTERVAL_SECONDS"] = "0.5"
    creds = json.loads(cli(data, "credentials", "create", "--org", ORG, "--json"))
    first = start_server(data, env)
    try:
        token = httpx.post(
            f"{first.base_url}/ims/token/v3",
            data={"client_id": creds["client_id"], "client_secret": creds["client_secret"]},
        ).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "x-api-key": creds["client_id"],
            "x-gw-ims-org-id": ORG,
            "x-sandbox-name": "prod",
        }
        with httpx.Client(base_url=first.base_url, timeout=30) as http:
            chain = make_chain(http, headers, table, auth=basic_auth(port=running_cluster.port))

            def status() -> str:
                run = http.get(f"{FLOW}/runs/{chain.run}", headers=headers).json()["items"][0]
                return str(run["metrics"]["statusSummary"]["status"])

            wait_for("the run to start", lambda: status() == "inProgress")
            time.sleep(1.5)
    finally:
        os.kill(first.process.pid, signal.SIGKILL)  # the worker dies mid-run, no cleanup
        first.process.wait(timeout=10)
    second = start_server(data, env)
    try:
        with httpx.Client(base_url=second.base_url, timeout=30) as http:

            def final() -> dict[str, Any] | None:
                run = http.get(f"{FLOW}/runs/{chain.run}", headers=headers).json()["items"][0]
                return run if run["metrics"]["statusSummary"]["status"] in ("success", "failed") else None

            run = wait_for("the run to be taken over and finish", final, timeout=120, every=0.3)
            preview = http.get(f"/data/foundation/catalog/dataSets/{chain.dataset}", headers=headers)
    finally:
        second.process.terminate()
        second.process.wait(timeout=15)
    services = Services(Settings(data_dir=data, run_embedded_executor=False))
    ident = ident_of(services, chain.dataset)
    row = Ledger(services.store).get(chain.run or "")
    assert row is not None
    print(
        f"faults[worker killed]: status {run['metrics']['statusSummary']['status']}, attempts {row.attempt}, "
        f"rows {services.lake.row_count(ident)}, snapshots {snapshots_with_rows(services, ident)}"
    )
    assert run["metrics"]["statusSummary"]["status"] == "success", run
    assert preview.status_code == 200
    assert row.attempt >= 2
    assert services.lake.row_count(ident) == rows
    assert snapshots_with_rows(services, ident) == [rows]
