"""The store suite's fixture: a migrated store on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.store import Store
from tests.support.pg import pg_admin


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store.from_url(f"sqlite:///{tmp_path / 'meta.db'}")
        s.migrate()
        yield s
        s.engine.dispose()
        return
    name = f"hw_store_{uuid.uuid4().hex[:10]}"
    with pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    s = Store.from_url(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        s.migrate()
        s.migrate()  # idempotent
        yield s
    finally:
        s.engine.dispose()
        with pg_admin() as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
