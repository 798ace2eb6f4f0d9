"""GET /metrics in one process (no multiprocess directory), read with prometheus_client's parser."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from headwater.api import create_app
from headwater.runs.model import RunStatus
from headwater.settings import Settings

CONNECTION = "/data/foundation/flowservice/connections/{connection_id}"


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]


def test_requests_are_counted_by_route_template_and_runs_by_status(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, run_embedded_executor=False))
    with TestClient(app) as client:
        before = client.get("/metrics").text
        for i in range(3):  # unauthenticated: 401s, each on its own id
            assert client.get(f"/data/foundation/flowservice/connections/{i:024x}").status_code == 401
        assert client.get("/no/such/path/1234").status_code == 404
        assert client.request("BREW", "/metrics").status_code == 405
        after = client.get("/metrics").text

    def count(text: str, **labels: str) -> float:
        name = "headwater_http_request_duration_seconds_count"
        return sum(v for got, v in _samples(text, name) if all(got.get(k) == x for k, x in labels.items()))

    # Other tests in this process may have counted this route before: compare the same series.
    series = {"method": "GET", "route": CONNECTION, "status": "401"}
    assert count(after, **series) - count(before, **series) == 3
    assert count(after, route="unmatched", status="404") >= 1
    assert count(after, method="other", route="/metrics", status="405") >= 1  # odd methods share one label
    routes = {got["route"] for got, _ in _samples(after, "headwater_http_request_duration_seconds_count")}
    assert not any("0000" in r or "1234" in r for r in routes), routes  # templates, never raw paths
    runs = dict((got["status"], v) for got, v in _samples(after, "headwater_runs"))
    assert runs == {status.value: 0 for status in RunStatus}
