"""The console in a real browser: sign in, connect PostgreSQL, explore, create a dataflow, watch its run,
read the dataset back; then CSRF refusal and a second org and sandbox that see nothing of the first."""

from __future__ import annotations

import subprocess
import sys

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.console.conftest import at, local_token, new_credentials, shot, sign_in
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

ORG_A = "C0501A@AdobeOrg"
ORG_B = "C0501B@AdobeOrg"


def add_postgres_connection(page: Page, name: str, *, port: str = "5432") -> None:
    page.get_by_role("link", name="Sources").click()
    page.get_by_role("link", name="Add a PostgreSQL connection").click()
    page.get_by_role("link", name="Basic Authentication").click()
    page.fill("#f-name", name)
    page.fill("#f-server", "127.0.0.1")
    page.fill("#f-port", port)
    page.fill("#f-database", "postgres")
    page.fill("#f-username", "postgres")
    page.fill("#f-password", "pw-never-shown-again")
    page.fill("#f-sslMode", "Disable")


def too_wide(page: Page) -> list[str]:
    """Elements reaching past the viewport's right edge, outside the scrollable tables and code blocks."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.scroll, pre'))
            .map(e => e.tagName + ' ' + (e.textContent || '').trim().slice(0, 40))"""
    )
    if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
        found.append("the page scrolls sideways")
    return found


def preview_cells(page: Page) -> set[tuple[str, ...]]:
    rows = page.locator("table.preview tbody tr")
    return {tuple(rows.nth(i).locator("td").all_inner_texts()) for i in range(rows.count())}


