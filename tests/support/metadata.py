"""An in-process app on a fresh SQLite or PostgreSQL metadata database, for tests that must hold on both."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient

from headwater.api import create_app
from headwater.service import Services
from headwater.settings import Settings
from headwater.store import Store
from headwater.store.repository import _MIGRATIONS
from tests.support.ids import ORG
from tests.support.pg import pg_admin
from tests.support.tenants import Tenant, make_tenant

BACKENDS = ["sqlite", "postgresql"]


@contextmanager
def app_on(backend: str, tmp_path: Path, *, prefix: str) -> Iterator[tuple[TestClient, Services, Tenant]]:
    """A client of an app whose metadata is `backend` (a new database named `prefix_…` on PostgreSQL)."""
    url = None
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    if backend == "postgresql":
        with pg_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    settings = Settings(data_dir=tmp_path / "data", database_url=url, run_embedded_executor=False)
    services = Services(settings)
    services.migrate()
    try:
        with TestClient(create_app(settings, services=services), raise_server_exceptions=False) as client:
            yield client, services, make_tenant(services, ORG)
    finally:
        services.store.engine.dispose()
        if url:
            with pg_admin() as admin:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def alembic(store: Store, action: Callable[[Config, str], None], revision: str) -> None:
    """Run an Alembic command (`command.upgrade`, `command.downgrade`) on `store` to `revision`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        action(cfg, revision)


@contextmanager
def store_at(backend: str, tmp_path: Path, revision: str) -> Iterator[Store]:
    """A store on a fresh SQLite or PostgreSQL database, migrated up to `revision` only."""
    name = f"hw_mig_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        store = Store.from_url(f"sqlite:///{tmp_path / 'meta.db'}")
    else:
        with pg_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        store = Store.from_url(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    alembic(store, command.upgrade, revision)
    try:
        yield store
    finally:
        store.engine.dispose()
        if backend == "postgresql":
            with pg_admin() as admin:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
