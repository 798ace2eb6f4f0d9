"""Lake fixtures: a real pyiceberg SQL catalog on SQLite or on a throwaway PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from headwater.lake import DatasetIdent, Lake

PG_ADMIN_DSN = os.environ.get("HEADWATER_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")


@pytest.fixture(scope="session")
def pg_catalog_url() -> Iterator[str]:
    """A uniquely named PostgreSQL database for this session's catalogs, dropped afterwards."""
    name = f"hw_lake_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN_DSN!r} (set HEADWATER_TEST_PG): {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        params = admin.info.get_parameters()
        host, port, user = params.get("host", "127.0.0.1"), params.get("port", "5432"), params.get("user")
        yield f"postgresql+psycopg://{user}@{host}:{port}/{name}"
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def catalog_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return str(request.getfixturevalue("pg_catalog_url"))


@pytest.fixture(params=["sqlite", "postgres"])
def catalog_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def lake_config(catalog_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    """Keyword arguments for `Lake(...)`, so tests can open several (e.g. one per process)."""
    return {"catalog_url": catalog_url(catalog_kind, tmp_path, request), "warehouse": str(tmp_path / "wh")}


@pytest.fixture
def lake(lake_config: dict[str, str]) -> Iterator[Lake]:
    """A Lake on SQLite and on PostgreSQL (the test runs once for each)."""
    lk = Lake(**lake_config)
    yield lk
    lk.close()


@pytest.fixture
def sqlite_lake(tmp_path: Path) -> Iterator[Lake]:
    """A Lake on SQLite only, for tests whose subject is not the catalog database."""
    lk = Lake(catalog_url=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=str(tmp_path / "wh"))
    yield lk
    lk.close()


@pytest.fixture
def ident() -> DatasetIdent:
    # Unique per test: PostgreSQL catalogs are shared by the whole session.
    return DatasetIdent(f"ns_{uuid.uuid4().hex[:8]}", f"ds_{uuid.uuid4().hex[:12]}")
