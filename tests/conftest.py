"""Fixtures shared by the whole suite (helpers live in tests/support), the seed, and the slow-test rule.

Two tiers: `pytest -m "not slow"` needs only the local PostgreSQL and runs in under a minute;
`pytest` runs everything. A test is slow if it is marked so, or if it uses a fixture in
SLOW_FIXTURES (each starts a process that takes seconds: a private cluster, the BigQuery
emulator, a `headwater serve`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings

from headwater.api import create_app
from headwater.service import Services
from headwater.settings import Settings
from tests.support.ids import ORG
from tests.support.seed import SEED
from tests.support.server import LiveServer, running_server
from tests.support.tenants import Tenant, make_tenant

# `bigquery_emulator` is the contract suite's BigQuery source, a parameter value rather than a
# fixture the test requests, so parameters are matched by value too.
SLOW_FIXTURES = frozenset(
    {"cluster", "running_cluster", "ssl_cluster", "bq_emulator", "bigquery_emulator", "live_server"}
)

# No example database: a run depends on the seed alone, never on what an earlier run found.
hypothesis_settings.register_profile("headwater", database=None)
hypothesis_settings.load_profile("headwater")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("hypothesis_seed", None) is None:
        config.option.hypothesis_seed = SEED  # read by hypothesis's own pytest_configure, which runs after


def pytest_report_header(config: pytest.Config) -> str:
    return f"random seed: {SEED} (set HEADWATER_TEST_SEED to change it; hypothesis uses it too)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        used = {*getattr(item, "fixturenames", ()), *(v for v in params.values() if isinstance(v, str))}
        if SLOW_FIXTURES.intersection(used):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", run_embedded_executor=False)


@pytest.fixture
def services(settings: Settings) -> Services:
    svc = Services(settings)
    svc.migrate()
    return svc


@pytest.fixture
def client(settings: Settings, services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(settings, services=services), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def tenant(services: Services) -> Tenant:
    return make_tenant(services, ORG)


@pytest.fixture
def other_tenant(services: Services) -> Tenant:
    return make_tenant(services, "OTHERORG0000000000000000@AdobeOrg")


@pytest.fixture(scope="module")
def refused_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Tenant]]:
    """One app and tenant per module, for requests that are refused and so store nothing.

    A new app costs about 0.25 s of FastAPI route set-up on its first request; matrices of refused
    requests share one instead.
    """
    settings = Settings(data_dir=tmp_path_factory.mktemp("refused") / "data", run_embedded_executor=False)
    services = Services(settings)
    services.migrate()
    with TestClient(create_app(settings, services=services), raise_server_exceptions=False) as client:
        yield client, make_tenant(services, ORG)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    with running_server(tmp_path / "live") as server:
        yield server
