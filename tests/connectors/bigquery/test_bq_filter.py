"""Row filters on BigQuery (the emulator): the same rows and cases as PostgreSQL, pushed down as
query parameters; the explore preview; a flow run over the API; each bad-filter class."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from google.cloud import bigquery

from headwater.api import create_app
from headwater.connectors._bq_auth import BqOAuth
from headwater.connectors.bigquery import BigQueryConnector
from headwater.domain import ReadRequest
from headwater.domain.row_filter import parse_filter
from headwater.errors import BadRequest, ConfigError
from headwater.runs.model import RunSettings, RunStatus
from headwater.service import Services
from headwater.settings import Settings
from tests.connectors.bigquery.emulator import CLIENT_ID, CLIENT_SECRET, PROJECT, REFRESH_TOKEN, TIMEOUTS
from tests.support.chain import make_chain, run_until_done
from tests.support.ids import BQ_SPEC, CATALOG, FLOW
from tests.support.pql import BAD, CASES, CITY_ROWS, b64, cmp, fn, pql
from tests.support.tenants import Tenant, make_tenant

ORG = "BQFILTER000000000000000000@AdobeOrg"
OAUTH = {
    "specName": "Basic Authentication",
    "params": {"project": PROJECT, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "refreshToken": REFRESH_TOKEN},
}
S = bigquery.SchemaField
SCHEMA = [
    S("id", "INT64", mode="REQUIRED"),
    S("city", "STRING"),
    S("amount", "NUMERIC"),
    S("born", "DATE"),
    S("seen", "TIMESTAMP"),
    S("score", "FLOAT64"),
    S("active", "BOOL"),
    S("note", "STRING"),
    S("tags", "STRING", mode="REPEATED"),
]


@pytest.fixture
def people(admin: bigquery.Client, dataset: str) -> str:
    table = admin.create_table(bigquery.Table(f"{PROJECT}.{dataset}.people", schema=SCHEMA), timeout=10)
    rows = [{**r, "tags": [f"t{r['id']}"]} for r in CITY_ROWS]
    assert admin.insert_rows_json(table, rows, timeout=10, retry=TIMEOUTS.rest_retry()) == []
    return f"{dataset}.people"


def _ids(connector: BigQueryConnector, auth: BqOAuth, table: str, node: dict[str, Any]) -> list[int]:
    request = ReadRequest(table, columns=("id",), row_filter=parse_filter(pql(node)))
    return sorted(i for batch in connector.read(auth, request) for i in batch.column(0).to_pylist())


@pytest.mark.parametrize(("node", "expected"), [(n, e) for _, n, e in CASES], ids=[c for c, _, _ in CASES])
def test_read_keeps_only_matching_rows(
    connector: BigQueryConnector, oauth: BqOAuth, people: str, node: dict[str, Any], expected: list[int]
) -> None:
    assert _ids(connector, oauth, people, node) == expected


def test_preview_and_refusals(connector: BigQueryConnector, oauth: BqOAuth, people: str) -> None:
    rows = connector.preview(oauth, people, row_filter=parse_filter(pql(cmp("=", "city", None)))).rows
    assert [r["id"] for r in rows] == [3]
    with pytest.raises(BadRequest) as raised:
        connector.preview(oauth, people, row_filter=parse_filter(pql(cmp("=", "tags", "t1"))))
    assert raised.value.code == "1379"
    with pytest.raises(ConfigError) as in_run:
        _ids(connector, oauth, people, cmp("=", "gone", 1))
    assert in_run.value.code == "1378"


# -- over the API ---------------------------------------------------------------------------------


@pytest.fixture
def api(tmp_path: Path, bq_settings: Settings) -> Iterator[tuple[TestClient, Services, Tenant]]:
    settings = bq_settings.model_copy(update={"data_dir": tmp_path / "data", "run_embedded_executor": False})
    services = Services(settings.model_copy(update={"run": RunSettings(backoff_base_seconds=0.2, poll_seconds=0.05)}))
    services.migrate()
    with TestClient(create_app(settings, services=services)) as client:
        yield client, services, make_tenant(services, ORG)


def _code(response: Any) -> str:
    return str(response.json()["type"]).rsplit("/", 1)[-1]


def test_a_flow_copies_only_the_matching_rows(api: tuple[TestClient, Services, Tenant], people: str) -> None:
    client, services, tenant = api
    h = tenant.headers()
    chain = make_chain(client, h, people, auth=OAUTH, source_spec=BQ_SPEC, columns=("id", "city"))
    etag = client.get(f"{FLOW}/sourceConnections/{chain.source}", headers=h).json()["items"][0]["etag"]
    node = fn(
        "or",
        fn("and", cmp("!=", "city", "DDN"), cmp("<", "amount", 55)),
        cmp("=", "city", None),
        cmp("=", "note", "x' OR 1=1 --"),
        cmp("=", "city", "DDN` OR TRUE --"),
    )
    patch = [{"op": "add", "path": "/params/filters", "value": pql(node)}]
    resp = client.patch(f"{FLOW}/sourceConnections/{chain.source}", json=patch, headers={**h, "If-Match": etag})
    assert resp.status_code == 200, resp.text
    assert chain.run is not None
    row = run_until_done(services, chain.run)
    assert row.status is RunStatus.SUCCESS, row
    data = client.get(f"{CATALOG}/dataSets/{chain.dataset}/preview", headers=h).json()["data"]
    assert sorted((r["out_0"], r["out_1"]) for r in data) == [(2, "Mumbai"), (3, None), (4, "Madrid"), (5, "it's")]


def test_explore_preview_and_bad_filters(api: tuple[TestClient, Services, Tenant], people: str) -> None:
    client, _, tenant = api
    h = tenant.headers()
    chain = make_chain(client, h, people, auth=OAUTH, source_spec=BQ_SPEC, columns=("id", "city"), with_run=False)
    url = f"{FLOW}/connections/{chain.connection}/explore"
    base = {"objectType": "table", "object": people, "preview": "true"}
    resp = client.get(url, headers=h, params={**base, "filters": b64(pql(cmp("like", "city", "M%")))})
    assert resp.status_code == 200, resp.text
    assert sorted(r["id"] for r in resp.json()["data"]) == [2, 4, 6]
    resp = client.get(url, headers=h, params={**base, "filters": "%%%not-base64"})
    assert resp.status_code == 400 and _code(resp) == "FLOW-1389-400", resp.text

    source = {
        "name": "src",
        "baseConnectionId": chain.connection,
        "data": {"format": "tabular"},
        "params": {"tableName": people},
        "connectionSpec": {"id": BQ_SPEC, "version": "1.0"},
    }
    for _, doc, code in BAD:
        resp = client.get(url, headers=h, params={**base, "filters": b64(doc)})
        assert resp.status_code == 400 and _code(resp) == f"FLOW-{code}-400", (doc, resp.text)
        body = {**source, "params": {"tableName": people, "filters": doc}}
        resp = client.post(f"{FLOW}/sourceConnections", headers=h, json=body)
        assert resp.status_code == 400 and _code(resp) == f"FLOW-{code}-400", (doc, resp.text)
