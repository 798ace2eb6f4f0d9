"""What a flow's runs are asked on every page and tick: its last ended run (`lastRunDetails`), its
newest scheduled time, and a claim's check of its unfinished runs. Each is found by index seeks on
SQLite and on PostgreSQL, however many runs the flow has had (migration 0009)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, inspect

from headwater.runs.ledger import Ledger
from headwater.runs.ledger_reads import LAST_FINISHED
from headwater.runs.model import RunEvent
from headwater.runs.report import new_doc
from headwater.store import Scope, Store, now_ms
from tests.runs.source import SCOPE
from tests.support.metadata import BACKENDS, alembic, store_at


def _run(ledger: Ledger, flow: str, at: int, event_: RunEvent | None, *, scope: Scope = SCOPE) -> str:
    run_id = str(uuid.uuid4())
    assert ledger.insert(
        run_id=run_id, scope=scope, flow_id=flow, scheduled_at=at, doc=new_doc(flow_spec={}, trigger="schedule")
    )
    if event_ is not None:
        row = ledger.claim(run_id, owner="w", now=now_ms(), lease_ms=60_000)
        assert row is not None
        times = {"durationSummary": {"startedAtUTC": 1000 + at, "completedAtUTC": 2000 + at}}
        assert ledger.finish(row, owner="w", event=event_, doc={**row.doc, "metrics": times})
        time.sleep(0.005)  # updated_at is in ms: keep the ends apart
    return run_id


def test_the_last_run_is_the_newest_that_succeeded_or_failed(store: Store) -> None:
    ledger = Ledger(store)
    _run(ledger, "a", 1, RunEvent.SUCCEED)
    newest_a = _run(ledger, "a", 2, RunEvent.FAIL)
    _run(ledger, "a", 3, RunEvent.CANCEL)  # ended later, but cancelled runs are not shown
    _run(ledger, "a", 4, RunEvent.SUCCEED, scope=Scope(SCOPE.org, "other"))  # another sandbox's
    _run(ledger, "a", 5, None)  # still pending
    only_b = _run(ledger, "b", 1, RunEvent.SUCCEED)
    _run(ledger, "c", 1, None)

    last = ledger.last_finished(SCOPE, ["a", "b", "c", "a", "missing"])
    assert {f: (r.id, r.status.value) for f, r in last.items()} == {"a": (newest_a, "failed"), "b": (only_b, "success")}
    # The times are the run's own, extracted by the database from its doc with their JSON types.
    assert (last["a"].started_at, last["a"].completed_at) == (1002, 2002)
    assert (last["b"].started_at, last["b"].completed_at) == (1001, 2001)
    assert set(ledger.last_finished(SCOPE, ["b", "c"])) == {"b"}
    assert ledger.last_finished(SCOPE, []) == {}


def test_the_last_run_is_one_seek_into_the_ended_runs_index(store: Store) -> None:
    """The plan, not a timing: the statuses the query writes imply the partial index's condition."""
    ledger = Ledger(store)
    _run(ledger, "a", 1, RunEvent.SUCCEED)
    seen: dict[str, Any] = {}
    postgres = store.engine.dialect.name == "postgresql"
    with store.engine.connect() as conn:

        def capture(conn_: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            seen.setdefault("sql", (statement, parameters))

        event.listen(conn, "before_cursor_execute", capture)
        LAST_FINISHED[postgres].rows(conn, {"org": SCOPE.org, "sandbox": SCOPE.sandbox, "flow_ids": '["a"]'})
        event.remove(conn, "before_cursor_execute", capture)
        statement, parameters = seen["sql"]
        if postgres:
            # A table of a few rows is read whole by choice; without that choice, the index must serve.
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = conn.exec_driver_sql("EXPLAIN " + statement, parameters).scalars().all()
        else:
            plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
    assert any("ix_runs_flow_last_ended" in line for line in plan), plan


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_0009_swaps_the_flow_run_indexes_and_back(backend: str, tmp_path: Path) -> None:
    with store_at(backend, tmp_path, "0008") as store:

        def run_indexes() -> set[str]:
            with store.engine.connect() as conn:
                return {i["name"] for i in inspect(conn).get_indexes("runs")}

        assert "ix_runs_flow_ended" in run_indexes()
        alembic(store, command.upgrade, "0009")
        assert {"ix_runs_flow_last_ended", "ix_runs_flow_status"} <= run_indexes()
        assert "ix_runs_flow_ended" not in run_indexes()
        alembic(store, command.downgrade, "0008")
        assert "ix_runs_flow_ended" in run_indexes()
        assert not {"ix_runs_flow_last_ended", "ix_runs_flow_status"} & run_indexes()


def test_the_last_scheduled_time_is_each_flows_newest(store: Store) -> None:
    ledger = Ledger(store)
    for at in (5_000, 1_000, 9_000):
        _run(ledger, "a", at, None)
    _run(ledger, "b", 7_000, None)
    assert ledger.last_scheduled(["a", "b", "none", "a"]) == {"a": 9_000, "b": 7_000}
    assert ledger.last_scheduled([]) == {}


def test_a_claim_checks_the_flows_unfinished_runs_by_seeks(tmp_path: Path) -> None:
    """A claim looks for the flow's pending and running runs before it, one seek per status, not
    through the flow's history. (SQLite's plan: PostgreSQL's choice between indexes on a table of a
    few rows follows its statistics, so only SQLite's is checked.)"""
    store = Store.from_url(f"sqlite:///{tmp_path / 'meta.db'}")
    store.migrate()
    ledger = Ledger(store)
    _run(ledger, "a", 1, RunEvent.SUCCEED)
    pending = _run(ledger, "a", 2, None)
    seen: list[tuple[str, Any]] = []

    def capture(conn_: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("UPDATE RUNS"):
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    assert ledger.claim(pending, owner="w", now=now_ms(), lease_ms=60_000) is not None
    event.remove(store.engine, "before_cursor_execute", capture)
    statement, parameters = seen[0]
    with store.engine.connect() as conn:
        plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
    other_runs = [line for line in plan if "SEARCH other" in line]
    assert len(other_runs) >= 2 and all("ix_runs_flow_status (flow_id=? AND status=?" in line for line in other_runs), (
        plan
    )
    store.engine.dispose()
