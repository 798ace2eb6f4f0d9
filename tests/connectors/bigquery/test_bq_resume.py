"""Storage Read reads that break: a cut connection resumes by offset, a restarted server restarts.

Both against the real emulator (its launcher serves ReadRows from the requested offset, as BigQuery
does). A connection cut mid-stream keeps the session, so each stream goes on at its offset and no
second session is created. A server restart loses the session: no new session's streams map onto
the old one's offsets, so the run's attempt fails as transient and the next attempt reads the table
from the start with a new session; the single Iceberg commit drops what the first attempt had read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from google.cloud.bigquery_storage_v1 import types

from headwater.api import create_app
from headwater.connectors._bq_auth import BqOAuth
from headwater.connectors._bq_clients import BqTimeouts, read_client
from headwater.connectors.bigquery import BigQueryConnector
from headwater.domain import ReadRequest
from headwater.errors import TransientError
from headwater.lake import DatasetIdent, namespace_for
from headwater.runs.model import RunSettings, RunStatus
from headwater.service import Services
from headwater.settings import Settings
from tests.connectors.bigquery.emulator import PROJECT, TIMEOUTS, TokenServer, launch
from tests.connectors.bigquery.test_bq_flow_run import OAUTH
from tests.support.chain import make_chain, run_until_done
from tests.support.ids import BQ_SPEC
from tests.support.net import free_port
from tests.support.tcp_proxy import TcpProxy
from tests.support.tenants import make_tenant

ROWS = 300_000  # several Arrow messages per stream, and over the emulator's 1 MB one-stream limit
ORG = "BQRESUME000000000000000000@AdobeOrg"


def create_events(admin: bigquery.Client, dataset: str) -> str:
    admin.query(
        f"CREATE TABLE `{PROJECT}.{dataset}.events` AS SELECT x AS id, CONCAT('event-', CAST(x AS STRING)) AS label "
        f"FROM UNNEST(GENERATE_ARRAY(1, {ROWS})) AS x",
        timeout=120,
    ).result(timeout=120)
    return f"{dataset}.events"


class Sessions:
    """Wraps `read_client`, counting the read sessions created; `on_first_rows` runs once, in the
    reader thread, right after the first ReadRows response of the first session arrived, and
    `before_read` (for subclasses) before each stream is opened."""

    def __init__(self, on_first_rows: Any = None) -> None:
        self.created = 0
        self.on_first_rows = on_first_rows

    def before_read(self, stream: str) -> None:
        """Called with a stream's name as the reader opens it; raising fails that read."""

    def __call__(self, settings: Settings, credentials: Any) -> Any:
        client = read_client(settings, credentials)
        create, read = client.create_read_session, client.read_rows

        def create_read_session(**kwargs: Any) -> Any:
            self.created += 1
            return create(**kwargs)

        def responses(stream: Iterator[Any]) -> Iterator[Any]:
            for response in stream:
                yield response
                if self.on_first_rows is not None and self.created == 1:
                    hook, self.on_first_rows = self.on_first_rows, None
                    hook()

        def read_rows(name: str, **kwargs: Any) -> Iterator[Any]:
            self.before_read(name)
            return responses(read(name, **kwargs))

        client.create_read_session = create_read_session  # type: ignore[method-assign]
        client.read_rows = read_rows  # type: ignore[method-assign]
        return client


def test_a_cut_connection_resumes_each_stream_at_its_offset_in_the_same_session(
    monkeypatch: pytest.MonkeyPatch, bq_settings: Settings, oauth: BqOAuth, admin: bigquery.Client, dataset: str
) -> None:
    table = create_events(admin, dataset)
    assert bq_settings.bigquery_read_endpoint is not None
    grpc_port = int(bq_settings.bigquery_read_endpoint.rsplit(":", 1)[1])
    proxy = TcpProxy(("127.0.0.1", grpc_port), cut_after=3_000_000)
    sessions = Sessions()
    for module in ("bigquery", "_bq_chunks"):  # a plain read, a chunked one
        monkeypatch.setattr(f"headwater.connectors.{module}.read_client", sessions)
    connector = BigQueryConnector(
        bq_settings.model_copy(update={"bigquery_read_endpoint": proxy.endpoint}), timeouts=TIMEOUTS
    )
    try:
        ids = [v for b in connector.read(oauth, ReadRequest(table, parallelism=2)) for v in b.column(0).to_pylist()]
    finally:
        proxy.close()
    assert proxy.cuts == 1 and proxy.connections >= 2  # the link was cut mid-read and dialled again
    assert sessions.created == 1  # ... and the same session went on
    assert len(ids) == ROWS and sorted(ids) == list(range(1, ROWS + 1))


