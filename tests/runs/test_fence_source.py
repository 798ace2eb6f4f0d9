"""The PostgreSQL side of fenced reads: one snapshot across partitions, and what a plain role can see."""

from __future__ import annotations

import datetime as dt

import pytest

from headwater.connectors.postgres import PostgresConnector
from headwater.domain import DeltaWindow, ReadRequest
from headwater.domain.fence import SnapshotFacts, XidFence
from headwater.runs.cursor import start_bound
from headwater.runs.incremental import _UNSEEN_SESSIONS
from headwater.service import Services
from tests.runs.settled import create_events, wait_settled
from tests.runs.source import SourceDb


@pytest.fixture
def events(source_db: SourceDb) -> str:
    return create_events(source_db)


def test_partitioned_fenced_reads_share_one_snapshot(run_services: Services, source_db: SourceDb, events: str) -> None:
    """Every key range reads in the snapshot the fence reported: rows committed meanwhile wait for the next run."""

    with source_db.connect() as conn:
        conn.execute("INSERT INTO events (note) SELECT 'a' FROM generate_series(1, 4000)")
        conn.execute("ANALYZE events")
        wait_settled(conn)
    connector = PostgresConnector(run_services.settings)
    seen: list[SnapshotFacts] = []
    fence = XidFence(on_snapshot=seen.append)
    request = ReadRequest(
        events,
        columns=("id",),
        window=DeltaWindow("id", nulls=True, fence=fence),
        parallelism=2,
        options={"min_partition_rows": 500},
    )
    auth = connector.spec.auth_method("Basic Authentication").parse(
        {
            "server": "127.0.0.1",
            "port": "5432",
            "database": source_db.name,
            "username": "postgres",
            "password": "unused-with-trust",
            "sslMode": "Disable",
        }
    )
    batches = connector.read(auth, request)
    got = [r for b in [next(batches)] for r in b.column("id").to_pylist()]
    with source_db.connect() as conn:  # committed after the snapshot: not in this read
        conn.execute("INSERT INTO events (note) SELECT 'late' FROM generate_series(1, 100)")
    got += [r for b in batches for r in b.column("id").to_pylist()]
    assert len(seen) == 1 and seen[0].before <= seen[0].xmax
    assert sorted(got) == list(range(1, 4001))


def test_a_role_without_pg_read_all_stats_falls_back_to_the_setting_and_says_so(
    run_services: Services, source_db: SourceDb, events: str
) -> None:
    """Other roles' transaction starts are hidden from it: the bound comes from the setting, with a notice."""

    role = f"hw_reader_{source_db.name[-10:]}"
    with source_db.connect() as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT SELECT ON events TO {role}")
    try:
        connector = PostgresConnector(run_services.settings)
        params = {
            "server": "127.0.0.1",
            "port": "5432",
            "database": source_db.name,
            "username": role,
            "password": "unused-with-trust",
            "sslMode": "Disable",
        }
        facts = connector.fence_sessions(connector.spec.auth_method("Basic Authentication").parse(params), events)
        assert facts is not None and not facts.sees_all_sessions
        bound = start_bound(facts, open_transaction_seconds=600)
        assert bound == facts.statement_at - dt.timedelta(seconds=601)
        assert "pg_read_all_stats" in _UNSEEN_SESSIONS
    finally:
        with source_db.connect() as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")
