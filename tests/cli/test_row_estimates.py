"""`progress.estimatedTotalRecords` comes from the source's statistics: pg_class.reltuples, never a count."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.connectors._estimates import estimate_rows
from headwater.connectors.postgres import PostgresConnector
from headwater.settings import Settings
from tests.connectors.postgres.conftest import local_auth
from tests.support.net import free_port
from tests.support.pg import pg_admin


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"hw_est_{uuid.uuid4().hex[:8]}"
    with pg_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with pg_admin() as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture
def connector(tmp_path: Path) -> PostgresConnector:
    return PostgresConnector(Settings(data_dir=tmp_path / "data"))


def test_an_analyzed_table_gives_reltuples(schema: str, connector: PostgresConnector) -> None:
    with pg_admin() as conn:
        conn.execute(f'CREATE TABLE "{schema}".t AS SELECT g AS id FROM generate_series(1, 5000) g')
        assert estimate_rows(connector, local_auth(), f"{schema}.t") is None  # never analyzed: no statistics
        conn.execute(f'ANALYZE "{schema}".t')
    assert estimate_rows(connector, local_auth(), f"{schema}.t") == 5000


def test_a_partitioned_table_sums_its_analyzed_leaves(schema: str, connector: PostgresConnector) -> None:
    with pg_admin() as conn:
        conn.execute(f'CREATE TABLE "{schema}".p (id int) PARTITION BY RANGE (id)')
        conn.execute(f'CREATE TABLE "{schema}".p1 PARTITION OF "{schema}".p FOR VALUES FROM (0) TO (1000)')
        conn.execute(f'CREATE TABLE "{schema}".p2 PARTITION OF "{schema}".p FOR VALUES FROM (1000) TO (5000)')
        conn.execute(f'INSERT INTO "{schema}".p SELECT g FROM generate_series(0, 2999) g')
        conn.execute(f'ANALYZE "{schema}".p1')
        assert estimate_rows(connector, local_auth(), f"{schema}.p") is None  # p2 unknown: no total
        conn.execute(f'ANALYZE "{schema}".p2')
    assert estimate_rows(connector, local_auth(), f"{schema}.p") == 3000


def test_views_and_missing_tables_have_none(schema: str, connector: PostgresConnector) -> None:
    with pg_admin() as conn:
        conn.execute(f'CREATE TABLE "{schema}".t AS SELECT g AS id FROM generate_series(1, 100) g')
        conn.execute(f'ANALYZE "{schema}".t')
        conn.execute(f'CREATE VIEW "{schema}".v AS SELECT * FROM "{schema}".t')
    assert estimate_rows(connector, local_auth(), f"{schema}.v") is None
    assert estimate_rows(connector, local_auth(), f"{schema}.missing") is None


def test_an_unreachable_source_gives_none_not_an_error(connector: PostgresConnector) -> None:
    assert estimate_rows(connector, local_auth(port=free_port()), "public.t") is None
