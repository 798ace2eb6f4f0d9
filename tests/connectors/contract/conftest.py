"""One fixture per connector for the contract suite (test_contract.py), which every connector passes.

A connector joins the suite with one session fixture decorated `@contract_source`, returning a
`ContractSource`: the connector, good and refused credentials as `auth.params`, and a function that
creates the standard table (`STANDARD_ROWS`, columns as in `STANDARD_COLUMNS`) in the source.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from google.cloud import bigquery
from psycopg import sql

from headwater.connectors.base import Connector
from headwater.connectors.bigquery import BigQueryConnector
from headwater.connectors.postgres import PostgresConnector
from headwater.settings import Settings
from tests.connectors.bigquery.emulator import CLIENT_ID, CLIENT_SECRET, PROJECT, REFRESH_TOKEN, TIMEOUTS
from tests.support.pg import PG_ADMIN_DSN, pg_admin

# name → the column's meaning; each source declares it with its own closest type.
STANDARD_COLUMNS = ("id", "name", "amount", "ratio", "flag", "day", "updated_at")
STANDARD_ROWS: list[dict[str, Any]] = [
    {
        "id": i,
        "name": f"name {i}" if i != 3 else "it's",
        "amount": Decimal(f"{i}.25"),
        "ratio": i / 4,
        "flag": i % 2 == 0,
        "day": dt.date(2024, 1, i),
        "updated_at": dt.datetime(2024, 1, i, 10, 0, 0, 123456, tzinfo=dt.UTC),
    }
    for i in range(1, 11)
]


@dataclass(frozen=True)
class ContractSource:
    """What the contract suite needs to know about one connector."""

    connector: Connector
    settings: Settings  # settings the registry loads the connector with
    auth_spec: str  # the auth spec name of `auth_params`
    auth_params: dict[str, Any]  # `auth.params` the source accepts
    refused_params: dict[str, Any]  # well-formed `auth.params` the source refuses (check → ConfigError)
    missing_table: str  # an explore path that names no table
    make_table: Callable[[], str]  # creates a new table of STANDARD_ROWS; returns its explore path


SOURCES: list[str] = []


def contract_source(fixture: Callable[..., Any]) -> Any:
    """Register a session fixture returning a `ContractSource`: the suite then runs against it."""
    SOURCES.append(fixture.__name__)
    return pytest.fixture(scope="session")(fixture)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "source" in metafunc.fixturenames:
        metafunc.parametrize("source", SOURCES, indirect=True)


@pytest.fixture(scope="session")
def source(request: pytest.FixtureRequest) -> ContractSource:
    found: ContractSource = request.getfixturevalue(request.param)
    return found


# --- PostgreSQL: the local server, one schema per test session -------------------------------------


@contract_source
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractSource]:
    info = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_DSN)
    params = {
        "server": info.get("host", "127.0.0.1"),
        "port": int(str(info.get("port", 5432))),
        "database": info.get("dbname", "postgres"),
        "username": info.get("user", "postgres"),
        "password": str(info.get("password", "unused-secret")),
        "sslMode": "disable",
    }
    conn = pg_admin()
    schema = f"hw_contract_{uuid.uuid4().hex[:10]}"
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))

    def make_table() -> str:
        name = f"t_{uuid.uuid4().hex[:8]}"
        table = sql.Identifier(schema, name)
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (id bigint PRIMARY KEY, name text, amount numeric(10, 2), ratio double precision,"
                " flag boolean, day date, updated_at timestamptz)"
            ).format(table)
        )
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s, %s)").format(table),
                [tuple(row[c] for c in STANDARD_COLUMNS) for row in STANDARD_ROWS],
            )
        conn.execute(sql.SQL("ANALYZE {}").format(table))
        return f"{schema}.{name}"

    try:
        yield ContractSource(
            connector=PostgresConnector(),
            settings=Settings(data_dir=tmp_path_factory.mktemp("pg-contract")),
            auth_spec="Basic Authentication",
            auth_params=params,
            refused_params={**params, "username": "no_such_role_here"},
            missing_table=f"{schema}.no_such_table",
            make_table=make_table,
        )
    finally:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        conn.close()


# --- BigQuery: the emulator, one dataset per test session ------------------------------------------

_BQ_SCHEMA = [
    bigquery.SchemaField("id", "INT64", mode="REQUIRED"),
    bigquery.SchemaField("name", "STRING"),
    bigquery.SchemaField("amount", "NUMERIC"),
    bigquery.SchemaField("ratio", "FLOAT64"),
    bigquery.SchemaField("flag", "BOOL"),
    bigquery.SchemaField("day", "DATE"),
    bigquery.SchemaField("updated_at", "TIMESTAMP"),
]


def _bq_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@contract_source
def bigquery_emulator(bq_settings: Settings, bq_admin: bigquery.Client) -> Iterator[ContractSource]:
    params = {"project": PROJECT, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "refreshToken": REFRESH_TOKEN}
    dataset = f"hw_contract_{uuid.uuid4().hex[:10]}"
    bq_admin.create_dataset(f"{PROJECT}.{dataset}", timeout=10, retry=TIMEOUTS.rest_retry())

    def make_table() -> str:
        name = f"t_{uuid.uuid4().hex[:8]}"
        table = bq_admin.create_table(bigquery.Table(f"{PROJECT}.{dataset}.{name}", schema=_BQ_SCHEMA), timeout=10)
        rows = [{k: _bq_json(v) for k, v in row.items()} for row in STANDARD_ROWS]
        assert bq_admin.insert_rows_json(table, rows, timeout=10, retry=TIMEOUTS.rest_retry()) == []
        return f"{dataset}.{name}"

    try:
        yield ContractSource(
            connector=BigQueryConnector(bq_settings, timeouts=TIMEOUTS),
            settings=bq_settings,
            auth_spec="Basic Authentication",
            auth_params=params,
            refused_params={**params, "refreshToken": "revoked-refresh-token"},
            missing_table=f"{dataset}.no_such_table",
            make_table=make_table,
        )
    finally:
        bq_admin.delete_dataset(f"{PROJECT}.{dataset}", delete_contents=True, not_found_ok=True, timeout=10)
