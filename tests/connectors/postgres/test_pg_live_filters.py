"""Row filters on PostgreSQL through a real `headwater serve` process: flow runs copy only the
matching rows, the explore preview applies `filters=`, and bad filters are refused with Adobe's codes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.connectors.postgres.conftest import Schema
from tests.connectors.postgres.test_pg_filter import _seed, _source_body
from tests.support.chain import make_chain
from tests.support.ids import FLOW, ORG
from tests.support.live_filters import LIVE_CASES, assert_explore_filters, code_of, filtered_run_ids
from tests.support.pql import BAD
from tests.support.server import LiveServer, running_server, sandbox_client

pytestmark = pytest.mark.slow  # a `headwater serve` process for the module


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("pg_live_filters"), {"HEADWATER_RUN_POLL_SECONDS": "0.2"}) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with sandbox_client(server, ORG, prefix="f") as c:
        yield c


@pytest.fixture
def people(schema: Schema) -> str:
    return _seed(schema)


@pytest.mark.parametrize(("node", "expected"), LIVE_CASES, ids=[f"case{i}" for i in range(len(LIVE_CASES))])
def test_a_filtered_flow_run_lands_only_the_matching_rows(
    client: httpx.Client, people: str, node: dict[str, Any], expected: list[int]
) -> None:
    assert filtered_run_ids(client, people, node) == expected


def test_explore_and_bad_filters_over_the_wire(client: httpx.Client, people: str) -> None:
    chain = make_chain(client, {}, people, columns=("id", "city"), with_run=False)
    assert_explore_filters(client, chain.connection, people)
    for _, doc, code in BAD:
        resp = client.post(f"{FLOW}/sourceConnections", json=_source_body(chain.connection, people, doc))
        assert resp.status_code == 400 and code_of(resp) == f"FLOW-{code}-400", resp.text
