"""Fixtures of the API tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.pg import pg_admin


@pytest.fixture
def pg_table() -> Iterator[str]:
    """A small source table in its own schema; yields the explore path `schema.table`."""
    schema = f"hw_flows_{uuid.uuid4().hex[:8]}"
    with pg_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(
            f'CREATE TABLE "{schema}".customers (id bigint primary key, name text, '
            "updated_at timestamptz not null default now(), score numeric(10,2), tags text[])"
        )
        conn.execute(
            f'INSERT INTO "{schema}".customers (id, name, score, tags) '
            "SELECT g, 'n' || g, g * 1.5, ARRAY['a', 'b'] FROM generate_series(1, 20) g"
        )
    try:
        yield f"{schema}.customers"
    finally:
        with pg_admin() as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
