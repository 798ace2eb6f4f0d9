"""A BigQuery flow run reads its session's streams as chunks: an attempt that dies after staging some
streams is followed by one that reads only the others, from the same read session, and the run's one
commit holds every row once (runs/staging.py, connectors/_bq_chunks.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from google.cloud import bigquery

from headwater.api import create_app
from headwater.errors import TransientError
from headwater.lake import DatasetIdent, namespace_for
from headwater.runs.model import RunSettings, RunStatus
from headwater.service import Services
from headwater.settings import Settings
from tests.connectors.bigquery.test_bq_flow_run import OAUTH
from tests.connectors.bigquery.test_bq_resume import ROWS, Sessions, create_events
from tests.support.chain import make_chain, run_until_done
from tests.support.ids import BQ_SPEC
from tests.support.tenants import make_tenant

ORG = "BQCHUNKS000000000000000000@AdobeOrg"


class DiesOnSecondStream(Sessions):
    """The first attempt's worker is lost as it opens the session's second stream (the first one read
    and staged); later attempts read normally."""

    def __init__(self) -> None:
        super().__init__()
        self.died = False

    def before_read(self, stream: str) -> None:
        if stream.endswith("/streams/1") and not self.died:
            self.died = True
            raise TransientError("the worker was lost")


def test_a_retried_attempt_reads_only_the_streams_not_staged_from_the_same_session(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bq_settings: Settings, admin: bigquery.Client, dataset: str
) -> None:
    table = create_events(admin, dataset)
    reads = DiesOnSecondStream()
    monkeypatch.setattr("headwater.connectors._bq_chunks.read_client", reads)
    settings = bq_settings.model_copy(
        update={
            "data_dir": tmp_path / "data",
            "run_embedded_executor": False,
            "bigquery_stream_rows": 100_000,  # three streams
            # One reader: the streams are read one after the other, so the first is staged before the second opens.
            "run": RunSettings(backoff_base_seconds=0.1, poll_seconds=0.05, read_parallelism=1),
        }
    )
    services = Services(settings)
    services.migrate()
    tenant = make_tenant(services, ORG)
    with TestClient(create_app(settings, services=services)) as client:
        chain = make_chain(client, tenant.headers(), table, auth=OAUTH, source_spec=BQ_SPEC, columns=("id", "label"))
        assert chain.run is not None
        row = run_until_done(services, chain.run)
    assert row.status is RunStatus.SUCCESS and row.attempt == 2, row
    assert reads.died and reads.created == 1  # the second attempt went on in the first one's session
    (activity,) = row.doc["activities"]
    chunking = activity["statusSummary"]["extensions"]["chunking"]
    assert chunking["path"] == "bigquery-read-streams" and chunking["chunks"] == 3, chunking
    assert (chunking["resumedChunks"], chunking["readChunks"]) == (1, 2), chunking
    ((_, name),) = services.lake.catalog.list_tables(namespace_for(ORG, "prod"))
    landed = services.lake.scan(DatasetIdent(namespace_for(ORG, "prod"), name)).column("out_0").to_pylist()
    assert len(landed) == ROWS and sorted(landed) == list(range(1, ROWS + 1))
