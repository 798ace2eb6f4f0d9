"""The published OpenAPI document holds for a live `headwater serve` (schemathesis, bounded for CI).

Every operation of `/openapi.json` gets the document's own request examples and a few generated
requests, with a real tenant's headers; requests on one resource name a real resource of that tenant, so the
2xx bodies are checked against their declared schemas too. Required: no 5xx, only declared status
codes and content types, and every body as declared. The run stops generating after TIME_BUDGET.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.chain import Chain, make_chain
from tests.support.ids import CRM_TO_AEP, PG_SPEC
from tests.support.pg import pg_table
from tests.support.server import LiveServer, gateway_headers, running_server

pytestmark = pytest.mark.slow  # a live server

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Generated requests per operation (on top of the document's own examples) and the seconds of
# requests allowed; HEADWATER_CONTRACT_EXAMPLES raises both for a longer local run.
SCALE = float(os.environ.get("HEADWATER_CONTRACT_EXAMPLES", "4")) / 4
EXAMPLES = max(1, int(4 * SCALE))
TIME_BUDGET = 40.0 * max(1.0, SCALE)
ORG = "CONTRACT000000000000000000@AdobeOrg"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, str], Chain]]:
    data = Path(tmp_path_factory.mktemp("contract"))
    with running_server(data, {"HEADWATER_RUN_EMBEDDED_EXECUTOR": "false"}) as server, pg_table("hw_contract") as table:
        headers = {**gateway_headers(server, ORG), "x-sandbox-name": "prod"}
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            chain = make_chain(client, headers, table)
        yield server, headers, chain


def _real_ids(chain: Chain) -> dict[str, str]:
    """The collection before a `{param}` → a real resource of the tenant."""
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


def _documented_examples(raw: dict[str, Any], op: Any) -> list[Any]:
    """The request-body examples the document gives for `op` (Adobe's tutorial bodies)."""
    body = raw["paths"][op.path][op.method.lower()].get("requestBody", {})
    media = body.get("content", {}).get("application/json", {})
    return [example["value"] for example in media.get("examples", {}).values()]


def test_the_published_schema_holds_for_a_live_server(live: tuple[LiveServer, dict[str, str], Chain]) -> None:
    server, headers, chain = live
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    ids = _real_ids(chain)
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    checked: list[str] = []
    deadline = time.monotonic() + TIME_BUDGET

    def send(case: Any) -> None:
        template = case.operation.path
        found = re.search(r"/([A-Za-z]+)/\{([a-z_]+)\}", template)
        # A DELETE keeps its generated id: the chain must stay for the other operations.
        if found and case.method.upper() != "DELETE":
            case.path_parameters = {**(case.path_parameters or {}), found.group(2): ids[found.group(1)]}
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    operations = [result.ok() for result in schema.get_all_operations()]
    examples = 0
    for op in operations:
        if time.monotonic() > deadline:
            break
        for value in _documented_examples(schema.raw_schema, op):
            examples += 1
            try:
                send(op.Case(body=value, media_type="application/json"))
            except Exception as exc:
                failures.append(f"{op.method.upper()} {op.path} (documented example): {exc}"[:3000])

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy(generation_mode=GenerationMode.POSITIVE))
        def run(case: Any) -> None:
            send(case)

        try:
            run()
        except Exception as exc:  # collected, so one run reports every broken operation
            failures.append(f"{op.method.upper()} {op.path}: {type(exc).__name__}: {exc}"[:3000])
        checked.append(f"{op.method.upper()} {op.path}")

    codes = " ".join(f"{code}:{n}" for code, n in sorted(statuses.items()))
    spent = time.monotonic() - (deadline - TIME_BUDGET)
    print(
        f"schemathesis: {len(checked)} of {len(operations)} operations, {sum(statuses.values())} requests "
        f"({examples} documented examples; {codes}) in {spent:.1f} s, {len(failures)} failures"
    )
    assert examples >= 8, f"the document's request examples were not found ({examples})"
    assert not failures, "\n\n".join(failures)
    assert len(checked) == len(operations), f"the time budget ran out after {len(checked)} operations"
    assert len(operations) >= 35, f"expected the whole API in /openapi.json, found {len(operations)} operations"
    assert sum(n for code, n in statuses.items() if 200 <= code < 300) > len(operations) // 2, codes