def test_a_server_that_stops_answering_mid_read_fails_it_as_transient_after_the_silence_limit(
    bq_settings: Settings, oauth: BqOAuth, admin: bigquery.Client, dataset: str
) -> None:
    table = create_events(admin, dataset)
    assert bq_settings.bigquery_read_endpoint is not None
    grpc_port = int(bq_settings.bigquery_read_endpoint.rsplit(":", 1)[1])
    proxy = TcpProxy(("127.0.0.1", grpc_port), freeze_after=3_000_000)
    connector = BigQueryConnector(
        bq_settings.model_copy(update={"bigquery_read_endpoint": proxy.endpoint}),
        timeouts=BqTimeouts(request=2.0, deadline=3.0, silence=3.0),
    )
    rows = 0
    started = time.monotonic()
    try:
        with pytest.raises(TransientError, match="sent nothing for 3 s: the server stopped answering"):
            for batch in connector.read(oauth, ReadRequest(table, parallelism=2)):
                rows += batch.num_rows
    finally:
        proxy.close()
    assert proxy.frozen.is_set()
    assert 0 < rows < ROWS  # rows came, then nothing: without the limit the read would wait for ever
    assert time.monotonic() - started < 60


def test_answers_without_rows_keep_a_slow_stream_alive(
    monkeypatch: pytest.MonkeyPatch, bq_settings: Settings, oauth: BqOAuth, admin: bigquery.Client, dataset: str
) -> None:
    """BigQuery answers without rows while it filters; those answers are not silence."""
    table = create_events(admin, dataset)

    def filtering_client(settings: Settings, credentials: Any) -> Any:
        client = read_client(settings, credentials)
        read = client.read_rows

        def read_rows(name: str, **kwargs: Any) -> Iterator[Any]:
            yield types.ReadRowsResponse()  # at once: the wait for the first rows starts after an answer
            for response in read(name, **kwargs):
                yield response
                for _ in range(3):  # 2.4 s between rows, more than the 2 s limit; 0.8 s between answers
                    time.sleep(0.8)
                    yield types.ReadRowsResponse()

        client.read_rows = read_rows  # type: ignore[method-assign]
        return client

    for module in ("bigquery", "_bq_chunks"):
        monkeypatch.setattr(f"headwater.connectors.{module}.read_client", filtering_client)
    connector = BigQueryConnector(bq_settings, timeouts=BqTimeouts(request=5.0, deadline=5.0, silence=2.0))
    ids = [v for b in connector.read(oauth, ReadRequest(table, parallelism=2)) for v in b.column(0).to_pylist()]
    assert sorted(ids) == list(range(1, ROWS + 1))


@pytest.mark.slow
def test_a_run_whose_emulator_is_killed_mid_read_and_restarted_lands_exactly_the_source_rows(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, token_server: TokenServer
) -> None:
    rest_port, grpc_port = free_port(), free_port()
    log, data = tmp_path / "emulator.log", tmp_path / "bq"
    server = [launch(rest_port, grpc_port, log, "--data-dir", str(data))]  # tables survive a restart
    restarted = threading.Event()
    try:
        admin = bigquery.Client(
            project=PROJECT,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": f"http://127.0.0.1:{rest_port}"},
        )
        admin.create_dataset(f"{PROJECT}.resume", timeout=30)
        table = create_events(admin, "resume")

        def kill_and_restart() -> None:
            server[0].kill()
            server[0].wait(timeout=10)

            def restart() -> None:
                server[0] = launch(rest_port, grpc_port, log, "--data-dir", str(data))
                restarted.set()

            threading.Thread(target=restart, daemon=True).start()

        sessions = Sessions(on_first_rows=kill_and_restart)
        for module in ("bigquery", "_bq_chunks"):  # a plain read, a chunked one
            monkeypatch.setattr(f"headwater.connectors.{module}.read_client", sessions)
        settings = Settings(
            data_dir=tmp_path / "data",
            google_token_uri=token_server.url,
            bigquery_api_endpoint=f"http://127.0.0.1:{rest_port}",
            bigquery_read_endpoint=f"http://127.0.0.1:{grpc_port}",
            bigquery_deadline_seconds=60.0,  # outlasts the emulator's restart
            run_embedded_executor=False,
            run=RunSettings(backoff_base_seconds=0.1, poll_seconds=0.05),
        )
        services = Services(settings)
        services.migrate()
        tenant = make_tenant(services, ORG)
        with TestClient(create_app(settings, services=services)) as client:
            chain = make_chain(
                client, tenant.headers(), table, auth=OAUTH, source_spec=BQ_SPEC, columns=("id", "label")
            )
            assert chain.run is not None
            row = run_until_done(services, chain.run)
        assert restarted.is_set()
        assert row.status is RunStatus.SUCCESS and row.attempt == 2, row
        assert sessions.created == 2  # the lost session, then one read from the start
        source = sorted(r[0] for r in admin.query(f"SELECT id FROM `{PROJECT}.{table}`").result())
        ((_, name),) = services.lake.catalog.list_tables(namespace_for(ORG, "prod"))  # this test's only dataset
        landed = services.lake.scan(DatasetIdent(namespace_for(ORG, "prod"), name))
        assert landed.num_rows == len(source) == ROWS
        assert sorted(landed.column("out_0").to_pylist()) == source
    finally:
        server[0].kill()
        server[0].wait(timeout=10)
