"""Writing runs: one snapshot per run, idempotent by run id, cursor advances only with the commit."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from headwater.errors import NotFound
from headwater.lake import RUN_ID, DatasetIdent, Lake, namespace_for
from headwater.lake._writer import RollingParquetWriter

SCHEMA = pa.schema([("id", pa.int64(), False), ("name", pa.string()), ("amount", pa.float64())])


def batches(start: int, stop: int, size: int = 1000) -> Iterator[pa.RecordBatch]:
    for lo in range(start, stop, size):
        ids = list(range(lo, min(lo + size, stop)))
        yield pa.RecordBatch.from_pydict(
            {"id": ids, "name": [f"n{i}" for i in ids], "amount": [i / 2 for i in ids]}, schema=SCHEMA
        )


def files_on_disk(lake: Lake, ident: DatasetIdent) -> set[str]:
    location = lake.catalog.load_table((ident.namespace, ident.dataset_id)).location()
    data = Path(location.removeprefix("file://")) / "data"
    return {str(p) for p in data.glob("*.parquet")} if data.exists() else set()


def ids(lake: Lake, ident: DatasetIdent) -> list[int]:
    return sorted(lake.scan(ident).column("id").to_pylist())


def test_create_write_read(lake: Lake, ident: DatasetIdent) -> None:
    assert not lake.exists(ident)
    lake.create_dataset(ident, SCHEMA)
    assert lake.exists(ident)
    assert lake.row_count(ident) == 0
    assert lake.scan(ident).num_rows == 0

    progress: list[tuple[int, int]] = []
    result = lake.write_run(
        ident,
        run_id="run-1",
        flow_id="flow-a",
        batches=batches(0, 5000),
        cursor={"id": 4999},
        on_progress=lambda rows, nbytes: progress.append((rows, nbytes)),
    )
    assert (result.rows, result.files, result.already_committed) == (5000, 1, False)
    assert result.bytes > 0
    assert result.cursor == {"id": 4999}
    assert progress and progress[-1][0] == 5000
    assert lake.row_count(ident) == 5000
    assert ids(lake, ident) == list(range(5000))
    assert lake.preview(ident, limit=10).num_rows == 10
    assert lake.committed_run(ident, "run-1") == replace(result, already_committed=True)
    snapshot = lake.catalog.load_table((ident.namespace, ident.dataset_id)).current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    assert snapshot.summary[RUN_ID] == "run-1"
    assert snapshot.summary["headwater.flow-id"] == "flow-a"
    assert snapshot.summary["headwater.cursor"] == '{"id": 4999}'

    # DuckDB reads exactly the committed rows straight from the snapshot's data files.
    got = duckdb.sql(
        f"select id, name, amount from read_parquet({lake.data_files(ident)!r}) order by id"
    ).fetch_arrow_table()
    expected = pa.Table.from_batches(list(batches(0, 5000)))
    assert got.cast(expected.schema).equals(expected)


def test_same_run_id_is_committed_once(lake: Lake, ident: DatasetIdent) -> None:
    lake.create_dataset(ident, SCHEMA)
    first = lake.write_run(ident, run_id="r", flow_id="f", batches=batches(0, 100), cursor={"c": 1})

    consumed = False

    def never() -> Iterator[pa.RecordBatch]:
        nonlocal consumed
        consumed = True
        yield from batches(100, 200)

    again = lake.write_run(ident, run_id="r", flow_id="f", batches=never(), cursor={"c": 2})
    assert again.already_committed and not consumed
    assert (again.rows, again.snapshot_id, again.cursor) == (first.rows, first.snapshot_id, {"c": 1})
    assert lake.row_count(ident) == 100
    assert lake.cursor(ident, "f") == {"c": 1}
    assert lake.committed_run(ident, "r") == again
    assert lake.committed_run(ident, "other") is None


def test_failing_source_leaves_dataset_unchanged(lake: Lake, ident: DatasetIdent, lake_config: dict[str, str]) -> None:
    lake.create_dataset(ident, SCHEMA)
    lake.write_run(ident, run_id="ok", flow_id="f", batches=batches(0, 10), cursor={"id": 9})
    before_files = files_on_disk(lake, ident)
    snapshot_before = lake.catalog.load_table((ident.namespace, ident.dataset_id)).current_snapshot()

    def broken() -> Iterator[pa.RecordBatch]:
        yield from batches(10, 50_000)
        raise ConnectionError("source went away")

    # Tiny row groups and files so several files exist on disk when the source fails.
    small = Lake(**lake_config, target_file_bytes=50_000, row_group_rows=5000)
    try:
        with pytest.raises(ConnectionError):
            small.write_run(ident, run_id="bad", flow_id="f", batches=broken(), cursor={"id": 49_999})
    finally:
        small.close()
    table = lake.catalog.load_table((ident.namespace, ident.dataset_id))
    assert table.current_snapshot() == snapshot_before
    assert lake.row_count(ident) == 10
    assert lake.cursor(ident, "f") == {"id": 9}
    assert lake.committed_run(ident, "bad") is None
    assert files_on_disk(lake, ident) == before_files  # written files were removed

    # The retried run commits normally.
    retried = lake.write_run(ident, run_id="bad", flow_id="f", batches=batches(10, 50_000), cursor={"id": 49_999})
    assert retried.rows == 49_990
    assert ids(lake, ident) == list(range(50_000))


def test_cursor_is_per_flow_and_moves_only_with_a_commit(lake: Lake, ident: DatasetIdent) -> None:
    lake.create_dataset(ident, SCHEMA)
    assert lake.cursor(ident, "a") is None
    lake.write_run(ident, run_id="a1", flow_id="a", batches=batches(0, 10), cursor={"id": 9})
    lake.write_run(ident, run_id="b1", flow_id="b", batches=batches(100, 110), cursor={"id": 109})
    assert lake.cursor(ident, "a") == {"id": 9}
    assert lake.cursor(ident, "b") == {"id": 109}

    def fails() -> Iterator[pa.RecordBatch]:
        yield from batches(10, 20)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        lake.write_run(ident, run_id="a2", flow_id="a", batches=fails(), cursor={"id": 19})
    assert lake.cursor(ident, "a") == {"id": 9}

    # An empty run still commits (an empty snapshot) so the run id and cursor are recorded.
    empty = lake.write_run(ident, run_id="a3", flow_id="a", batches=iter([]), cursor={"id": 9, "ts": "x"})
    assert (empty.rows, empty.files, empty.already_committed) == (0, 0, False)
    assert lake.cursor(ident, "a") == {"id": 9, "ts": "x"}
    assert lake.row_count(ident) == 20


def test_orphans_of_a_killed_writer_are_invisible_and_removable(sqlite_lake: Lake, ident: DatasetIdent) -> None:
    lake = sqlite_lake
    lake.create_dataset(ident, SCHEMA)
    lake.write_run(ident, run_id="r1", flow_id="f", batches=batches(0, 100), cursor=None)
    committed = files_on_disk(lake, ident)
    # What a SIGKILL between writing and committing leaves behind: a complete, unreferenced file.
    table = lake.catalog.load_table((ident.namespace, ident.dataset_id))
    from headwater.lake._schema import file_schema

    orphan_writer = RollingParquetWriter(
        table.io, data_dir=f"{table.location()}/data", prefix="killed", schema=file_schema(table.schema())
    )
    for batch in batches(100, 200):
        orphan_writer.write(batch)
    orphan_writer.close()
    assert len(files_on_disk(lake, ident)) == len(committed) + 1
    assert ids(lake, ident) == list(range(100))  # never referenced, never read
    assert lake.remove_orphans(ident) == []  # too young: might belong to a run still writing
    removed = lake.remove_orphans(ident, older_than=timedelta(0))
    assert len(removed) == 1 and "killed" in removed[0]
    assert files_on_disk(lake, ident) == committed
    assert ids(lake, ident) == list(range(100))


def test_drop_dataset(lake: Lake, ident: DatasetIdent) -> None:
    lake.create_dataset(ident, SCHEMA)
    lake.write_run(ident, run_id="r1", flow_id="f", batches=batches(0, 100), cursor=None)
    location = lake.catalog.load_table((ident.namespace, ident.dataset_id)).location()
    lake.drop_dataset(ident)
    assert not lake.exists(ident)
    assert not os.path.exists(location.removeprefix("file://"))
    with pytest.raises(NotFound):
        lake.row_count(ident)
    lake.create_dataset(ident, SCHEMA)  # the id can be reused
    assert lake.row_count(ident) == 0


def test_file_rolling_and_duckdb_sees_exactly_the_rows(tmp_path: Path, ident: DatasetIdent) -> None:
    lake = Lake(
        catalog_url=f"sqlite:///{tmp_path / 'c.db'}",
        warehouse=(tmp_path / "wh").as_uri(),
        target_file_bytes=100_000,
        row_group_rows=10_000,
    )
    try:
        lake.create_dataset(ident, SCHEMA)
        r1 = lake.write_run(ident, run_id="r1", flow_id="f", batches=batches(0, 60_000), cursor=None)
        lake.write_run(ident, run_id="r2", flow_id="f", batches=batches(60_000, 70_000), cursor=None)
        lake.write_run(ident, run_id="r1", flow_id="f", batches=batches(0, 60_000), cursor=None)  # replay
        assert r1.files > 1
        files = lake.data_files(ident)
        assert len(files) == r1.files + 1
        [(count, distinct, low, high)] = duckdb.sql(
            f"select count(*), count(distinct id), min(id), max(id) from read_parquet({files!r})"
        ).fetchall()
        assert (count, distinct, low, high) == (70_000, 70_000, 0, 69_999)
    finally:
        lake.close()


def test_namespace_for_is_safe_and_distinct() -> None:
    a = namespace_for("ABC123@AdobeOrg", "prod")
    assert a.replace("_", "").isalnum() and a == namespace_for("ABC123@AdobeOrg", "prod")
    assert a != namespace_for("ABC123_AdobeOrg", "prod")
    assert a != namespace_for("ABC123@AdobeOrg", "dev")
