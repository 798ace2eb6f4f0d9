"""Live progress: a flow page shows a run's figures while it streams, then its result, without a reload."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import at, local_client
from tests.support.chain import basic_auth, make_chain
from tests.support.pg import pg_admin
from tests.support.server import LiveServer
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow

ORG = "C0501E@AdobeOrg"
ROWS = 1_500_000
# The source's answers stop after this many bytes (under half the table, over two 16 MiB batches)
# until the test has seen the in-progress figures, so a fast run cannot end between two samples.
FREEZE_AFTER = 40 * 1024 * 1024


@pytest.fixture
def big_table() -> Iterator[str]:
    schema = f"hw_console_live_{uuid.uuid4().hex[:8]}"
    with pg_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(
            f'CREATE TABLE "{schema}".events AS SELECT g::bigint AS id, md5(g::text) AS name, '
            f"timestamptz '2024-01-01' + g * interval '1 second' AS updated_at FROM generate_series(1, {ROWS}) g"
        )
    try:
        yield f"{schema}.events"
    finally:
        with pg_admin() as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def source_proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy(("127.0.0.1", 5432), freeze_after=FREEZE_AFTER)
    try:
        yield proxy
    finally:
        proxy.close()


def test_flow_page_shows_progress_while_the_run_streams(
    page: Page, server: LiveServer, big_table: str, source_proxy: TcpProxy
) -> None:
    client_id, token = local_client(server, ORG)
    headers = {"Authorization": f"Bearer {token}", "x-api-key": client_id, "x-gw-ims-org-id": ORG,
               "x-sandbox-name": "prod"}  # fmt: skip
    # The flow and its on-demand run are made through the API; the console only watches.
    with httpx.Client(base_url=server.base_url, timeout=60) as api:
        auth = basic_auth(port=source_proxy.port)
        chain = make_chain(api, headers, big_table, auth=auth, delta="updated_at")

    page.goto("/")
    page.fill("#token", token)
    page.get_by_role("button", name="Sign in with token").click()
    page.wait_for_url(at("/console/flows"))
    page.goto(f"/console/flows/{chain.flow}")
    # The fragment the page polls, sampled often: while the run streams it shows the figures so far.
    fragment = f"{server.base_url}/console/flows/{chain.flow}/runs"
    seen: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        html = page.request.get(fragment).text()
        if 'data-status="inProgress"' in html and "staged" in html:
            seen.append(html)
            source_proxy.release()  # seen: let the run go on to its end
        if 'data-status="success"' in html or 'data-status="failed"' in html:
            break
        time.sleep(0.2)
    assert seen, f"the run never showed its figures while in progress (source frozen: {source_proxy.frozen.is_set()})"
    assert source_proxy.connections, "the run did not read through the proxy"
    assert 'hx-trigger="every 2s"' in seen[0]  # and the page keeps polling while it runs
    # The page itself turns to the result without a reload.
    expect(page.locator('tr[data-status="success"]')).to_have_count(1, timeout=120_000)
    expect(page.locator('tr[data-status="success"]')).to_contain_text(f"{ROWS:,}")
