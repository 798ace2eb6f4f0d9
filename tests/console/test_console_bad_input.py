"""Bad input in every console form: a clear message on the page, never a 500 (the context fixture checks)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import at, new_credentials, revoke, shot, sign_in
from tests.console.test_console_path import add_postgres_connection
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

ORG = "C0501C@AdobeOrg"


def drop_browser_checks(page: Page) -> None:
    """Remove required/pattern attributes so the server's own checks are what answers."""
    page.evaluate(
        "document.querySelectorAll('[required],[pattern]').forEach(e => {"
        " e.removeAttribute('required'); e.removeAttribute('pattern'); })"
    )


def error_text(page: Page) -> str:
    alert = page.locator(".error[role=alert]").first
    expect(alert).to_be_visible()
    return alert.inner_text()


def test_every_form_refuses_bad_input_clearly(page: Page, server: LiveServer, source_table: str) -> None:
    creds = new_credentials(server, ORG)

    # Sign-in: a wrong secret, a token that is not one.
    page.goto("/")
    page.get_by_label("Client id").fill(creds.client_id)
    page.get_by_label("Client secret").fill("p8e-wrong")
    page.get_by_role("button", name="Sign in", exact=True).click()
    assert "client id or client secret is not valid" in error_text(page)
    page.fill("#token", "not-a-token")
    page.get_by_role("button", name="Sign in with token").click()
    assert "token is not valid" in error_text(page)
    shot(page, "20-sign-in-refused")
    sign_in(page, creds)

    # New connection: no name, a port that is not one; the password is never echoed back.
    add_postgres_connection(page, "")
    drop_browser_checks(page)
    page.get_by_role("button", name="Save connection").click()
    assert "Give the connection a name" in error_text(page)
    assert page.locator("#f-password").input_value() == ""
    add_postgres_connection(page, "bad port", port="not-a-port")
    page.get_by_role("button", name="Save connection").click()
    assert "port" in error_text(page).lower()
    assert "pw-never-shown-again" not in page.content()
    shot(page, "21-connection-refused")

    # A connection that saves but cannot connect: the test says why, readably.
    add_postgres_connection(page, "nobody listens", port="1")
    page.get_by_role("button", name="Save connection").click()
    page.get_by_role("button", name="Test connection").click()
    failed = page.locator("[data-test-result=failed]")
    expect(failed).to_contain_text("failed")
    assert len(failed.inner_text()) > 40
    shot(page, "22-connection-test-failed")

    # The wizard: no column, a bad interval, a filter without a value, replace on a recurring flow.
    add_postgres_connection(page, "good")
    page.get_by_role("button", name="Save connection").click()
    page.get_by_role("link", name="Explore tables").click()
    page.goto(page.url + f"?table={source_table}")
    page.get_by_role("link", name="Create a dataflow from this table").click()
    wizard_url = page.url
    for box in page.locator("input[name=column]").all():
        box.uncheck()
    page.get_by_role("button", name="Review").click()
    assert "Pick at least one column" in error_text(page)

    page.goto(wizard_url)
    page.select_option("#w-freq", "hour")
    page.fill("#w-int", "often")
    page.get_by_role("button", name="Review").click()
    assert "interval must be a whole number" in error_text(page)

    page.goto(wizard_url)
    page.select_option("#w-fcol", "id")
    page.select_option("#w-fop", ">")
    page.get_by_role("button", name="Review").click()
    assert "value the filter compares with" in error_text(page)

    page.goto(wizard_url)
    page.fill("#w-map", "no equals sign here")
    page.get_by_role("button", name="Review").click()
    assert "Mapping line 1" in error_text(page)

    page.goto(wizard_url)
    page.select_option("#w-freq", "hour")
    page.check("input[name=write_mode][value=replace]")
    page.get_by_role("button", name="Review").click()
    page.get_by_role("button", name="Create dataflow").click()
    assert "replace needs frequency once" in error_text(page)
    shot(page, "23-wizard-refused")
    # Nothing of the refused dataflow is left behind.
    page.get_by_role("link", name="Datasets").click()
    expect(page.get_by_text("No datasets yet")).to_be_visible()

    # The sandbox switcher: a name that is not a sandbox name.
    drop_browser_checks(page)
    page.fill("#sandbox-name", "Not A Sandbox")
    page.get_by_role("button", name="Switch").click()
    assert "sandbox name is lowercase" in error_text(page)

    # Unknown ids and a forged next= target.
    response = page.goto("/console/connections/no-such-id/explore")
    assert response is not None and response.status == 404
    page.goto("/console/signin?next=https://evil.example/")
    assert page.locator("input[name=next]").first.get_attribute("value") == "/console/flows"


def test_keyboard_only_and_revocation(page: Page, server: LiveServer) -> None:
    creds = new_credentials(server, "C0501D@AdobeOrg")
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    # Signing in needs no mouse: fields in order, Enter submits.
    page.focus("#client_id")
    page.keyboard.type(creds.client_id)
    page.keyboard.press("Tab")
    page.keyboard.type(creds.client_secret)
    page.keyboard.press("Enter")
    page.wait_for_url(at("/console/flows"))
    order = []
    for _ in range(6):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.textContent || document.activeElement.name"))
    assert order[:6] == ["Skip to content", "Headwater", "Sources", "Dataflows", "Datasets", "sandbox"]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # on "Datasets"
    page.wait_for_url(at("/console/datasets"))

    # Revoking the client ends the console session at its next request, as it ends API tokens.
    revoke(server, creds.client_id)
    page.goto("/console/flows")
    page.wait_for_url("**/console/signin?**")
    assert "session ended" in error_text(page)
