"""Scale-out on one machine: two `headwater serve`, two `headwater worker` (Celery), a PostgreSQL metadata
database and an S3 warehouse, each a real process, as docs/deploy.md lays them out.

The processes share only what separate machines would: the metadata database, the broker, the object
store (moto's S3 server) and the secret key; each has a data directory of its own. The servers reach
the object store through the AWS SDK's standard variables, the workers through HEADWATER_S3_*. Flows are
created and run through both servers while one worker is SIGKILLed holding a run: its runs are taken
over once their leases expire. Every dataset must then hold its source table's rows exactly once, as
read by a third process that knows nothing of Headwater: pyiceberg's SQL catalog on the metadata
database and the S3 warehouse.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from datetime import timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr, ValidationError

from headwater.lake import DatasetIdent, Lake
from headwater.lake._storage import io_properties
from headwater.runs.ledger import Ledger, RunRow
from headwater.runs.model import RunStatus
from headwater.settings import S3Settings, Settings
from headwater.store import Store
from tests.runs.source import SCOPE, PortForward, SourceDb, create_database, drop_database
from tests.support.chain import basic_auth, make_chain
from tests.support.ids import FLOW, ORG
from tests.support.net import wait_for
from tests.support.s3 import moto_store
from tests.support.scale import (
    broker_url,
    kill_holding_a_run,
    make_sources,
    read_catalog_elsewhere,
    start_worker,
    without_foreign_env,
)
from tests.support.server import LiveServer, cli, gateway_headers, start_server

COLUMNS = ("out_0", "out_1", "out_2")  # make_chain maps id, name, updated_at to these
# Fast leases so a dead worker's runs come back in seconds (the defaults are 30 s and 5 s).
CLUSTER_ENV = {
    "HEADWATER_RUN_LEASE_SECONDS": "2",
    "HEADWATER_RUN_HEARTBEAT_SECONDS": "0.5",
    "HEADWATER_RUN_BACKOFF_BASE_SECONDS": "0.2",
    "HEADWATER_SCHEDULER_INTERVAL_SECONDS": "0.3",
    "HEADWATER_WEB_WORKERS": "1",
    "HEADWATER_WORKERS": "2",
}


@pytest.fixture
def databases() -> Iterator[tuple[SourceDb, SourceDb]]:
    """A fresh metadata database and a fresh source database on the local server, dropped after."""
    meta = create_database("hw_scale_meta")
    source = create_database("hw_scale_src")
    try:
        yield meta, source
    finally:
        drop_database(meta)
        drop_database(source)


@pytest.mark.slow  # eight processes, and a worker killed
@pytest.mark.parametrize(("broker", "flows"), [("redis", 20), ("rabbitmq", 8)])
def test_flows_land_exactly_once_across_servers_and_workers_on_s3(
    broker: str,
    flows: int,
    databases: tuple[SourceDb, SourceDb],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    laps = [("", time.monotonic())]
    meta, source = databases
    without_foreign_env(monkeypatch)
    # Closed in reverse: the servers' schedulers stop before the workers, so no run id stays in the broker.
    with ExitStack() as processes:
        store = processes.enter_context(moto_store(tmp_path / "s3"))
        # The metadata database's endpoint is refused to tenant connections: sources use another port.
        forward = processes.enter_context(closing(PortForward()))
        warehouse = f"s3://{store.create_bucket()}/warehouse"
        shared = {
            "HEADWATER_DATABASE_URL": meta.url,
            "HEADWATER_BROKER_URL": broker_url(broker),
            "HEADWATER_WAREHOUSE": warehouse,
            "HEADWATER_SECRET_KEY": Fernet.generate_key().decode(),
            **CLUSTER_ENV,
        }
        for name, value in shared.items():
            monkeypatch.setenv(name, value)  # every process below, the CLI's too, inherits these
        cli(tmp_path / "migrate", "migrate")  # once, before the nodes start (docs/deploy.md)
        laps.append(("moto and migrate", time.monotonic()))
        workers = [start_worker(tmp_path / d, store.headwater_env()) for d in ("worker-a", "worker-b")]
        for worker in workers:
            processes.callback(worker.stop)
        with ThreadPoolExecutor(2) as pool:
            starting = [pool.submit(start_server, tmp_path / d, store.aws_env()) for d in ("serve-a", "serve-b")]
            expected = make_sources(source, flows)
        for future in starting:
            if future.exception() is None:
                processes.callback(future.result().stop)
        servers = [future.result() for future in starting]
        responses: list[str] = []
        clients = [processes.enter_context(_client(s, responses)) for s in servers]
        laps.append(("nodes started", time.monotonic()))

        headers = {**gateway_headers(servers[0], ORG), "x-sandbox-name": "prod"}
        auth = basic_auth(port=forward.port, database=source.name)
        chains = [make_chain(clients[i % 2], headers, f"public.t{i}", auth=auth, with_run=False) for i in range(flows)]
        for i, chain in enumerate(chains):  # on-demand runs, through both servers
            reply = clients[(i + 1) % 2].post(f"{FLOW}/runs", headers=headers, json={"flowId": chain.flow})
            assert reply.status_code == 201, reply.text
        laps.append(("flows and runs created", time.monotonic()))

        store_db = Store.from_url(meta.url)
        processes.callback(store_db.engine.dispose)
        ledger = Ledger(store_db)
        assert all(w.process.poll() is None for w in workers), "\n".join(w.log_text()[-3000:] for w in workers)
        interrupted = kill_holding_a_run(ledger, workers[0], after_successes=flows // 4)
        laps.append(("worker killed", time.monotonic()))
        wait_for("every run to finish", lambda: all(r.status.terminal for r in ledger.for_scope(SCOPE)), timeout=60)
        laps.append(("runs finished", time.monotonic()))
        rows = {r.id: r for r in ledger.for_scope(SCOPE)}
        failed = {r.id: r.doc.get("metrics") for r in rows.values() if r.status is not RunStatus.SUCCESS}
        assert not failed, f"{failed}\n{workers[1].log_text()[-3000:]}"
        assert workers[1].process.poll() is None, workers[1].log_text()[-3000:]
        assert len(rows) == flows
        taken_over = [rows[r.id] for r in interrupted]
        assert taken_over, "the SIGKILL landed between runs"
        assert all(r.attempt >= 2 for r in taken_over), [(r.id, r.attempt) for r in taken_over]

        idents = []
        for i, chain in enumerate(chains):  # the servers read the S3 warehouse too
            dataset = f"/data/foundation/catalog/dataSets/{chain.dataset}"
            preview = clients[i % 2].get(f"{dataset}/preview", headers=headers)
            assert preview.status_code == 200, preview.text
            assert preview.json()["rowCount"] == sum(expected[i].values())
            iceberg = clients[(i + 1) % 2].get(dataset, headers=headers).json()[chain.dataset]["iceberg"]
            idents.append(f"{iceberg['namespace']}.{iceberg['table']}")
        for server in servers:  # the readiness check of docs/deploy.md
            health = httpx.get(f"{server.base_url}/metrics", timeout=10)
            assert health.status_code == 200 and "headwater_runs" in health.text
        laps.append(("checked through the API", time.monotonic()))

        tables = read_catalog_elsewhere(meta.url, warehouse, store)
        laps.append(("catalog read elsewhere", time.monotonic()))
        assert set(tables) == set(idents)
        for i, (chain, ident) in enumerate(zip(chains, idents, strict=True)):
            table = tables[ident]
            assert table["location"].startswith(f"{warehouse}/")
            assert table["runs"] == [run_of(rows, chain.flow)], "one snapshot, by the flow's one run"
            landed = Counter(tuple(row[c] for c in COLUMNS) for row in table["rows"])
            assert landed == expected[i], f"t{i}: missing {expected[i] - landed}, extra {landed - expected[i]}"

        logs = [s.log_text() for s in servers] + [w.log_text() for w in workers]
        for secret in (store.secret_access_key, store.access_key_id):
            assert not any(secret in text for text in logs + responses), "an S3 credential leaked"
        assert store.secret_access_key not in store.log_path.read_text(errors="replace")
    steps = ", ".join(f"{name} {at - laps[i][1]:.1f}s" for i, (name, at) in enumerate(laps[1:]))
    retried = sum(r.attempt > 1 for r in rows.values())
    print(
        f"\n{broker}: {flows} flows; runs held by the killed worker and taken over: {len(taken_over)}; "
        f"runs claimed more than once: {retried}; {steps}; total {time.monotonic() - laps[0][1]:.1f}s"
    )


def run_of(rows: dict[str, RunRow], flow_id: str) -> str:
    (run,) = [r for r in rows.values() if r.flow_id == flow_id]
    return run.id


def _client(server: LiveServer, responses: list[str]) -> httpx.Client:
    def keep(response: httpx.Response) -> None:
        response.read()
        responses.append(response.text)

    return httpx.Client(base_url=server.base_url, timeout=30, event_hooks={"response": [keep]})


# -- the S3 settings and the lake's own S3 operations ------------------------------------------------


def test_s3_settings_keep_credentials_out_of_errors_and_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    without_foreign_env(monkeypatch)
    monkeypatch.setenv("HEADWATER_S3_ENDPOINT", "http://key:s3cr3t-in-url@minio.internal:9000")
    with pytest.raises(ValidationError) as refused:
        S3Settings()
    assert "credentials" in str(refused.value) and "s3cr3t-in-url" not in str(refused.value)
    monkeypatch.delenv("HEADWATER_S3_ENDPOINT")
    monkeypatch.setenv("HEADWATER_S3_SECRET_ACCESS_KEY", "half-a-pair-secret")
    with pytest.raises(ValidationError) as half:
        S3Settings()
    assert "ACCESS_KEY_ID" in str(half.value) and "half-a-pair-secret" not in str(half.value)
    monkeypatch.setenv("HEADWATER_S3_ACCESS_KEY_ID", "AKIAEXAMPLEKEYID")
    settings = Settings()
    assert "half-a-pair-secret" not in repr(settings) and "AKIAEXAMPLEKEYID" not in repr(settings)


def test_an_s3_warehouse_gets_endpoint_region_and_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    without_foreign_env(monkeypatch)
    assert io_properties(S3Settings(), "file:///var/lib/headwater/warehouse") == {}
    assert io_properties(S3Settings(region="eu-west-3"), "s3://lake/wh") == {"s3.region": "eu-west-3"}
    # The standard AWS variables stand in for unset settings; a custom endpoint gets a region.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://minio.internal:9000/")
    assert io_properties(S3Settings(), "s3://lake/wh") == {
        "s3.endpoint": "http://minio.internal:9000",
        "s3.region": "us-east-1",
    }
    monkeypatch.setenv("HEADWATER_S3_ACCESS_KEY_ID", "AKIAEXAMPLEKEYID")
    monkeypatch.setenv("HEADWATER_S3_SECRET_ACCESS_KEY", "example-secret")
    monkeypatch.setenv("HEADWATER_S3_FORCE_VIRTUAL_ADDRESSING", "true")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert io_properties(Settings().s3, "s3://lake/wh") == {
        "s3.endpoint": "http://minio.internal:9000",
        "s3.region": "eu-central-1",
        "s3.access-key-id": "AKIAEXAMPLEKEYID",
        "s3.secret-access-key": "example-secret",
        "s3.force-virtual-addressing": "true",
    }


@pytest.mark.slow  # moto's server
def test_dropping_a_dataset_and_removing_orphans_use_the_configured_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_foreign_env(monkeypatch)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with moto_store(tmp_path / "s3") as store:
        bucket = store.create_bucket()
        s3 = S3Settings(
            endpoint=store.endpoint,
            region=store.region,
            access_key_id=SecretStr(store.access_key_id),
            secret_access_key=SecretStr(store.secret_access_key),
        )
        settings = Settings(data_dir=tmp_path / "data", warehouse=f"s3://{bucket}/wh", s3=s3)
        settings.ensure_data_dir()
        lake = Lake.from_settings(settings)
        ident = DatasetIdent("tenant_ns", "ds_1")
        lake.create_dataset(ident, pa.schema([("id", pa.int64())]))
        batch = pa.record_batch([pa.array([1, 2, 3])], names=["id"])
        lake.write_run(ident, run_id="run-1", flow_id="flow-1", batches=[batch], cursor=None)
        fs = store.filesystem()
        (data_file,) = lake.data_files(ident)
        orphan = data_file.removeprefix("s3://").rsplit("/", 1)[0] + "/left-by-a-killed-run.parquet"
        with fs.open_output_stream(orphan) as out:
            out.write(b"never committed")
        assert lake.remove_orphans(ident, older_than=timedelta(0)) == [orphan]
        assert sorted(lake.scan(ident).column("id").to_pylist()) == [1, 2, 3]
        lake.drop_dataset(ident)
        left = fs.get_file_info(pafs.FileSelector(f"{bucket}/wh", recursive=True))
        assert [f.path for f in left if f.type == pafs.FileType.File] == []
        lake.close()
