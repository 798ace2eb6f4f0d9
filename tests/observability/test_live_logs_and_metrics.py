"""A real `headwater serve` (two web workers, JSON logs at DEBUG): what its stderr and GET /metrics show.

One server for the module: requests, a flow run from a password-bearing PostgreSQL connection,
then the server's own log and a scrape, read with prometheus_client's parser.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.chain import basic_auth, make_chain
from tests.support.ids import FLOW
from tests.support.net import wait_for
from tests.support.pg import pg_table
from tests.support.server import LiveServer, cli, start_server

pytestmark = pytest.mark.slow  # a `headwater serve` with two worker processes, and a flow run

ORG = "0B5E2VAB1E0000000000000A@AdobeOrg"
ROWS = 37
GETS = 12


@dataclass
class Scenario:
    server: LiveServer
    password: str
    client_secret: str
    token: str
    connection_id: str
    run_id: str
    request_ids: list[str]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    data = Path(tmp_path_factory.mktemp("observed"))
    server = start_server(
        data,
        {
            "HEADWATER_WEB_WORKERS": "2",
            "HEADWATER_LOG_LEVEL": "debug",
            "HEADWATER_LOG_FORMAT": "json",
            "HEADWATER_SCHEDULER_INTERVAL_SECONDS": "0.5",
            "HEADWATER_RUN_POLL_SECONDS": "0.2",
        },
        timeout=180,  # two workers each import all of Headwater before they answer
    )
    try:
        wait_for("both web workers", lambda: server.log_text().count("Application startup complete") >= 2, timeout=180)
        creds = json.loads(cli(data, "credentials", "create", "--org", ORG, "--json"))
        form = {"grant_type": "client_credentials", **{k: creds[k] for k in ("client_id", "client_secret")}}
        token = httpx.post(f"{server.base_url}/ims/token/v3", data=form, timeout=30).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "x-api-key": creds["client_id"],
            "x-gw-ims-org-id": ORG,
            "x-sandbox-name": "prod",
        }
        password = f"pw-{uuid.uuid4().hex}"  # the local server trusts loopback: any password connects
        with pg_table("hw_obs", rows=ROWS) as table, httpx.Client(base_url=server.base_url, timeout=30) as client:
            chain = make_chain(client, headers, table, auth=basic_auth(password))
            assert chain.run is not None
            request_ids = []
            for i in range(GETS):
                rid = f"obs-{i}-{uuid.uuid4().hex[:8]}"
                got = client.get(f"{FLOW}/connections/{chain.connection}", headers={**headers, "x-request-id": rid})
                assert got.status_code == 200, got.text
                request_ids.append(rid)
            run_id = chain.run

            def finished() -> bool:
                got = client.get(f"{FLOW}/runs/{run_id}", headers=headers).json()
                status: str = got["items"][0]["metrics"]["statusSummary"]["status"]
                assert status not in ("failed", "cancelled"), got
                return status == "success"

            wait_for("the run to succeed", finished, timeout=120, every=0.3)
        yield Scenario(server, password, creds["client_secret"], token, chain.connection, run_id, request_ids)
    finally:
        server.stop()


def _lines(server: LiveServer) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]


def test_every_line_is_json_and_headwater_info_lines_appear(scenario: Scenario) -> None:
    text = scenario.server.log_text()
    not_json = [line for line in text.splitlines() if line.strip() and not line.startswith("{")]
    # A traceback is inside its line's "exception" field, so every line of stderr is one JSON object.
    assert not not_json, not_json[:5]
    lines = _lines(scenario.server)
    assert any(x["logger"] == "headwater.runs.executor" and x["level"] == "INFO" for x in lines)
    assert {x["pid"] for x in lines if x["logger"] == "uvicorn.access"} - {scenario.server.process.pid}


def test_the_request_id_is_on_the_lines_of_its_request(scenario: Scenario) -> None:
    lines = _lines(scenario.server)
    for rid in scenario.request_ids:
        tagged = [x for x in lines if x.get("request_id") == rid]
        access = [x for x in tagged if x["logger"] == "uvicorn.access"]
        assert len(access) == 1 and "GET /data/foundation/flowservice/connections/" in access[0]["message"], tagged


def test_the_run_id_is_on_the_lines_of_its_run(scenario: Scenario) -> None:
    lines = _lines(scenario.server)
    tagged = [x for x in lines if x.get("run_id") == scenario.run_id]
    assert any("-> success" in x["message"] for x in tagged), tagged
    mentions = [x for x in lines if scenario.run_id in x["message"] and x["logger"].startswith("headwater.runs")]
    assert mentions and all(x.get("run_id") == scenario.run_id for x in mentions), mentions


def test_no_secret_reaches_the_log(scenario: Scenario) -> None:
    text = scenario.server.log_text()
    assert scenario.connection_id in text  # the log does name what happened, just not its secrets
    for secret in (scenario.password, scenario.client_secret, scenario.token, scenario.token.split(".")[2]):
        assert secret not in text


def _scrape(server: LiveServer) -> dict[str, Any]:
    response = httpx.get(f"{server.base_url}/metrics", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {"text": response.text, "families": {f.name: f for f in text_string_to_metric_families(response.text)}}


def _value(families: dict[str, Any], family: str, sample: str, **labels: str) -> float:
    found = [
        s.value
        for s in families[family].samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return float(sum(found))


def test_metrics_sum_every_worker_and_show_the_run(scenario: Scenario) -> None:
    route = "/data/foundation/flowservice/connections/{connection_id}"
    pids = set()
    deadline = time.monotonic() + 30
    while len(pids) < 2 and time.monotonic() < deadline:  # scrape until both workers have answered one
        scraped = _scrape(scenario.server)
        families = scraped["families"]
        # Whichever worker answers, the figures are the server's: every GET is counted.
        assert (
            _value(
                families,
                "headwater_http_request_duration_seconds",
                "headwater_http_request_duration_seconds_count",
                method="GET",
                route=route,
                status="200",
            )
            >= GETS
        )
        pids.add(_pid_of_last_scrape(scenario.server))
    assert len(pids) == 2, "every scrape was answered by the same worker"

    assert _value(families, "headwater_runs", "headwater_runs", status="success") >= 1
    assert _value(families, "headwater_runs", "headwater_runs", status="failed") == 0
    assert _value(families, "headwater_run_rows", "headwater_run_rows_total", stage="read") == ROWS
    assert _value(families, "headwater_run_rows", "headwater_run_rows_total", stage="written") == ROWS
    assert _value(families, "headwater_run_bytes", "headwater_run_bytes_total", stage="written") > 0
    duration = "headwater_run_duration_seconds"
    assert _value(families, duration, f"{duration}_count", status="success") == 1
    lag = "headwater_scheduler_lag_seconds"
    assert _value(families, lag, f"{lag}_count") == 1


def _pid_of_last_scrape(server: LiveServer) -> int:
    scrapes = [x for x in _lines(server) if x["logger"] == "uvicorn.access" and "GET /metrics" in x["message"]]
    return int(scrapes[-1]["pid"])


def test_metrics_name_no_tenant_resource_or_secret(scenario: Scenario) -> None:
    text = _scrape(scenario.server)["text"]
    for private in (ORG, scenario.connection_id, scenario.run_id, scenario.password, scenario.client_secret):
        assert private not in text
    routes = {
        s.labels["route"]
        for s in _scrape(scenario.server)["families"]["headwater_http_request_duration_seconds"].samples
    }
    assert "/data/foundation/flowservice/connections/{connection_id}" in routes
    # Templates, never raw paths: no label holds an id (24 hex digits, or a UUID).
    assert not [r for r in routes if re.search(r"[0-9a-f]{24}|[0-9a-f]{8}-[0-9a-f]{4}-", r)], routes
