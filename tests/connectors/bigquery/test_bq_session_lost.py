"""A Storage Read session the server no longer knows (`Stream not found` after a restart) is transient.

The emulator keeps its tables in memory, so restarting it would lose the table too; instead the
server is asked for a stream it does not have, which is exactly what a restarted server answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials

from headwater.api import create_app
from headwater.connectors import _bq_read
from headwater.connectors._bq_auth import BqOAuth
from headwater.connectors._bq_clients import read_client
from headwater.connectors.bigquery import BigQueryConnector
from headwater.domain import ReadRequest
from headwater.errors import TransientError
from headwater.runs.model import RunSettings, RunStatus
from headwater.service import Services
from headwater.settings import Settings
from tests.connectors.bigquery.test_bq_flow_run import COLUMNS, OAUTH, ORG
from tests.support.chain import make_chain, run_until_done
from tests.support.ids import BQ_SPEC, CATALOG, FLOW
from tests.support.tenants import make_tenant


def test_the_emulator_answers_not_found_for_a_lost_stream(bq_settings: Settings) -> None:
    client = read_client(bq_settings, AnonymousCredentials())  # type: ignore[no-untyped-call]
    try:
        with pytest.raises(gexc.NotFound):
            name = "projects/headwater-test/locations/us/sessions/gone/streams/gone"
            list(client.read_rows(name))  # type: ignore[no-untyped-call]
    finally:
        client.transport.close()  # type: ignore[no-untyped-call]


class ForgetfulReads:
    """Wraps `read_client`: the streams of the first `lose` read sessions are asked of the real server
    under names it never had, as a restarted server would see them."""

    def __init__(self, lose: int) -> None:
        self.lose, self.sessions = lose, 0
        self.lost: set[str] = set()

    def __call__(self, settings: Settings, credentials: Any) -> Any:
        client = read_client(settings, credentials)
        create, read = client.create_read_session, client.read_rows

        def create_read_session(**kwargs: Any) -> Any:
            session = create(**kwargs)
            self.sessions += 1
            if self.sessions <= self.lose:
                self.lost.add(session.name)
            return session

        def read_rows(name: str, **kwargs: Any) -> Iterator[Any]:
            if name.rsplit("/streams/", 1)[0] in self.lost:
                name = name.replace("/streams/", "/streams/lost-")
            return read(name, **kwargs)  # type: ignore[no-any-return]

        client.create_read_session = create_read_session  # type: ignore[method-assign]
        client.read_rows = read_rows  # type: ignore[method-assign]
        return client


def test_a_lost_session_is_a_transient_error_not_the_users(
    monkeypatch: pytest.MonkeyPatch, connector: BigQueryConnector, oauth: BqOAuth, mixed_table: str
) -> None:
    forgetful = ForgetfulReads(lose=1)
    for module in ("bigquery", "_bq_chunks"):  # a plain read, a chunked one
        monkeypatch.setattr(f"headwater.connectors.{module}.read_client", forgetful)
    with pytest.raises(TransientError, match="new session") as lost:
        list(connector.read(oauth, ReadRequest(mixed_table, columns=("id",))))
    assert isinstance(lost.value, _bq_read.SessionLost)
    # The next read opens a new session and gets every row.
    ids = sorted(
        v for b in connector.read(oauth, ReadRequest(mixed_table, columns=("id",))) for v in b.column(0).to_pylist()
    )
    assert ids == [1, 2, 3, 4, 5] and forgetful.sessions == 2


def test_a_run_whose_session_is_lost_retries_and_lands_every_row_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bq_settings: Settings, mixed_table: str
) -> None:
    forgetful = ForgetfulReads(lose=1)
    for module in ("bigquery", "_bq_chunks"):  # a plain read, a chunked one
        monkeypatch.setattr(f"headwater.connectors.{module}.read_client", forgetful)
    settings = bq_settings.model_copy(
        update={
            "data_dir": tmp_path / "data",
            "run_embedded_executor": False,
            "run": RunSettings(backoff_base_seconds=0.1, poll_seconds=0.05),
        }
    )
    services = Services(settings)
    services.migrate()
    tenant = make_tenant(services, ORG)
    with TestClient(create_app(settings, services=services)) as client:
        chain = make_chain(client, tenant.headers(), mixed_table, auth=OAUTH, source_spec=BQ_SPEC, columns=COLUMNS)
        assert chain.run is not None
        row = run_until_done(services, chain.run)
        preview = client.get(f"{CATALOG}/dataSets/{chain.dataset}/preview", headers=tenant.headers()).json()
        run = client.get(f"{FLOW}/runs/{chain.run}", headers=tenant.headers()).json()["items"][0]
    assert row.status is RunStatus.SUCCESS and row.attempt == 2, run
    assert forgetful.sessions == 2
    assert sorted(r["out_0"] for r in preview["data"]) == [1, 2, 3, 4, 5]
    assert run["metrics"]["recordSummary"]["outputRecordCount"] == 5
