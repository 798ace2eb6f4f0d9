"""Runs tell the truth, through a real `headwater serve`, the local PostgreSQL and the CLI.

Failed runs report no output; partial ingestion sets bad rows aside (or fails and commits nothing);
`options.writeMode` replace; `params.runNow` for recurring flows; and the one preview rule on the
PostgreSQL explore preview, the dataset preview and `headwater datasets preview --json`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.runs.settled import wait_settled
from tests.support.ids import CATALOG, CONVERSION, CRM_TO_AEP, FLOW, LAKE_SPEC, PG_SPEC
from tests.support.pg import pg_admin
from tests.support.server import LiveServer, cli, gateway_headers, start_server

pytestmark = pytest.mark.slow  # a `headwater serve` process for the module

ORG = "5C1328435BF324E90A49402A@AdobeOrg"
BAD_IDS = (50,)  # rows whose `code` is not a number: cast(code, 'long') fails on them


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = start_server(
        tmp_path_factory.mktemp("live_runs"),
        extra_env={
            "HEADWATER_SCHEDULER_INTERVAL_SECONDS": "0.5",
            "HEADWATER_RUN_POLL_SECONDS": "0.2",
            "HEADWATER_RUN_BACKOFF_BASE_SECONDS": "0.2",
        },
    )
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    headers = {
        **gateway_headers(server, ORG),
        "x-sandbox-name": f"s{uuid.uuid4().hex[:8]}",  # a new sandbox: its first runs create its namespace
    }
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as c:
        yield c


@pytest.fixture
def table() -> Iterator[str]:
    """100 rows: NaN, ±Infinity and NULL floats, a numeric 0 (`0E-9` in scientific notation), one bad code."""
    schema = f"hw_live_{uuid.uuid4().hex[:8]}"
    with pg_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".t (id bigint primary key, f double precision, n numeric, code text)')
        conn.execute(
            f'INSERT INTO "{schema}".t SELECT g, '
            "CASE g WHEN 1 THEN 'NaN'::float8 WHEN 2 THEN 'Infinity' WHEN 3 THEN '-Infinity' WHEN 4 THEN NULL "
            "ELSE g * 1.5 END, CASE WHEN g = 1 THEN 0 ELSE g END, "
            f"CASE WHEN g IN ({','.join(map(str, BAD_IDS))}) THEN 'x' || g ELSE g::text END "
            "FROM generate_series(1, 100) g"
        )
    try:
        yield f"{schema}.t"
    finally:
        with pg_admin() as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def ok(resp: httpx.Response, status: int = 201) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def code_of(resp: httpx.Response) -> str:
    return str(resp.json()["type"]).rsplit("/", 1)[-1]


def chain(
    client: httpx.Client,
    table: str,
    *,
    cast: bool,
    options: dict[str, Any] | None = None,
    recurring: bool = False,
) -> tuple[str, str, str]:
    """connection → source → dataset → target → mapping → flow; returns (connection, dataset, flow) ids."""
    conn = ok(
        client.post(
            f"{FLOW}/connections",
            json={
                "name": "pg",
                "auth": {
                    "specName": "Basic Authentication",
                    "params": {
                        "server": "127.0.0.1",
                        "port": 5432,
                        "database": "postgres",
                        "username": "postgres",
                        "password": "unused",
                        "sslMode": "Disable",
                    },
                },
                "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
            },
        )
    )["id"]
    source = ok(
        client.post(
            f"{FLOW}/sourceConnections",
            json={
                "name": "src",
                "baseConnectionId": conn,
                "data": {"format": "tabular"},
                "params": {"tableName": table},
                "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
            },
        )
    )["id"]
    dataset = ok(client.post(f"{CATALOG}/dataSets", json={"name": "ds"}))[0].split("/")[-1]
    target = ok(
        client.post(
            f"{FLOW}/targetConnections",
            json={
                "name": "lake",
                "data": {"schema": {"id": "x", "version": "1"}},
                "params": {"dataSetId": dataset},
                "connectionSpec": {"id": LAKE_SPEC, "version": "1.0"},
            },
        )
    )["id"]
    mappings: list[dict[str, Any]] = [
        {"destinationXdmPath": c, "sourceAttribute": c, "identity": False, "version": 0} for c in ("id", "f", "n")
    ]
    if cast:
        mappings.append({"sourceType": "EXPRESSION", "source": "cast(code, 'long')", "destination": "code_number"})
    mapping_body = {"version": 0, "xdmSchema": "x", "mappings": mappings}
    mapping = ok(client.post(f"{CONVERSION}/mappingSets", json=mapping_body), 200)  # Data Prep's create answers 200
    schedule: dict[str, Any] = {"startTime": str(int(time.time()) + 3600), "frequency": "once"}
    transformations: list[dict[str, Any]] = [{"name": "Mapping", "params": {"mappingId": mapping["id"]}}]
    if recurring:
        schedule |= {"frequency": "hour", "interval": "1", "backfill": "true"}
        transformations.insert(0, {"name": "Copy", "params": {"deltaColumn": {"name": "id"}}})
    body: dict[str, Any] = {
        "name": "flow",
        "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
        "sourceConnectionIds": [source],
        "targetConnectionIds": [target],
        "transformations": transformations,
        "scheduleParams": schedule,
    }
    if options is not None:
        body["options"] = options
    return conn, dataset, ok(client.post(f"{FLOW}/flows", json=body))["id"]


def run(client: httpx.Client, flow: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Start a run and wait for it to end; the run object."""
    body: dict[str, Any] = {"flowId": flow} | ({"params": params} if params is not None else {})
    run_id = ok(client.post(f"{FLOW}/runs", json=body))["items"][0]["id"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        item: dict[str, Any] = ok(client.get(f"{FLOW}/runs/{run_id}"), 200)["items"][0]
        if item["metrics"]["statusSummary"]["status"] in ("success", "failed", "cancelled"):
            return item
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish")


def dataset_view(client: httpx.Client, dataset: str) -> dict[str, Any]:
    view: dict[str, Any] = ok(client.get(f"{CATALOG}/dataSets/{dataset}"), 200)[dataset]
    return view


def test_a_failed_run_reports_no_output_and_commits_nothing(client: httpx.Client, table: str) -> None:
    _, dataset, flow = chain(client, table, cast=True)
    item = run(client, flow)
    assert item["metrics"]["statusSummary"]["status"] == "failed", item
    assert "cast" in json.dumps(item["metrics"]["statusSummary"]["errors"]) or "parse" in json.dumps(item)
    summary = item["metrics"]["recordSummary"]
    assert summary["outputRecordCount"] == 0 and summary["inputRecordCount"] == 100, summary
    assert item["metrics"]["sizeSummary"]["outputBytes"] == 0
    assert item["activities"][0]["recordSummary"]["outputRecordCount"] == 0
    assert dataset_view(client, dataset)["iceberg"]["dataFiles"] == 0


def test_partial_ingestion_sets_bad_rows_aside_and_reads_them_back(client: httpx.Client, table: str) -> None:
    _, dataset, flow = chain(
        client, table, cast=True, options={"partialIngestionPercent": 5, "errorDiagnosticsEnabled": True}
    )
    item = run(client, flow)
    status = item["metrics"]["statusSummary"]
    assert status["status"] == "success", item
    assert item["metrics"]["recordSummary"] == {
        "inputRecordCount": 100,
        "outputRecordCount": 99,
        "failedRecordCount": 1,
    }
    assert [e["code"] for e in status["errors"]] == ["INGEST-1212-400"]
    assert {"code": "MAPPER-3700-400", "recordCount": 1, "message": "Mapper Transform Error"} in status["extensions"][
        "errors"
    ]
    link = status["extensions"]["manifest"]["failedRecords"]
    assert link == f"{FLOW}/runs/{item['id']}/failedRecords"
    failed = ok(client.get(link), 200)
    assert failed["failedRecordCount"] == 1 and failed["truncated"] is False
    [record] = failed["items"]
    assert record["record"]["id"] == 50 and record["record"]["code"] == "x50"
    assert record["code"] == "MAPPER-3700-400" and "code_number" in record["reason"]
    preview = ok(client.get(f"{CATALOG}/dataSets/{dataset}/preview"), 200)
    assert preview["rowCount"] == 99


def test_without_diagnostics_only_reasons_are_kept(client: httpx.Client, table: str) -> None:
    _, _, flow = chain(client, table, cast=True, options={"partialIngestionPercent": 1})
    item = run(client, flow)
    assert item["metrics"]["statusSummary"]["status"] == "success", item
    [record] = ok(client.get(f"{FLOW}/runs/{item['id']}/failedRecords"), 200)["items"]
    assert "record" not in record and "code_number" in record["reason"]


def test_above_the_threshold_the_run_fails_and_commits_nothing(client: httpx.Client, table: str) -> None:
    _, dataset, flow = chain(
        client, table, cast=True, options={"partialIngestionPercent": 0.5, "errorDiagnosticsEnabled": True}
    )
    item = run(client, flow)
    assert item["metrics"]["statusSummary"]["status"] == "failed", item
    message = item["metrics"]["statusSummary"]["errors"][0]["message"]
    assert "above the flow's partialIngestionPercent of 0.5" in message and "nothing was committed" in message
    assert item["metrics"]["recordSummary"] == {"inputRecordCount": 100, "outputRecordCount": 0, "failedRecordCount": 1}
    assert ok(client.get(f"{FLOW}/runs/{item['id']}/failedRecords"), 200)["items"][0]["record"]["id"] == 50
    assert dataset_view(client, dataset)["iceberg"]["dataFiles"] == 0


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"partialIngestionPercent": 0}, "partialIngestionPercent"),
        ({"partialIngestionPercent": 101}, "partialIngestionPercent"),
        ({"partialIngestionPercent": "5"}, "partialIngestionPercent"),
        ({"errorDiagnosticsEnabled": "yes"}, "errorDiagnosticsEnabled"),
        ({"writeMode": "upsert"}, "writeMode"),
        ({"inletUrl": "x"}, "streaming"),
    ],
)
def test_options_that_cannot_be_honoured_are_refused(
    client: httpx.Client, table: str, options: dict[str, Any], says: str
) -> None:
    with pytest.raises(AssertionError, match=says):
        chain(client, table, cast=False, options=options)


