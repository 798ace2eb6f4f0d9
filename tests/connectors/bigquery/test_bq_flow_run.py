"""A BigQuery source end to end: connection, flow and run over the API, into an Iceberg dataset.

Both read paths are run: the Storage Read API, and the REST fallback, which the run must announce
on its copy activity (`statusSummary.extensions.notices`) so a user sees why it was slow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headwater.api import create_app
from headwater.runs.model import RunSettings, RunStatus
from headwater.service import Services
from headwater.settings import Settings
from tests.connectors.bigquery.emulator import CLIENT_ID, CLIENT_SECRET, PROJECT, REFRESH_TOKEN
from tests.support.chain import make_chain, run_until_done
from tests.support.ids import BQ_SPEC, FLOW
from tests.support.net import free_port
from tests.support.tenants import make_tenant

ORG = "BQFLOW00000000000000000000@AdobeOrg"
COLUMNS = ("id", "amount", "name", "updated_at", "tags", "address")
OAUTH = {
    "specName": "Basic Authentication",
    "params": {"project": PROJECT, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "refreshToken": REFRESH_TOKEN},
}


def _unused_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"


def _run_flow(settings: Settings, table: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    run = RunSettings(backoff_base_seconds=0.2, poll_seconds=0.05)
    services = Services(settings.model_copy(update={"run": run}))
    services.migrate()
    tenant = make_tenant(services, ORG)
    with TestClient(create_app(settings, services=services)) as client:
        chain = make_chain(client, tenant.headers(), table, auth=OAUTH, source_spec=BQ_SPEC, columns=COLUMNS)
        assert chain.run is not None
        row = run_until_done(services, chain.run)
        run = client.get(f"{FLOW}/runs/{chain.run}", headers=tenant.headers()).json()["items"][0]
        preview = client.get(
            f"/data/foundation/catalog/dataSets/{chain.dataset}/preview", headers=tenant.headers()
        ).json()
    assert row.status is RunStatus.SUCCESS, run
    return run, preview["data"]


@pytest.mark.parametrize("path", ["storage-read", "rest-fallback"])
def test_a_bigquery_flow_lands_every_row_in_the_dataset(
    path: str, tmp_path: Path, bq_settings: Settings, mixed_table: str
) -> None:
    update: dict[str, Any] = {"data_dir": tmp_path / "data", "run_embedded_executor": False}
    if path == "rest-fallback":
        update |= {"bigquery_read_endpoint": _unused_endpoint(), "bigquery_deadline_seconds": 1.0}
    run, rows = _run_flow(bq_settings.model_copy(update=update), mixed_table)

    assert run["metrics"]["recordSummary"]["outputRecordCount"] == 5
    by_id = {r["out_0"]: r for r in rows}
    assert sorted(by_id) == [1, 2, 3, 4, 5]
    assert by_id[3]["out_2"] == "it's"
    assert by_id[2]["out_1"] == "2.125000000"  # NUMERIC is decimal128(38, 9): exact, shown as text
    assert by_id[4]["out_4"] == ["t4", "x"] and by_id[4]["out_5"] == {"city": "c4", "zips": [4, 5]}
    notices = run["activities"][0]["statusSummary"]["extensions"].get("notices", [])
    if path == "rest-fallback":
        assert len(notices) == 1 and "REST tabledata.list" in notices[0], run["activities"]
    else:
        assert notices == [], notices
