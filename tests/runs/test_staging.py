"""RunStaging kept in `run_units` rows: resumed only for the same read, saved before it counts, written only
by the lease holder, one row per unit (a unit's record does not rewrite the others), gone when the run ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, update

from headwater.runs import staging_store
from headwater.runs.lease import LeaseLost
from headwater.runs.ledger import Ledger, RunRow, new_run_id
from headwater.runs.model import RunEvent
from headwater.runs.report import new_doc
from headwater.runs.staging import RunStaging
from headwater.store import Store, now_ms
from headwater.store.tables import run_units, runs
from tests.runs.source import SCOPE
from tests.support.metadata import BACKENDS, store_at

DATASET = ("ns", "ds1")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with store_at(request.param, tmp_path, "head") as migrated:
        yield migrated


def claimed(store: Store, owner: str = "w1") -> RunRow:
    ledger, run_id = Ledger(store), new_run_id()
    assert ledger.insert(run_id=run_id, scope=SCOPE, flow_id=f"flow-{run_id}", scheduled_at=now_ms(),
                         doc=new_doc(flow_spec={}, trigger="schedule"))
    row = ledger.claim(run_id, owner=owner, now=now_ms(), lease_ms=60_000)
    assert row is not None
    return row


def resume(store: Store, row: RunRow, *, fingerprint: str = "f1", dataset: tuple[str, str] = DATASET,
           owner: str = "w1", attempt: int = 1) -> RunStaging:
    sink = staging_store.StagingRows(store, row.id, owner)
    return RunStaging.resume(staging_store.load(store, row.id), fingerprint=fingerprint, dataset=dataset,
                             attempt=attempt, sink=sink)


def test_an_attempt_resumes_what_an_earlier_one_staged_for_the_same_read(store: Store) -> None:
    row = claimed(store)
    first = resume(store, row)
    first.set_plan({"chunks": ["a", "b", "c"]})
    first.stage("a", files=["s3://w/a-1.parquet"], rows_in=10, bytes_in=100, rows_out=9, failed=1)
    # A stream stages stretches as it goes: files accumulate, the position moves, it is not done yet.
    first.stage("b", files=["s3://w/b-1.parquet"], rows_in=5, position=5, done=False)

    second = resume(store, row, attempt=2)
    assert second.plan == {"chunks": ["a", "b", "c"]}
    assert second.resumed == {"a"} and second.pending(["a", "b", "c"]) == ["b", "c"]
    unit = second.unit("b")
    assert unit is not None and unit.position == 5 and not unit.done
    second.stage("b", files=["s3://w/b-2.parquet"], rows_in=3, position=8, done=True)
    assert second.files() == ["s3://w/a-1.parquet", "s3://w/b-1.parquet", "s3://w/b-2.parquet"]
    assert second.totals() == {"rows_in": 18, "bytes_in": 100, "rows_out": 9, "failed": 1}
    assert resume(store, row, attempt=3).files() == second.files()
    with pytest.raises(ValueError, match="already staged"):
        second.stage("a", files=[])


def test_a_different_read_starts_afresh(store: Store) -> None:
    row = claimed(store)
    first = resume(store, row)
    first.set_plan({"chunks": ["a"]})
    first.stage("a", files=["a.parquet"])
    for fingerprint, dataset in (("f2", DATASET), ("f1", ("ns", "other"))):
        other = resume(store, row, fingerprint=fingerprint, dataset=dataset, attempt=2)
        assert other.plan is None and other.files() == [] and other.pending(["a"]) == ["a"]


def test_only_the_lease_holder_writes_and_a_refused_unit_is_not_counted(store: Store) -> None:
    row = claimed(store)
    staging = resume(store, row)
    staging.set_plan({"chunks": ["s", "t"]})
    staging.stage("s", files=["s-1.parquet"], position=1, done=False)
    with store.begin() as conn:  # another worker took the run over
        conn.execute(update(runs).where(runs.c.id == row.id).values(lease_owner="w2"))
    with pytest.raises(LeaseLost):
        staging.stage("s", files=["s-2.parquet"], position=2)
    with pytest.raises(LeaseLost):
        staging.stage("t", files=["t-1.parquet"])
    unit = staging.unit("s")
    assert unit is not None and unit.files == ["s-1.parquet"] and unit.position == 1 and not unit.done
    assert staging.unit("t") is None and staging.files() == ["s-1.parquet"]
    kept = staging_store.load(store, row.id)
    assert kept is not None and [u["files"] for u in kept["units"]] == [["s-1.parquet"]]


def test_a_unit_writes_its_own_row_only(store: Store) -> None:
    """Recording a chunk costs the same at the 100th chunk as at the first: one row, not the whole staging."""
    row = claimed(store)
    staging = resume(store, row)
    staging.set_plan({"chunks": [f"c{i}" for i in range(100)]})
    for i in range(99):
        staging.stage(f"c{i}", files=[f"c{i}.parquet"])
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        staging.stage("c99", files=["c99.parquet"])
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    writes = [s for s in statements if s.lstrip().upper().startswith(("UPDATE", "INSERT"))]
    assert len(writes) <= 3, writes  # the lease check, and the unit's update or insert
    assert not any("run_units" in s and "c98" in s for s in statements)
    with store.begin() as conn:
        count = conn.execute(select(func.count()).select_from(run_units).where(run_units.c.run_id == row.id))
        assert count.scalar_one() == 101


def test_the_run_that_ends_takes_its_staging_with_it(store: Store) -> None:
    row = claimed(store)
    staging = resume(store, row)
    staging.set_plan({"chunks": ["a", "b"]})
    staging.stage("a", files=["a.parquet"])
    staging.stage("b", files=["b.parquet"], done=False)
    ended = Ledger(store).finish(row, owner="w1", event=RunEvent.FAIL, doc=row.doc)
    assert ended is not None and ended.dataset == DATASET and sorted(ended.staged) == ["a.parquet", "b.parquet"]
    assert staging_store.load(store, row.id) is None


def test_a_staging_kept_in_the_run_document_is_resumed_and_moved_to_rows(store: Store) -> None:
    """A run in flight while Headwater was upgraded kept its staging in its document."""
    row = claimed(store)
    legacy = {"fingerprint": "f1", "dataset": list(DATASET), "plan": {"chunks": ["a", "b"]},
              "units": [{"key": "a", "files": ["a.parquet"], "rows_in": 3, "done": True}], "fromDocument": True}
    sink = staging_store.StagingRows(store, row.id, "w1")
    staging = RunStaging.resume(legacy, fingerprint="f1", dataset=DATASET, attempt=2, sink=sink)
    assert staging.resumed == {"a"} and staging.files() == ["a.parquet"]
    kept = staging_store.load(store, row.id)
    assert kept is not None and kept["plan"] == {"chunks": ["a", "b"]} and kept["units"][0]["files"] == ["a.parquet"]


def test_forgetting_an_expired_plan_leaves_nothing_to_resume(store: Store) -> None:
    row = claimed(store)
    first = resume(store, row)
    first.set_plan({"chunks": [{"key": "s0"}, {"key": "s1"}]})
    first.stage("s0", files=["s0-1.parquet"], rows_in=4)
    first.forget()
    second = resume(store, row, attempt=2)
    assert second.plan is None and second.files() == [] and second.resumed == frozenset()
    assert second.pending(["s0", "s1"]) == ["s0", "s1"] and second.totals()["rows_in"] == 0
