"""RunStaging, the run-document record of staged units: resumed only for the same read, saved before it counts."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.runs.staging import DOC_KEY, RunStaging, without_staging

DATASET = ("ns", "ds1")


class Saved:
    """The run document as the ledger would hold it; `fail` makes the next save raise (a lost lease)."""

    def __init__(self) -> None:
        self.doc: dict[str, Any] = {}
        self.fail = False

    def __call__(self, state: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("lease lost")
        self.doc[DOC_KEY] = state


def test_an_attempt_resumes_what_an_earlier_one_staged_for_the_same_read() -> None:
    saved = Saved()
    first = RunStaging.resume(saved.doc, fingerprint="f1", dataset=DATASET, attempt=1, save=saved)
    first.set_plan({"chunks": ["a", "b", "c"]})
    first.stage("a", files=["s3://w/a-1.parquet"], rows_in=10, bytes_in=100, rows_out=9, failed=1)
    # A stream stages stretches as it goes: files accumulate, the position moves, it is not done yet.
    first.stage("b", files=["s3://w/b-1.parquet"], rows_in=5, position=5, done=False)

    second = RunStaging.resume(saved.doc, fingerprint="f1", dataset=DATASET, attempt=2, save=saved)
    assert second.plan == {"chunks": ["a", "b", "c"]}
    assert second.resumed == {"a"} and second.pending(["a", "b", "c"]) == ["b", "c"]
    unit = second.unit("b")
    assert unit is not None and unit.position == 5 and not unit.done
    second.stage("b", files=["s3://w/b-2.parquet"], rows_in=3, position=8, done=True)
    assert second.files() == ["s3://w/a-1.parquet", "s3://w/b-1.parquet", "s3://w/b-2.parquet"]
    assert second.totals() == {"rows_in": 18, "bytes_in": 100, "rows_out": 9, "failed": 1}
    with pytest.raises(ValueError, match="already staged"):
        second.stage("a", files=[])


def test_a_different_read_starts_afresh() -> None:
    saved = Saved()
    first = RunStaging.resume(saved.doc, fingerprint="f1", dataset=DATASET, attempt=1, save=saved)
    first.stage("a", files=["a.parquet"])
    for fingerprint, dataset in (("f2", DATASET), ("f1", ("ns", "other"))):
        other = RunStaging.resume(saved.doc, fingerprint=fingerprint, dataset=dataset, attempt=2, save=saved)
        assert other.plan is None and other.files() == [] and other.pending(["a"]) == ["a"]


def test_a_unit_whose_save_failed_is_not_counted() -> None:
    saved = Saved()
    staging = RunStaging.resume(saved.doc, fingerprint="f1", dataset=DATASET, attempt=1, save=saved)
    staging.stage("s", files=["s-1.parquet"], position=1, done=False)
    saved.fail = True
    with pytest.raises(RuntimeError):
        staging.stage("s", files=["s-2.parquet"], position=2)
    with pytest.raises(RuntimeError):
        staging.stage("t", files=["t-1.parquet"])
    unit = staging.unit("s")
    assert unit is not None and unit.files == ["s-1.parquet"] and unit.position == 1 and not unit.done
    assert staging.unit("t") is None and staging.files() == ["s-1.parquet"]


def test_without_staging_names_the_files_to_discard() -> None:
    saved = Saved()
    staging = RunStaging.resume(saved.doc, fingerprint="f1", dataset=DATASET, attempt=1, save=saved)
    staging.stage("a", files=["a.parquet"])
    staging.stage("b", files=["b.parquet"], done=False)
    doc, dataset, files = without_staging({**saved.doc, "metrics": {}})
    assert doc == {"metrics": {}} and dataset == DATASET and files == ["a.parquet", "b.parquet"]
    assert without_staging({"metrics": {}}) == ({"metrics": {}}, None, [])


def test_forgetting_an_expired_plan_leaves_nothing_to_resume() -> None:
    saved = Saved()
    first = RunStaging.resume(saved.doc, fingerprint="f1", dataset=DATASET, attempt=1, save=saved)
    first.set_plan({"chunks": [{"key": "s0"}, {"key": "s1"}]})
    first.stage("s0", files=["s0-1.parquet"], rows_in=4)
    first.forget()
    second = RunStaging.resume(saved.doc, fingerprint="f1", dataset=DATASET, attempt=2, save=saved)
    assert second.plan is None and second.files() == [] and second.resumed == frozenset()
    assert second.pending(["s0", "s1"]) == ["s0", "s1"] and second.totals()["rows_in"] == 0
