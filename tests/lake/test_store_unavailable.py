"""An object store that cannot be reached is an outage, not a bug: runs retry, the API answers 503.

The errors are real: pyarrow's S3 client against a loopback port nothing listens on.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs
import pytest
from fastapi.testclient import TestClient

from headwater.api import create_app
from headwater.lake import store_unavailable
from headwater.runs.model import RunEvent, RunSettings, Stage, decide
from headwater.service import Services
from headwater.settings import S3Settings, Settings
from tests.support.ids import CATALOG
from tests.support.net import free_port
from tests.support.tenants import make_tenant


def _unreachable_store_error() -> OSError:
    store = pafs.S3FileSystem(
        endpoint_override=f"127.0.0.1:{free_port()}",
        scheme="http",
        access_key="k",
        secret_key="s",
        region="us-east-1",
        connect_timeout=1,
        request_timeout=1,
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1),
    )
    with pytest.raises(OSError) as raised:
        store.open_input_file("bucket/key")
    return raised.value


def test_an_unreachable_store_is_retried_and_a_refusal_is_not() -> None:
    outage = _unreachable_store_error()
    assert store_unavailable(outage)
    decision = decide(outage, stage=Stage.PROCESS, attempt=1, settings=RunSettings())
    assert decision.event is RunEvent.RETRY and decision.code == "CONNECTOR-2001-503"
    assert "127.0.0.1" not in decision.message  # the store's own text stays in the log
    assert not store_unavailable(PermissionError("Access Denied"))
    assert not store_unavailable(OSError("AWS Error ACCESS_DENIED during PutObject operation"))


def test_the_api_answers_503_while_the_warehouse_store_is_down(tmp_path: Path) -> None:
    s3 = S3Settings(endpoint=f"http://127.0.0.1:{free_port()}", region="us-east-1")
    settings = Settings(data_dir=tmp_path / "data", warehouse="s3://warehouse/lake", s3=s3, run_embedded_executor=False)
    services = Services(settings)
    services.migrate()
    tenant = make_tenant(services, "S3DOWN0000000000000000000@AdobeOrg")
    with TestClient(create_app(settings, services=services), raise_server_exceptions=False) as client:
        body = {"name": "ds", "schema": {"columns": [{"name": "id", "type": "long"}]}}
        resp = client.post(f"{CATALOG}/dataSets", json=body, headers=tenant.headers())
        listed = client.get(f"{CATALOG}/dataSets", headers=tenant.headers())
    assert resp.status_code == 503, resp.text
    assert "object store is unreachable" in resp.json()["errorMessage"]
    assert "127.0.0.1" not in resp.text
    assert listed.status_code == 200 and listed.json() == {}, listed.text  # nothing half-created
