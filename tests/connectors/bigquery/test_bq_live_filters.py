"""Row filters on BigQuery (the emulator) through a real `headwater serve` process: the same cases and
answers as PostgreSQL (tests/support/live_filters.py), pushed down as query parameters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.connectors.bigquery.emulator import Emulator, TokenServer
from tests.connectors.bigquery.test_bq_filter import OAUTH
from tests.connectors.bigquery.test_bq_filter import people as people
from tests.support.chain import make_chain
from tests.support.ids import BQ_SPEC, ORG
from tests.support.live_filters import LIVE_CASES, assert_explore_filters, filtered_run_ids
from tests.support.server import LiveServer, running_server, sandbox_client

pytestmark = pytest.mark.slow  # a `headwater serve` process for the module


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, bq_emulator: Emulator, token_server: TokenServer
) -> Iterator[LiveServer]:
    env = {
        "HEADWATER_RUN_POLL_SECONDS": "0.2",
        "HEADWATER_GOOGLE_TOKEN_URI": token_server.url,
        "HEADWATER_BIGQUERY_API_ENDPOINT": bq_emulator.rest,
        "HEADWATER_BIGQUERY_READ_ENDPOINT": bq_emulator.grpc,
    }
    with running_server(tmp_path_factory.mktemp("bq_live_filters"), env) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with sandbox_client(server, ORG, prefix="b") as c:
        yield c


@pytest.mark.parametrize(("node", "expected"), LIVE_CASES, ids=[f"case{i}" for i in range(len(LIVE_CASES))])
def test_a_filtered_flow_run_lands_only_the_matching_rows(
    client: httpx.Client, people: str, node: dict[str, Any], expected: list[int]
) -> None:
    assert filtered_run_ids(client, people, node, auth=OAUTH, spec=BQ_SPEC) == expected


def test_the_explore_preview_applies_the_filter_over_the_wire(client: httpx.Client, people: str) -> None:
    chain = make_chain(client, {}, people, auth=OAUTH, source_spec=BQ_SPEC, columns=("id", "city"), with_run=False)
    assert_explore_filters(client, chain.connection, people)
