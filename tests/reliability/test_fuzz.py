"""Schema-driven fuzzing of the whole HTTP API (schemathesis, in-process over ASGI).

Every operation of the app's own `/openapi.json` gets generated valid and invalid inputs, sent
with a real tenant's headers (half of them aimed at real resource ids of that tenant) and with
broken credentials. Required: no 5xx, and every status, content type and body as declared.
Example counts are bounded (HEADWATER_FUZZ_EXAMPLES scales them) so the suite stays CI-sized.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from headwater.api import create_app
from headwater.service import Services
from headwater.settings import Settings
from tests.support.chain import Chain, basic_auth, connection_body, make_chain
from tests.support.ids import CATALOG, CONVERSION, CRM_TO_AEP, LAKE_SPEC, PG_SPEC
from tests.support.pg import pg_table
from tests.support.seed import rng as rng_for
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.slow  # the schemathesis fuzz suite

SCALE = float(os.environ.get("HEADWATER_FUZZ_EXAMPLES", "1"))
FLOW_PATH = "/data/foundation/flowservice"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# The token endpoint authenticates by client credentials in its body, not by the gateway headers.
NO_GATEWAY_AUTH = {"/ims/token/v3"}


def examples_of(count: int) -> Any:
    """Hypothesis settings for `count` examples (scaled by HEADWATER_FUZZ_EXAMPLES), with no example database."""
    return hsettings(
        max_examples=max(1, int(count * SCALE)),
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


@dataclass
class Stats:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def line(self, label: str) -> str:
        codes = " ".join(f"{k}:{v}" for k, v in sorted(self.statuses.items()))
        return f"fuzz[{label}]: {self.requests} requests, statuses {codes}, failures {len(self.failures)}"


@dataclass
class World:
    app: FastAPI
    schema: Any
    tenant: Tenant
    other: Tenant
    chain: Chain


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = Path(tmp_path_factory.mktemp("fuzz"))
    settings = Settings(data_dir=data, run_embedded_executor=False)
    services = Services(settings)
    services.migrate()
    app = create_app(settings, services=services)
    tenant = make_tenant(services, "FUZZORG000000000000000000@AdobeOrg")
    other = make_tenant(services, "FUZZOTHER0000000000000000@AdobeOrg")
    with pg_table("hw_fuzz") as table, TestClient(app) as client:
        chain = make_chain(client, tenant.headers(), table)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        yield World(app, schema, tenant, other, chain)


def _real_ids(chain: Chain) -> dict[str, str]:
    """Path segment before `{param}` → a real id of the tenant (so fuzzed inputs reach real resources)."""
    return {
        "connections": chain.connection,
        "sourceConnections": chain.source,
        "targetConnections": chain.target,
        "flows": chain.flow,
        "dataSets": chain.dataset,
        "mappingSets": chain.mapping,
        "runs": chain.run or "",
        "connectionSpecs": PG_SPEC,
        "flowSpecs": CRM_TO_AEP,
    }


def _operations(schema: Any) -> list[Any]:
    ops = [result.ok() for result in schema.get_all_operations()]
    assert len(ops) >= 30, f"expected the whole API in /openapi.json, found {len(ops)} operations"
    return ops


def _run(
    op: Any,
    mode: GenerationMode,
    examples: int,
    send: Callable[[Any], None],
    stats: Stats,
) -> None:
    @examples_of(examples)
    @given(case=op.as_strategy(generation_mode=mode))
    def fuzz(case: Any) -> None:
        send(case)

    try:
        fuzz()
    except Unsatisfiable:
        pass  # no invalid input exists for this operation in this mode
    except Exception as exc:  # collected, so one run reports every broken operation
        stats.failures.append(f"{op.method.upper()} {op.path} [{mode.value}]: {type(exc).__name__}: {exc}"[:3000])


def test_fuzz_with_valid_credentials(world: World) -> None:
    stats = Stats()
    headers = world.tenant.headers()
    ids = _real_ids(world.chain)
    rng = rng_for("fuzz-links")
    modes = [(GenerationMode.POSITIVE, 20), (GenerationMode.NEGATIVE, 10)]

    def send(case: Any) -> None:
        template = case.operation.path
        match = re.search(r"/([A-Za-z]+)/\{[a-z_]+\}", template)
        if match and case.method.upper() != "DELETE" and rng.random() < 0.5:
            name = re.search(r"\{([a-z_]+)\}", template)
            assert name is not None
            case.path_parameters = {**(case.path_parameters or {}), name.group(1): ids[match.group(1)]}
        response = case.call(headers=headers)
        stats.requests += 1
        stats.statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    for op in _operations(world.schema):
        for mode, examples in modes:
            _run(op, mode, examples, send, stats)
    print(stats.line("valid credentials"))
    assert not stats.failures, "\n\n".join(stats.failures)
    assert stats.statuses[500] == 0


def _broken_variants(world: World) -> dict[str, dict[str, str]]:
    good = world.tenant.headers()
    other = world.other.headers()
    return {
        "no token": {k: v for k, v in good.items() if k != "Authorization"},
        "not bearer": {**good, "Authorization": "Basic dXNlcjpwYXNz"},
        "garbage token": {**good, "Authorization": "Bearer hw1.eyJzdWIiOiJ4In0.AAAA"},
        "non-ascii token": {**good, "Authorization": "Bearer hw1.\u00e9\u00e9.\u00e9"},
        "forged org": {**good, "Authorization": other["Authorization"]},
        "wrong api key": {**good, "x-api-key": "not-the-client"},
        "no api key": {k: v for k, v in good.items() if k != "x-api-key"},
        "wrong org": {**good, "x-gw-ims-org-id": world.other.org},
        "no org": {k: v for k, v in good.items() if k != "x-gw-ims-org-id"},
        "no sandbox": {k: v for k, v in good.items() if k != "x-sandbox-name"},
        "bad sandbox": {**good, "x-sandbox-name": "Prod; DROP"},
    }


def test_fuzz_with_broken_credentials(world: World) -> None:
    stats = Stats()
    variants = _broken_variants(world)
    names = list(variants)
    rng = rng_for("fuzz-stateful")

    def send(case: Any) -> None:
        variant = names[rng.randrange(len(names))]
        case.headers = {}  # only the variant's headers: generated ones must not fill in a missing header
        headers = variants[variant]
        response = case.call(headers=headers)
        stats.requests += 1
        stats.statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)
        assert response.status_code in (400, 401, 403, 413, 415), (
            f"{variant}: {case.method} {case.formatted_path} got {response.status_code}: {response.text[:300]}"
        )

    for op in _operations(world.schema):
        if op.path in NO_GATEWAY_AUTH:
            continue
        _run(op, GenerationMode.POSITIVE, 12, send, stats)
    print(stats.line("broken credentials"))
    assert not stats.failures, "\n\n".join(stats.failures)


# -- valid bodies, mutated ---------------------------------------------------------------------
# The OpenAPI document leaves most bodies free-form, so generated bodies rarely get past the
# first check. Here a valid body per endpoint has one value replaced by arbitrary JSON (or
# removed) per example, which reaches the deeper validation of every field.

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=8,
)
REMOVE = object()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutate(body: Any, path: tuple[Any, ...], new: Any) -> Any:
    copy = json.loads(json.dumps(body))
    target = copy
    for part in path[:-1]:
        target = target[part]
    if new is REMOVE:
        del target[path[-1]]
    else:
        target[path[-1]] = new
    return copy


def _templates(chain: Chain) -> dict[str, tuple[str, str, Any]]:
    flow = "/data/foundation/flowservice"
    return {
        "connection": ("POST", f"{flow}/connections", connection_body(basic_auth())),
        "sourceConnection": (
            "POST",
            f"{flow}/sourceConnections",
            {
                "name": "s",
                "baseConnectionId": chain.connection,
                "data": {"format": "tabular"},
                "params": {"tableName": "public.x", "columns": [{"name": "id"}]},
                "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
            },
        ),
        "targetConnection": (
            "POST",
            f"{flow}/targetConnections",
            {
                "name": "t",
                "data": {"schema": {"id": "x", "version": "1"}},
                "params": {"dataSetId": chain.dataset},
                "connectionSpec": {"id": LAKE_SPEC, "version": "1.0"},
            },
        ),
        "flow": (
            "POST",
            f"{flow}/flows",
            {
                "name": "f",
                "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
                "sourceConnectionIds": [chain.source],
                "targetConnectionIds": [chain.target],
                "transformations": [
                    {"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}},
                    {"name": "Mapping", "params": {"mappingId": chain.mapping, "mappingVersion": 0}},
                ],
                "scheduleParams": {"startTime": "4102444800", "frequency": "minute", "interval": "15"},
            },
        ),
        "run": (
            "POST",
            f"{flow}/runs",
            {
                "flowId": chain.flow,
                "params": {
                    "windowStartTime": "1651584991",
                    "windowEndTime": "1651585967",
                    "deltaColumn": {"name": "updated_at"},
                },
            },
        ),
        "dataset": ("POST", f"{CATALOG}/dataSets", {"name": "d", "schemaRef": {"id": "x", "contentType": "json"}}),
        "mappingSet": (
            "POST",
            f"{CONVERSION}/mappingSets",
            {
                "version": 0,
                "xdmSchema": "x",
                "xdmVersion": "1.0",
                "mappings": [{"destinationXdmPath": "a", "sourceAttribute": "upper(name)", "version": 0}],
            },
        ),
        "patch flow": (
            "PATCH",
            f"{flow}/flows/{chain.flow}",
            [{"op": "replace", "path": "/description", "value": "fuzzed"}],
        ),
        "patch connection": (
            "PATCH",
            f"{flow}/connections/{chain.connection}",
            [{"op": "replace", "path": "/auth/params/port", "value": 5432}],
        ),
        "patch source": (
            "PATCH",
            f"{flow}/sourceConnections/{chain.source}",
            [{"op": "replace", "path": "/params/columns", "value": [{"name": "id"}, {"name": "name"}]}],
        ),
    }


def _fuzz_template(client: TestClient, headers: dict[str, str], stats: Stats, method: str, url: str, body: Any) -> None:
    @examples_of(40)
    @given(path=st.sampled_from(_paths(body)), new=JSON_VALUES | st.just(REMOVE))
    def fuzz(path: tuple[Any, ...], new: Any) -> None:
        extra = {}
        if method == "PATCH":
            extra["If-Match"] = client.get(url, headers=headers).headers.get("ETag", "*")
        response = client.request(method, url, headers={**headers, **extra}, json=_mutate(body, path, new))
        stats.requests += 1
        stats.statuses[response.status_code] += 1
        assert response.status_code < 500, f"{method} {url} {path}={new!r}: {response.text[:500]}"
        assert response.headers["content-type"].startswith("application/json")

    extra = {"If-Match": client.get(url, headers=headers).headers.get("ETag", "*")} if method == "PATCH" else {}
    baseline = client.request(method, url, headers={**headers, **extra}, json=body)
    assert baseline.status_code in (200, 201), f"the template itself is refused: {baseline.text[:500]}"
    fuzz()


def test_fuzz_valid_bodies_with_one_value_mutated(world: World) -> None:
    headers = world.tenant.headers()
    stats = Stats()
    with TestClient(world.app, raise_server_exceptions=False) as client:
        for name, (method, url, body) in _templates(world.chain).items():
            try:
                _fuzz_template(client, headers, stats, method, url, body)
            except Exception as exc:
                stats.failures.append(f"{name}: {type(exc).__name__}: {exc}"[:3000])
    print(stats.line("mutated valid bodies"))
    assert not stats.failures, "\n\n".join(stats.failures)
    assert stats.statuses[201] + stats.statuses[200] > 0, "no mutated body was accepted: the templates are invalid"


# -- the bad-input classes that once stored unrenderable items or answered 500 -------------------
# Raw JSON text (not Python values, which a JSON encoder would refuse to write) is spliced into a
# valid body, so the server sees exactly what an attacker's client would send.

PLACEHOLDER = "__HW_FUZZ_PLACEHOLDER__"
NASTY_JSON = st.one_of(
    st.integers(min_value=19, max_value=6000).map(lambda n: "9" * n),
    st.integers(min_value=19, max_value=6000).map(lambda n: "-" + "1" * n),
    st.integers(min_value=300, max_value=6000).map(lambda n: "1." + "5" * n + "e" + str(n)),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e400", "18446744073709551616"]),
    st.sampled_from(['"x\\ud800"', '"\\udfff"', '"a\\u0000b"', '{"\\ud83d": 1}', '["\\ud800\\udc00", "\\udc00"]']),
    st.integers(min_value=65, max_value=3000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=65, max_value=3000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.sampled_from(['"\\u00b2"', '"\\u0661\\u0660"', '"99999999999999999999"', '"-0"', '" 1"']),
)
NASTY_QUERY = st.one_of(
    st.sampled_from(["\u00b2", "\u0661", "1e3", "-1", "0x1", "%ED%A0%80", "\x00", "NaN", "inf"]),
    st.integers(min_value=19, max_value=6000).map(lambda n: "9" * n),
    st.text(max_size=30),
)
REFUSED_AT_EDGE = {400, 413}


def _splice(body: Any, path: tuple[Any, ...], raw: str) -> bytes:
    text = json.dumps(_mutate(body, path, PLACEHOLDER))
    return text.replace(json.dumps(PLACEHOLDER), raw, 1).encode("utf-8", "surrogatepass")


def _fuzz_raw(client: TestClient, headers: dict[str, str], stats: Stats, method: str, url: str, body: Any) -> None:
    @examples_of(25)
    @given(path=st.sampled_from(_paths(body)), raw=NASTY_JSON)
    def fuzz(path: tuple[Any, ...], raw: str) -> None:
        extra = {"If-Match": "*"} if method == "PATCH" else {}
        response = client.request(method, url, headers={**headers, **extra}, content=_splice(body, path, raw))
        stats.requests += 1
        stats.statuses[response.status_code] += 1
        assert response.status_code < 500, f"{method} {url} {path}={raw[:80]}: {response.text[:300]}"

    fuzz()


def test_fuzz_bad_input_classes(world: World) -> None:
    headers = {**world.tenant.headers(), "content-type": "application/json"}
    stats = Stats()
    with TestClient(world.app, raise_server_exceptions=False) as client:
        for name, (method, url, body) in _templates(world.chain).items():
            try:
                _fuzz_raw(client, headers, stats, method, url, body)
            except Exception as exc:
                stats.failures.append(f"{name}: {type(exc).__name__}: {exc}"[:3000])

        lists = [f"{FLOW_PATH}/{kind}" for kind in ("connections", "sourceConnections", "flows", "runs")]
        lists += [f"{CATALOG}/dataSets", f"{CONVERSION}/mappingSets"]

        @examples_of(120)
        @given(
            url=st.sampled_from(lists),
            param=st.sampled_from(["limit", "start", "orderby", "property", "count", "continuationToken"]),
            value=NASTY_QUERY,
        )
        def fuzz_query(url: str, param: str, value: str) -> None:
            response = client.get(url, headers=world.tenant.headers(), params={param: value})
            stats.requests += 1
            stats.statuses[response.status_code] += 1
            assert response.status_code < 500, f"GET {url} {param}={value[:80]!r}: {response.text[:300]}"

        try:
            fuzz_query()
        except Exception as exc:
            stats.failures.append(f"query parameters: {type(exc).__name__}: {exc}"[:3000])
    print(stats.line("bad input classes"))
    assert not stats.failures, "\n\n".join(stats.failures)
    assert sum(n for code, n in stats.statuses.items() if code >= 500) == 0
    refused = sum(n for code, n in stats.statuses.items() if code in REFUSED_AT_EDGE)
    assert refused >= stats.requests // 2, f"too few refusals: {stats.line('bad input classes')}"
