"""Run-engine fixtures: a throwaway PostgreSQL source database and services whose runs read it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.connectors.base import ConnectorRegistry
from headwater.connectors.postgres import PostgresConnector
from headwater.runs.credentials import Credentials
from headwater.runs.task import RunDeps
from headwater.service import Services
from headwater.settings import Settings
from tests.runs.source import FAST, MakeDeps, SourceDb, create_database, drop_database
from tests.support.ids import PG_SPEC


@pytest.fixture
def source_db() -> Iterator[SourceDb]:
    db = create_database("hw_runsrc")
    try:
        yield db
    finally:
        drop_database(db)


@pytest.fixture
def run_services(tmp_path: Path) -> Services:
    svc = Services(Settings(data_dir=tmp_path / "data", run_embedded_executor=False))
    svc.migrate()
    return svc


@pytest.fixture
def make_deps(run_services: Services) -> MakeDeps:
    """RunDeps of `run_services` with fast run settings; `connector` replaces the production PostgreSQL one."""

    def make(connector: PostgresConnector | None = None, **overrides: object) -> RunDeps:
        deps = run_services.run_deps()
        settings = FAST.model_copy(update=overrides)
        if connector is None:
            return dataclasses.replace(deps, settings=settings)
        credentials = Credentials(deps.credentials.box, ConnectorRegistry({PG_SPEC: connector}))
        return dataclasses.replace(deps, credentials=credentials, settings=settings)

    return make
