"""A real `headwater serve`, Debian's headless chromium driven by Playwright, and a source table with edge values."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Response, sync_playwright

from headwater.identity import TokenIssuer
from headwater.service import Services
from headwater.settings import Settings
from tests.support.pg import pg_admin
from tests.support.server import LiveServer, start_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Screenshots of every page, kept after the run (bench/out/ is not committed).
SHOTS = Path(os.environ.get("HEADWATER_CONSOLE_SHOTS", Path(__file__).resolve().parents[2] / "bench/out/console"))


@dataclass
class Credentials:
    org: str
    client_id: str
    client_secret: str


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # A one-second scheduler tick, so a dataflow that starts "now" gets its run at once; progress
    # reported twice a second, so the flow page has figures to show while a run streams.
    env = {"HEADWATER_SCHEDULER_INTERVAL_SECONDS": "1", "HEADWATER_RUN_PROGRESS_SECONDS": "0.5"}
    live = start_server(tmp_path_factory.mktemp("console"), env)
    try:
        yield live
    finally:
        live.stop()


@functools.cache
def _issuer(data_dir: Path) -> TokenIssuer:
    """The server's own token issuer (same metadata database and key file), as `headwater credentials` uses it."""
    return Services(Settings(data_dir=data_dir, run_embedded_executor=False)).tokens


def new_credentials(server: LiveServer, org: str) -> Credentials:
    made = _issuer(server.data_dir).create_credentials(org)
    return Credentials(org, made.client_id, made.client_secret)


def local_client(server: LiveServer, org: str) -> tuple[str, str]:
    """A client id and an access token for `org`, as `headwater token` makes them."""
    return _issuer(server.data_dir).mint_local(org)


def local_token(server: LiveServer, org: str) -> str:
    return local_client(server, org)[1]


def revoke(server: LiveServer, client_id: str) -> None:
    assert _issuer(server.data_dir).revoke(client_id)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/services.sh does)")
    with sync_playwright() as pw:
        found = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield found
        finally:
            found.close()


class ServerErrors:
    """Every 5xx answer the browser saw: the console must never produce one."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, response: Response) -> None:
        if response.status >= 500:
            self.seen.append(f"{response.status} {response.request.method} {response.url}")


@pytest.fixture
def server_errors() -> ServerErrors:
    return ServerErrors()


@pytest.fixture
def context(browser: Browser, server: LiveServer, server_errors: ServerErrors) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=server.base_url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    ctx.on("response", server_errors.watch)
    try:
        yield ctx
    finally:
        ctx.close()
    assert not server_errors.seen, server_errors.seen


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def shot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def at(path: str) -> Callable[[str], bool]:
    """A URL predicate on the path alone (a glob would also match `/console/signin?next=/console/flows`)."""
    return lambda url: urlparse(url).path == path


def sign_in(page: Page, creds: Credentials) -> None:
    page.goto("/")
    page.get_by_label("Client id").fill(creds.client_id)
    page.get_by_label("Client secret").fill(creds.client_secret)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(at("/console/flows"))


@pytest.fixture
def source_table() -> Iterator[str]:
    """`schema.people`: text with NULL and empty values, a double with NaN, ±Infinity and NULL, a delta column."""
    schema = f"hw_console_{uuid.uuid4().hex[:8]}"
    with pg_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(
            f'CREATE TABLE "{schema}".people (id bigint primary key, name text, score double precision, '
            "updated_at timestamptz not null)"
        )
        conn.execute(
            f'INSERT INTO "{schema}".people VALUES '
            "(1, 'ada', 1.5, '2024-01-01T00:00:00Z'), (2, NULL, 'NaN', '2024-01-02T00:00:00Z'), "
            "(3, '', 'Infinity', '2024-01-03T00:00:00Z'), (4, 'NaN', '-Infinity', '2024-01-04T00:00:00Z'), "
            "(5, 'eve', NULL, '2024-01-05T00:00:00Z')"
        )
    try:
        yield f"{schema}.people"
    finally:
        with pg_admin() as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


