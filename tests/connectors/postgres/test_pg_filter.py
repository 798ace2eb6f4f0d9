"""Row filters on PostgreSQL: pushed down to the read, the explore preview and a flow run over the API.

One table (tests/support/pql.CITY_ROWS) and one list of cases that BigQuery must answer identically.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from headwater.connectors._pg_auth import PgBasicAuth
from headwater.connectors.postgres import PostgresConnector
from headwater.domain import KeyRange, ReadRequest
from headwater.domain.row_filter import parse_filter
from headwater.errors import BadRequest, ConfigError
from headwater.runs.model import RunStatus
from headwater.service import Services
from tests.connectors.postgres.conftest import Schema
from tests.support.chain import make_chain, run_until_done
from tests.support.ids import CATALOG, FLOW, PG_SPEC
from tests.support.pql import BAD, CASES, CITY_ROWS, b64, cmp, fn, pql
from tests.support.tenants import Tenant

WEIRD = 'Weird "Col"; --'


def _seed(schema: Schema) -> str:
    schema.execute(
        "CREATE TABLE {s}.people (id int PRIMARY KEY, city text, amount numeric(10,2), born date, "
        'seen timestamptz, score double precision, active boolean, note text, "Weird ""Col""; --" text)'
    )
    for row in CITY_ROWS:
        schema.conn.execute(
            sql.SQL("INSERT INTO {}.people VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)").format(
                sql.Identifier(schema.name)
            ),
            [*(row[k] for k in ("id", "city", "amount", "born", "seen", "score", "active", "note")), f"w{row['id']}"],
        )
    return schema.path("people")


@pytest.fixture
def people(schema: Schema) -> str:
    return _seed(schema)


def _ids(connector: PostgresConnector, auth: PgBasicAuth, table: str, node: dict[str, Any], **kw: Any) -> list[int]:
    request = ReadRequest(table, columns=("id",), row_filter=parse_filter(pql(node)), **kw)
    return sorted(i for batch in connector.read(auth, request) for i in batch.column(0).to_pylist())


@pytest.mark.parametrize(("node", "expected"), [(n, e) for _, n, e in CASES], ids=[c for c, _, _ in CASES])
def test_read_keeps_only_matching_rows(
    connector: PostgresConnector, auth: PgBasicAuth, people: str, node: dict[str, Any], expected: list[int]
) -> None:
    assert _ids(connector, auth, people, node) == expected


def test_like_escapes_a_column_with_quotes_and_partitioned_reads(
    connector: PostgresConnector, auth: PgBasicAuth, people: str
) -> None:
    assert _ids(connector, auth, people, cmp("like", "city", "M\\%%")) == [6]
    assert _ids(connector, auth, people, cmp("like", "city", "M_%")) == [2, 4, 6]
    # A column whose name holds a quote and a comment marker is a quoted identifier, nothing more.
    assert _ids(connector, auth, people, cmp("=", WEIRD, "w4")) == [4]
    # Each key-range partition of a parallel read carries the filter.
    parts = _ids(
        connector,
        auth,
        people,
        cmp("!=", "city", "DDN"),
        parallelism=4,
        options={"min_partition_rows": 1},
    )
    assert parts == [2, 4, 5, 6]
    assert _ids(connector, auth, people, cmp(">", "id", 2), partition=KeyRange("id", 1, 5)) == [3, 4]


def test_a_filter_the_table_no_longer_fits_fails_the_read_as_configuration(
    connector: PostgresConnector, auth: PgBasicAuth, people: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        _ids(connector, auth, people, cmp("=", "gone", 1))
    assert raised.value.code == "1378"


def test_preview_honours_the_filter(connector: PostgresConnector, auth: PgBasicAuth, people: str) -> None:
    rows = connector.preview(auth, people, row_filter=parse_filter(pql(cmp("=", "city", None)))).rows
    assert [r["id"] for r in rows] == [3]
    with pytest.raises(BadRequest) as raised:
        connector.preview(auth, people, row_filter=parse_filter(pql(cmp("=", "amount", "ten"))))
    assert raised.value.code == "1379"


# -- over the API ---------------------------------------------------------------------------------


def _code(response: Any) -> str:
    return str(response.json()["type"]).rsplit("/", 1)[-1]


def _source_body(connection: str, table: str, filters: Any) -> dict[str, Any]:
    return {
        "name": "src",
        "baseConnectionId": connection,
        "data": {"format": "tabular"},
        "params": {"tableName": table, "filters": filters},
        "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
    }


def test_a_flow_copies_only_the_matching_rows(
    client: TestClient, services: Services, tenant: Tenant, people: str
) -> None:
    h = tenant.headers()
    chain = make_chain(client, h, people, columns=("id", "city", "note"))
    source = client.get(f"{FLOW}/sourceConnections/{chain.source}", headers=h).json()["items"][0]
    # NULL cities kept explicitly; two injection attempts in values match only what they literally say.
    node = fn(
        "or",
        fn("and", cmp("!=", "city", "DDN"), cmp("<", "amount", 55)),
        cmp("=", "city", None),
        cmp("=", "note", "x' OR 1=1 --"),
        cmp("=", "city", "DDN'); DROP TABLE people; --"),
    )
    patch = [{"op": "add", "path": "/params/filters", "value": pql(node)}]
    resp = client.patch(
        f"{FLOW}/sourceConnections/{chain.source}", json=patch, headers={**h, "If-Match": source["etag"]}
    )
    assert resp.status_code == 200, resp.text
    assert chain.run is not None
    row = run_until_done(services, chain.run)
    assert row.status is RunStatus.SUCCESS, row
    run = client.get(f"{FLOW}/runs/{chain.run}", headers=h).json()["items"][0]
    assert run["metrics"]["recordSummary"]["outputRecordCount"] == 4
    data = client.get(f"{CATALOG}/dataSets/{chain.dataset}/preview", headers=h).json()["data"]
    assert sorted((r["out_0"], r["out_1"]) for r in data) == [(2, "Mumbai"), (3, None), (4, "Madrid"), (5, "it's")]
    # The source table is untouched by the injection attempt.
    assert len(client.get(f"{FLOW}/connections/{chain.connection}/explore", headers=h, params={
        "objectType": "table", "object": people, "preview": "true"}).json()["data"]) == 6  # fmt: skip


@pytest.mark.parametrize(("doc", "code"), [(d, c) for _, d, c in BAD], ids=[c for c, _, _ in BAD])
def test_each_bad_filter_is_refused_at_creation_and_patch(
    client: TestClient, tenant: Tenant, people: str, doc: Any, code: str
) -> None:
    h = tenant.headers()
    chain = make_chain(client, h, people, columns=("id", "city"), with_run=False)
    resp = client.post(f"{FLOW}/sourceConnections", headers=h, json=_source_body(chain.connection, people, doc))
    assert resp.status_code == 400 and _code(resp) == f"FLOW-{code}-400", resp.text
    assert "Invalid row filter" in resp.json()["errorMessage"]
    etag = client.get(f"{FLOW}/sourceConnections/{chain.source}", headers=h).json()["items"][0]["etag"]
    patch = [{"op": "add", "path": "/params/filters", "value": doc}]
    resp = client.patch(f"{FLOW}/sourceConnections/{chain.source}", json=patch, headers={**h, "If-Match": etag})
    assert resp.status_code == 400 and _code(resp) == f"FLOW-{code}-400", resp.text


def test_explore_preview_applies_the_filter(client: TestClient, tenant: Tenant, people: str) -> None:
    h = tenant.headers()
    chain = make_chain(client, h, people, columns=("id", "city"), with_run=False)
    url = f"{FLOW}/connections/{chain.connection}/explore"
    base = {"objectType": "table", "object": people, "preview": "true"}
    resp = client.get(url, headers=h, params={**base, "filters": b64(pql(cmp("like", "city", "M%")))})
    assert resp.status_code == 200, resp.text
    assert sorted(r["id"] for r in resp.json()["data"]) == [2, 4, 6]
    assert [c["name"] for c in resp.json()["schema"]["columns"]][:2] == ["id", "city"]

    for filters, code in [
        ("%%%not-base64", "1389"),
        (b64("not an object")[:-2] + "!!", "1389"),
        (b64(pql(cmp("=", "nope", 1))), "1378"),
        (b64(pql(cmp("=", "amount", "ten"))), "1379"),
        (b64({"type": "PQL", "format": "pql/json", "value": fn("not")}), "1390"),
        (b64(BAD[0][1]), "1355"),
    ]:
        resp = client.get(url, headers=h, params={**base, "filters": filters})
        assert resp.status_code == 400 and _code(resp) == f"FLOW-{code}-400", (filters, resp.text)
    # A filter is refused where it could not apply, rather than silently ignored.
    no_preview = client.get(url, headers=h, params={**base, "preview": "false", "filters": b64(pql(cmp("=", "id", 1)))})
    assert no_preview.status_code == 400
    root = client.get(url, headers=h, params={"objectType": "root", "filters": b64(pql(cmp("=", "id", 1)))})
    assert root.status_code == 400
