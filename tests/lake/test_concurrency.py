"""Two writers of the same run race to commit: exactly one snapshot, no duplicate rows, no stray files."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from headwater.lake import CommitResult, DatasetIdent, Lake

SCHEMA = pa.schema([("id", pa.int64(), False), ("writer", pa.string())])


def rows(writer: str, n: int, wait: Callable[[], Any]) -> Iterator[pa.RecordBatch]:
    yield pa.RecordBatch.from_pydict({"id": list(range(n)), "writer": [writer] * n}, schema=SCHEMA)
    # Every writer has passed the "already committed?" check and written its file before any commits.
    wait()


def write(
    config: dict[str, str], ident: DatasetIdent, writer: str, run_id: str, wait: Callable[[], Any]
) -> CommitResult:
    lake = Lake(**config)
    try:
        return lake.write_run(ident, run_id=run_id, flow_id="f", batches=rows(writer, 1000, wait), cursor={"w": writer})
    finally:
        lake.close()


def data_files_on_disk(lake: Lake, ident: DatasetIdent) -> set[str]:
    location = lake.catalog.load_table((ident.namespace, ident.dataset_id)).location()
    return {str(p) for p in (Path(location.removeprefix("file://")) / "data").glob("*.parquet")}


def check_single_commit(lake: Lake, ident: DatasetIdent, results: list[CommitResult]) -> None:
    winners = [r for r in results if not r.already_committed]
    assert len(winners) == 1, results
    assert {r.snapshot_id for r in results} == {winners[0].snapshot_id}
    table = lake.scan(ident)
    assert table.num_rows == 1000
    assert len(set(table.column("writer").to_pylist())) == 1  # all rows from the one winning writer
    assert lake.cursor(ident, "f") == winners[0].cursor
    # Losers deleted their files: only the winner's are left.
    assert data_files_on_disk(lake, ident) == set(lake.data_files(ident))


@pytest.mark.parametrize("writers", [2, 4])
def test_threads_racing_the_same_run_commit_once(
    lake: Lake, lake_config: dict[str, str], ident: DatasetIdent, writers: int
) -> None:
    lake.create_dataset(ident, SCHEMA)
    barrier = threading.Barrier(writers, timeout=30)
    results: list[CommitResult] = []
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            results.append(write(lake_config, ident, name, "run-x", barrier.wait))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"t{i}",)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    check_single_commit(lake, ident, results)


# Run in a fresh interpreter (tests are not importable under --import-mode=importlib). The barrier is
# a directory of marker files: each writer has written its data file before any of them commits.
WRITER = """
import json, sys, time, pathlib
import pyarrow as pa
from headwater.lake import DatasetIdent, Lake
config, ident, name, barrier, n = json.loads(sys.argv[1])
schema = pa.schema([("id", pa.int64(), False), ("writer", pa.string())])
def rows():
    yield pa.RecordBatch.from_pydict({"id": list(range(1000)), "writer": [name] * 1000}, schema=schema)
    pathlib.Path(barrier, name).touch()
    deadline = time.monotonic() + 30
    while len(list(pathlib.Path(barrier).iterdir())) < n and time.monotonic() < deadline:
        time.sleep(0.005)
lake = Lake(**config)
r = lake.write_run(DatasetIdent(*ident), run_id="run-p", flow_id="f", batches=rows(), cursor={"w": name})
print(json.dumps([r.rows, r.bytes, r.files, r.snapshot_id, r.already_committed, r.cursor]))
"""


@pytest.mark.slow  # separate processes, seconds each
def test_processes_racing_the_same_run_commit_once(
    lake: Lake, lake_config: dict[str, str], ident: DatasetIdent, tmp_path: Path
) -> None:
    lake.create_dataset(ident, SCHEMA)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    n = 3
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, json.dumps([lake_config, list(ident), f"p{i}", str(barrier), n])],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(CommitResult(*json.loads(out.strip().splitlines()[-1])))
    check_single_commit(lake, ident, results)


def test_different_runs_racing_both_commit(lake: Lake, lake_config: dict[str, str], ident: DatasetIdent) -> None:
    """A commit conflict with another run is retried, not lost."""
    lake.create_dataset(ident, SCHEMA)
    barrier = threading.Barrier(3, timeout=30)
    results: list[CommitResult] = []
    threads = [
        threading.Thread(
            target=lambda i=i: results.append(write(lake_config, ident, f"t{i}", f"run-{i}", barrier.wait))
        )
        for i in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 3 and not any(r.already_committed for r in results)
    assert lake.row_count(ident) == 3000
    assert len({r.snapshot_id for r in results}) == 3
