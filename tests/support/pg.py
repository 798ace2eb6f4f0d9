"""The local PostgreSQL server (HEADWATER_TEST_PG, default 127.0.0.1:5432, trust) and throw-away tables in it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

PG_ADMIN_DSN = os.environ.get("HEADWATER_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")


def pg_admin() -> psycopg.Connection:
    try:
        return psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN_DSN!r} (set HEADWATER_TEST_PG): {exc}")


@contextmanager
def pg_table(prefix: str = "hw_rel", rows: int = 20) -> Iterator[str]:
    """A small source table in its own schema on the local PostgreSQL; yields `schema.table`."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with pg_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(
            f'CREATE TABLE "{schema}".customers (id bigint primary key, name text, '
            "updated_at timestamptz not null default '2024-01-01T00:00:00Z')"
        )
        conn.execute(
            f'INSERT INTO "{schema}".customers (id, name, updated_at) '
            "SELECT g, 'n' || g, timestamptz '2024-01-01' + g * interval '1 minute' "
            f"FROM generate_series(1, {int(rows)}) g"
        )
    try:
        yield f"{schema}.customers"
    finally:
        with pg_admin() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def customers_table() -> Iterator[str]:
    """Customers with numeric and array columns, in a schema of their own; yields `schema.table`."""
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