def test_sign_in_connect_explore_create_run_and_read_back(
    page: Page, context: BrowserContext, server: LiveServer, source_table: str
) -> None:
    creds = new_credentials(server, ORG_A)
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "01-sign-in")
    sign_in(page, creds)
    expect(page.get_by_text("No dataflows yet")).to_be_visible()

    # Sources: the catalog, and a form generated from the PostgreSQL spec's authSpec.
    add_postgres_connection(page, "warehouse db")
    shot(page, "02-new-connection")
    page.get_by_role("button", name="Save connection").click()
    expect(page.get_by_role("status")).to_contain_text("never shown again")
    assert "pw-never-shown-again" not in page.content()
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("[data-test-result=ok]")).to_be_visible()
    shot(page, "03-connection-tested")

    # Explore: the table's columns and first rows; NULL, NaN and ±Infinity are each marked apart.
    page.get_by_role("link", name="Explore tables").click()
    page.locator("summary", has_text=source_table.split(".")[0]).click()  # the schema's tables unfold
    page.locator(f'a[href$="table={source_table}"]').click()
    expect(page.get_by_role("heading", name=source_table)).to_be_visible()
    expect(page.locator("table.columns")).to_contain_text("score")
    assert page.locator("table.preview .v-null").count() == 2  # name of id 2, score of id 5
    assert page.locator("table.preview .v-special").count() == 3  # NaN, Infinity, -Infinity (the text 'NaN' is not)
    shot(page, "04-explore")

    # The dataflow wizard, its review, and the five resources it creates.
    page.get_by_role("link", name="Create a dataflow from this table").click()
    page.fill("#w-name", "people copy")
    page.fill("#w-ds", "people")
    shot(page, "05-wizard")
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_role("heading", name="Review the dataflow")).to_be_visible()
    page.get_by_role("button", name="Back").click()  # back to the form, answers kept
    expect(page.locator("#w-name")).to_have_value("people copy")
    page.get_by_role("button", name="Review").click()
    expect(page.locator(".facts")).to_contain_text("id, name, score, updated_at")
    shot(page, "06-review")
    page.get_by_role("button", name="Create dataflow").click()
    expect(page.get_by_role("heading", name="people copy")).to_be_visible()
    flow_url = page.url

    # Monitoring: the run appears and finishes on this page without a reload (htmx polling).
    expect(page.locator('tr[data-status="success"]')).to_have_count(1, timeout=60_000)
    expect(page.locator('tr[data-status="success"]')).to_contain_text("5")
    shot(page, "07-flow-run-finished")
    page.get_by_role("link", name="Dataflows").click()
    expect(page.locator("table.flows")).to_contain_text("success")
    shot(page, "08-flows")

    # The dataset: same rows as the source, specials still distinct, snippets to read it elsewhere.
    page.goto(flow_url)
    page.locator('a[href^="/console/datasets/"]').click()
    expect(page.locator("[data-row-count]")).to_have_attribute("data-row-count", "5")
    cells = {row[:3] for row in preview_cells(page)}
    assert cells == {
        ("1", "ada", "1.5"),
        ("2", "NULL", "NaN"),
        ("3", '""', "Infinity"),
        ("4", "NaN", "-Infinity"),
        ("5", "eve", "NULL"),
    }
    assert page.locator("table.preview .v-special").count() == 3
    # The table's columns (the dataset's iceberg.columns) are listed, one row each, as the preview shows them.
    schema_names = page.locator("table.columns tbody tr td:first-child").all_inner_texts()
    assert schema_names and schema_names == page.locator("table.preview thead th").all_inner_texts()
    expect(page.locator("#snippet-duckdb")).to_contain_text("read_parquet")
    expect(page.locator("#snippet-pyiceberg")).to_contain_text("load_table")
    expect(page.locator("table.snapshots tbody tr")).to_have_count(1)
    # The copyable snippets work as shown (run one after the other in one interpreter).
    code = page.locator("#snippet-duckdb").inner_text() + "\n" + page.locator("#snippet-pyiceberg").inner_text()
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.count("ada") == 2 and ran.stdout.count("eve") == 2, ran.stdout  # once per snippet
    shot(page, "09-dataset")
    page.set_viewport_size({"width": 390, "height": 844})
    assert not too_wide(page), too_wide(page)
    shot(page, "10-dataset-390px")
    page.goto(flow_url)
    assert not too_wide(page), too_wide(page)
    shot(page, "11-flow-390px")
    for path in ("/console/flows", "/console/sources", "/console/datasets"):
        page.goto(path)
        assert not too_wide(page), (path, too_wide(page))
    shot(page, "12-datasets-390px")
    # The list counts the same columns (the second cell of the dataset's row).
    expect(page.locator("tbody tr td:nth-child(2)").first).to_have_text(str(len(schema_names)))
    page.set_viewport_size({"width": 1280, "height": 900})
    dataset_url = page.locator('a[href^="/console/datasets/"]').get_attribute("href")
    assert dataset_url

    # CSRF: a form without this session's token is refused, and nothing is created.
    refused = context.request.post(
        "/console/sources/new", form={"spec": "x", "method": "y", "name": "forged"}, max_redirects=0
    )
    assert refused.status == 403 and "CSRF" in refused.text()
    wrong = context.request.post(f"{flow_url}/action", form={"op": "disable", "csrf": "not-the-token"})
    assert wrong.status == 403
    page.goto(flow_url)
    expect(page.locator(".facts .state")).to_have_text("enabled")

    # Another sandbox of the same org sees nothing of prod.
    page.fill("#sandbox-name", "dev")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_text("No dataflows yet")).to_be_visible()
    page.goto(flow_url)
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()

    # Another org, signed in with a token, sees nothing either, even at the first org's URLs.
    other_token = local_token(server, ORG_B)
    stranger = context.browser.new_context(base_url=server.base_url)  # type: ignore[union-attr]
    try:
        page_b = stranger.new_page()
        page_b.goto("/")
        page_b.fill("#token", other_token)
        page_b.get_by_role("button", name="Sign in with token").click()
        page_b.wait_for_url(at("/console/flows"))
        expect(page_b.get_by_text("No dataflows yet")).to_be_visible()
        page_b.get_by_role("link", name="Sources").click()
        expect(page_b.get_by_text("No connections yet")).to_be_visible()
        page_b.get_by_role("link", name="Datasets").click()
        expect(page_b.get_by_text("No datasets yet")).to_be_visible()
        for url in (flow_url, server.base_url + dataset_url, flow_url + "/runs"):
            response = page_b.goto(url)
            assert response is not None and response.status == 404, url
    finally:
        stranger.close()


def test_signed_out_browser_is_sent_to_sign_in(page: Page, server: LiveServer) -> None:
    page.goto("/console/datasets")
    page.wait_for_url("**/console/signin?next=/console/datasets")
    unknown = page.request.get(server.base_url + "/data/foundation/flowservice/nothing")
    assert unknown.status == 404 and unknown.json()["title"] == "Resource not found"
