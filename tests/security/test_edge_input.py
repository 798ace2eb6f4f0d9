"""Bad input at the edge of a real `headwater serve`: a clear 4xx, nothing stored, and never a 500.

Each case here once answered 500, or was stored and then turned later reads of a list into 500s
until the item was deleted: invalid Unicode, deep nesting, huge numbers, non-ASCII digits in
query parameters, run windows past any date, oversized chunked bodies and headers.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from headwater.service import Services
from headwater.settings import Settings
from headwater.store import Scope
from tests.support.chain import basic_auth, connection_body, make_chain, ok
from tests.support.ids import CONVERSION, CRM_TO_AEP, FLOW
from tests.support.pg import pg_table
from tests.support.server import LiveServer, gateway_headers, start_server

pytestmark = pytest.mark.slow  # each test starts a `headwater serve` process

ORG = "EDGEINPUT0000000000000000@AdobeOrg"
LISTS = ("connections", "sourceConnections", "targetConnections", "flows", "runs")


class Api:
    """A tenant's view of a live server: headers for a sandbox, and raw-body requests."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.client = httpx.Client(base_url=server.base_url, timeout=30)
        self._base = gateway_headers(server, ORG)

    def headers(self, sandbox: str = "prod") -> dict[str, str]:
        return {**self._base, "x-sandbox-name": sandbox}

    def raw(self, method: str, path: str, text: str | bytes, sandbox: str = "prod") -> httpx.Response:
        body = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        return self.client.request(
            method, path, content=body, headers={**self.headers(sandbox), "content-type": "application/json"}
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(Path(tmp_path_factory.mktemp("edge")) / "live", {"HEADWATER_RUN_EMBEDDED_EXECUTOR": "false"})
    try:
        yield live
    finally:
        live.process.terminate()
        live.process.wait(timeout=15)


@pytest.fixture(scope="module")
def api(server: LiveServer) -> Api:
    return Api(server)


@pytest.fixture(scope="module")
def chain(api: Api) -> Iterator[Any]:
    with pg_table("hw_edge") as table:
        yield make_chain(api.client, api.headers(), table, with_run=False)


def _flow_body(chain: Any, **extra: Any) -> str:
    body = {
        "name": "edge",
        "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
        "sourceConnectionIds": [chain.source],
        "targetConnectionIds": [chain.target],
        "transformations": [{"name": "Mapping", "params": {"mappingId": chain.mapping, "mappingVersion": 0}}],
        "scheduleParams": {"startTime": "4102444800", "frequency": "once"},
    }
    return json.dumps({**body, **extra})


def _refused(response: httpx.Response, *fragments: str) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    body: dict[str, Any] = response.json()
    for fragment in fragments:
        assert fragment in response.text, f"{fragment!r} not in {response.text[:500]}"
    return body


def _lists_answer(api: Api) -> None:
    for kind in LISTS:
        for orderby in (None, "labels", "-labels", "description", "name"):
            params = {"orderby": orderby} if orderby else {}
            response = api.client.get(f"{FLOW}/{kind}", headers=api.headers(), params=params)
            assert response.status_code == 200, f"{kind} {orderby}: {response.status_code} {response.text[:300]}"


BAD_BODIES = {
    "lone surrogate": ('"description": "x\\ud800"', "surrogate"),
    "lone surrogate in a key": ('"labels": {"\\udc00": 1}', "surrogate"),
    "NUL character": ('"description": "a\\u0000b"', "NUL"),
    "nested 500 deep": ('"labels": ' + '{"a": ' * 500 + "1" + "}" * 500, "nested"),
    "nested 100000 deep": ('"labels": ' + "[" * 100_000 + "]" * 100_000, "nested"),
    "400-digit integer": ('"labels": {"n": ' + "9" * 400 + "}", "integer"),
    "4301-digit integer": ('"labels": {"n": ' + "1" * 4301 + "}", "integer"),
    "2^64": ('"labels": {"n": 18446744073709551616}', "integer"),
    "5000-digit float": ('"labels": {"n": 1.' + "5" * 5000 + "}", "number"),
    "float overflow": ('"labels": {"n": 1e999}', "number"),
    "NaN": ('"labels": {"n": NaN}', "NaN"),
    "-Infinity": ('"labels": {"n": -Infinity}', "Infinity"),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_json_values_are_refused_and_nothing_is_stored(api: Api, chain: Any, case: str) -> None:
    fragment, reason = BAD_BODIES[case]
    before = ok(api.client.get(f"{FLOW}/flows", headers=api.headers(), params={"count": "true"}), 200)["count"]
    body = _flow_body(chain)[:-1] + ", " + fragment + "}"
    _refused(api.raw("POST", f"{FLOW}/flows", body), reason)
    after = ok(api.client.get(f"{FLOW}/flows", headers=api.headers(), params={"count": "true"}), 200)["count"]
    assert after == before
    _lists_answer(api)


def test_invalid_utf8_is_refused(api: Api) -> None:
    body = json.dumps(connection_body(basic_auth(), name="x")).encode()[:-1] + b', "description": "\xff\xfe"}'
    _refused(api.raw("POST", f"{FLOW}/connections", body), "UTF-8")


def test_patch_bodies_are_checked_too(api: Api, chain: Any) -> None:
    etag = api.client.get(f"{FLOW}/flows/{chain.flow}", headers=api.headers()).headers["etag"]
    body = '[{"op": "add", "path": "/labels", "value": {"n": ' + "7" * 30 + "}}]"
    response = api.client.patch(
        f"{FLOW}/flows/{chain.flow}",
        content=body,
        headers={**api.headers(), "content-type": "application/json", "If-Match": etag},
    )
    _refused(response, "integer")


@pytest.mark.parametrize("value", ["²", "\u0661\u0660", "1e3", "-1", "9" * 30, " ", "0x10"])
def test_list_parameters_take_ascii_integers_only(api: Api, value: str) -> None:
    for kind in LISTS:
        for name in ("limit", "start"):
            response = api.client.get(f"{FLOW}/{kind}", headers=api.headers(), params={name: value})
            if name == "start" and value == "9" * 30:
                _refused(response, "start")
                continue
            _refused(response, name)
    response = api.client.get("/data/foundation/catalog/dataSets", headers=api.headers(), params={"limit": value})
    _refused(response, "limit")


@pytest.mark.parametrize(
    "window",
    [str(2**64), "99999999999999999999", 2**63 - 1, "²", "-5", "1e10", "9" * 4400],
)
def test_run_windows_beyond_any_date_are_refused(api: Api, chain: Any, window: Any) -> None:
    if isinstance(window, str) and len(window) > 4300:
        raw_params = '"params": {"windowStartTime": "1", "windowEndTime": ' + window + "}"
        text = f'{{"flowId": "{chain.flow}", {raw_params}}}'
        _refused(api.raw("POST", f"{FLOW}/runs", text), "integer")  # a bare number: refused at the edge
    params = {"windowStartTime": "1651584991", "windowEndTime": window}
    response = api.client.post(f"{FLOW}/runs", headers=api.headers(), json={"flowId": chain.flow, "params": params})
    _refused(response, "windowEndTime")


def test_schedule_integers_are_ascii(api: Api, chain: Any) -> None:
    body = json.loads(_flow_body(chain))
    body["scheduleParams"] = {"startTime": "4102444800", "frequency": "minute", "interval": "¹⁵"}
    body["transformations"].insert(0, {"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}})
    _refused(api.client.post(f"{FLOW}/flows", headers=api.headers(), json=body), "interval")


def test_patch_pointer_with_non_ascii_digits(api: Api, chain: Any) -> None:
    etag = api.client.get(f"{FLOW}/sourceConnections/{chain.source}", headers=api.headers()).headers["etag"]
    response = api.client.patch(
        f"{FLOW}/sourceConnections/{chain.source}",
        json=[{"op": "replace", "path": "/params/columns/²", "value": {"name": "id"}}],
        headers={**api.headers(), "If-Match": etag},
    )
    _refused(response, "path")


def test_a_stored_bad_item_never_breaks_a_list(api: Api, server: LiveServer, chain: Any) -> None:
    """Items stored before the edge checked them (huge numbers, deep nesting) still list and sort."""
    services = Services(Settings(data_dir=server.data_dir, run_embedded_executor=False))
    scope = Scope(ORG, "prod")
    flow = services.store.get("flow", scope, chain.flow)
    assert flow is not None
    nested: Any = 1
    for _ in range(400):
        nested = {"a": nested}
    for labels in ({"n": 10**400}, nested, {"n": float("inf")}, {"n": float("nan")}):
        current = services.store.get(flow.kind, scope, flow.id)
        assert current is not None
        services.store.update(
            flow.kind, scope, flow.id, doc={**flow.doc, "labels": labels}, secrets=None, expected_etag=current.etag
        )
        for orderby in ("labels", "-labels", "labels.n"):
            response = api.client.get(f"{FLOW}/flows", headers=api.headers(), params={"orderby": orderby})
            assert response.status_code == 200, f"{labels!s:.40}: {response.status_code} {response.text[:200]}"
    current = services.store.get(flow.kind, scope, flow.id)
    assert current is not None
    services.store.update(flow.kind, scope, flow.id, doc=flow.doc, secrets=None, expected_etag=current.etag)
    services.store.engine.dispose()


def _raw_http(server: LiveServer, request: bytes) -> bytes:
    url = urlsplit(server.base_url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
            if b"\r\n\r\n" in b"".join(chunks):
                head, _, rest = b"".join(chunks).partition(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                length = [int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length")]
                if length and len(rest) >= length[0]:
                    break
        return b"".join(chunks)


def test_chunked_body_over_the_limit_is_413(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(40):
            yield b"x" * 32_768
        yield b'"}'

    response = api.client.post(
        f"{FLOW}/connections", headers={**api.headers(), "content-type": "application/json"}, content=chunks()
    )
    assert response.status_code == 413, response.text[:300]
    assert "larger than the limit" in response.json()["errorMessage"]


@pytest.mark.parametrize(
    "extra",
    [
        {"x-big": "a" * 1_048_576},
        {"x-big": "a" * 20_000},
        {f"x-h{i}": "b" * 4096 for i in range(200)},
        {f"x-h{i}": "c" for i in range(150)},
    ],
    ids=["one 1 MB header", "one 20 KB header", "200 headers of 4 KB", "150 small headers"],
)
def test_oversized_headers_are_refused(api: Api, server: LiveServer, extra: dict[str, str]) -> None:
    lines = [f"GET {FLOW}/connections HTTP/1.1", f"Host: {urlsplit(server.base_url).netloc}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in {**api.headers(), **extra}.items()]
    answer = _raw_http(server, ("\r\n".join(lines) + "\r\n\r\n").encode())
    status = answer.split(b"\r\n", 1)[0]
    assert status.split()[1:2] == [b"431"], status
    ok(api.client.get(f"{FLOW}/connections", headers=api.headers()), 200)  # the server is unharmed


def test_draft_flow_refuses_another_sandbox_mapping(api: Api, chain: Any) -> None:
    other = "dev"
    mapping = ok(
        api.client.post(
            f"{CONVERSION}/mappingSets",
            headers=api.headers(other),
            json={
                "version": 0,
                "xdmSchema": "x",
                "xdmVersion": "1.0",
                "mappings": [{"destinationXdmPath": "a", "sourceAttribute": "id", "version": 0}],
            },
        ),
        200,
    )
    body = json.loads(_flow_body(chain))
    body["transformations"] = [{"name": "Mapping", "params": {"mappingId": mapping["id"], "mappingVersion": 0}}]
    response = api.client.post(f"{FLOW}/flows", headers=api.headers(), params={"mode": "draft"}, json=body)
    _refused(response, "not found in this sandbox")
