"""Several nodes starting at once on a new PostgreSQL metadata database all migrate it, once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from headwater.store import Store
from tests.support.pg import pg_admin


@pytest.fixture
def database_url() -> Iterator[str]:
    name = f"hw_migc_{uuid.uuid4().hex[:10]}"
    with pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with pg_admin() as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_simultaneous_migrations_all_succeed(database_url: str) -> None:
    stores = [Store.from_url(database_url) for _ in range(4)]
    start = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def migrate(store: Store) -> None:
        start.wait()
        try:
            store.migrate()
        except BaseException as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert errors == []
        with stores[0].engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        assert len(versions) == 1
    finally:
        for store in stores:
            store.engine.dispose()