def test_write_mode_replace_makes_a_rerun_replace_the_dataset(client: httpx.Client, table: str) -> None:
    _, appended, append_flow = chain(client, table, cast=False)
    _, replaced, replace_flow = chain(client, table, cast=False, options={"writeMode": "replace"})
    for _ in range(2):
        assert run(client, append_flow)["metrics"]["statusSummary"]["status"] == "success"
        assert run(client, replace_flow)["metrics"]["statusSummary"]["status"] == "success"
    assert ok(client.get(f"{CATALOG}/dataSets/{appended}/preview"), 200)["rowCount"] == 200  # append: documented
    assert ok(client.get(f"{CATALOG}/dataSets/{replaced}/preview"), 200)["rowCount"] == 100
    with pytest.raises(AssertionError, match="writeMode replace needs frequency once"):
        chain(client, table, cast=False, options={"writeMode": "replace"}, recurring=True)


def test_run_now_runs_a_recurring_flows_next_window(client: httpx.Client, table: str) -> None:
    with pg_admin() as conn:
        wait_settled(conn)  # rows committed under another session's open transaction would wait a run
    _, dataset, flow = chain(client, table, cast=False, recurring=True)
    plain = client.post(f"{FLOW}/runs", json={"flowId": flow})
    assert code_of(plain) == "FLOW-1386-400" and "runNow" in plain.text  # Adobe's answer stays
    for params in ({"runNow": False}, {"runNow": 1}, {"runNow": True, "windowStartTime": "1651584991"}):
        assert code_of(client.post(f"{FLOW}/runs", json={"flowId": flow, "params": params})) == "FLOW-1380-400"
    item = run(client, flow, {"runNow": True})
    assert item["metrics"]["statusSummary"]["status"] == "success", item
    assert item["params"] == {"runNow": True} and item["providerRefId"].startswith("incremental-")
    assert item["activities"][0]["statusSummary"]["extensions"]["type"] == "incremental"
    # The cursor moved: a second run now reads only what came after the first one's window.
    again = run(client, flow, {"runNow": True})
    assert again["metrics"]["statusSummary"]["status"] == "success", again
    rows = ok(client.get(f"{CATALOG}/dataSets/{dataset}/preview"), 200)["rowCount"]
    assert (
        rows
        == item["metrics"]["recordSummary"]["outputRecordCount"]
        + again["metrics"]["recordSummary"]["outputRecordCount"]
    )
    assert rows in (99, 100)  # the id cursor may hold the newest id back for the next window (docs/incremental.md)
    _, _, once = chain(client, table, cast=False)
    assert code_of(client.post(f"{FLOW}/runs", json={"flowId": once, "params": {"runNow": True}})) == "FLOW-1380-400"


