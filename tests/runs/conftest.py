"""Run-engine fixtures: a throwaway PostgreSQL source database and services whose runs read it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from headwater.runs.model import RunSettings
from headwater.runs.task import RunDeps
from headwater.service import Services
from headwater.settings import Settings
from tests.runs.pgsource import PgTestConnector, SourceDb, create_database, drop_database

FAST = RunSettings(
    safety_lag_seconds=0.5,
    lease_seconds=2.0,
    heartbeat_seconds=0.5,
    backoff_base_seconds=0.05,
    progress_seconds=0.0,
    poll_seconds=0.1,
)


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


MakeDeps = Callable[..., RunDeps]


@pytest.fixture
def make_deps(run_services: Services, source_db: SourceDb) -> MakeDeps:
    """RunDeps reading the source database with the test connector (real credentials still resolved)."""

    def make(connector: PgTestConnector | None = None, **overrides: object) -> RunDeps:
        deps = run_services.runs.deps()
        reader = connector or PgTestConnector(source_db.dsn)
        real = deps.resolve
        settings = FAST.model_copy(update=overrides)
        return dataclasses.replace(deps, resolve=lambda rec: (reader, real(rec)[1]), settings=settings)

    return make