def _no_bare_constants(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"bare {name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_every_preview_follows_one_rule(server: LiveServer, client: httpx.Client, table: str) -> None:
    conn, dataset, flow = chain(client, table, cast=False)
    explore = client.get(
        f"{FLOW}/connections/{conn}/explore", params={"objectType": "table", "object": table, "preview": "true"}
    )
    by_id = {r["id"]: r for r in _no_bare_constants(ok(explore, 200) and explore.text)["data"]}
    assert [by_id[i]["f"] for i in (1, 2, 3, 4, 5)] == ["NaN", "Infinity", "-Infinity", None, 7.5]
    assert by_id[1]["n"] == "0.000000000" and by_id[5]["n"] == "5.000000000"

    assert run(client, flow)["metrics"]["statusSummary"]["status"] == "success"
    served = client.get(f"{CATALOG}/dataSets/{dataset}/preview")
    landed = {r["id"]: r for r in _no_bare_constants(ok(served, 200) and served.text)["data"]}
    assert [landed[i]["f"] for i in (1, 2, 3, 4, 5)] == ["NaN", "Infinity", "-Infinity", None, 7.5]
    assert landed[1]["n"] == "0.000000000"

    sandbox = client.headers["x-sandbox-name"]
    printed = cli(
        server.data_dir, "datasets", "preview", dataset, "--org", ORG, "--sandbox", sandbox, "--limit", "100", "--json"
    )
    from_cli = {r["id"]: r for r in _no_bare_constants(printed)["data"]}
    assert from_cli == landed and Path(_no_bare_constants(printed)["dataFiles"][0]).exists()
