"""Datasets as Apache Iceberg tables, written exactly once per run.

Exactly once rests on three facts:

1. A run's rows become visible in one Iceberg snapshot (a fast append of the run's data files) whose
   summary carries `headwater.run-id`, `headwater.flow-id` and the JSON cursor `headwater.cursor`.
   Rows and cursor therefore advance together or not at all.
2. Before writing and again before every commit attempt, the table history (ancestors of `main`) is
   searched for the run id; if present, nothing is committed and the earlier result is returned.
3. The SQL catalog commits by compare-and-swap on the table's metadata location, and the append
   asserts that `main` still points at the snapshot it was built on. Of two racing writers, at most
   one commits; the other gets `CommitFailedException`, reloads, finds the run id and stops.

Data files written before a failure are deleted (best effort). Files left by a killed process are
never referenced by any snapshot, so readers never see them; `Lake.remove_orphans` deletes them.
Expiring snapshots would forget run ids: Headwater never expires snapshots on its own.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from headwater.domain.far_dates import python_safe
from headwater.errors import ConfigError, NotFound, TransientError
from headwater.lake._catalog import (
    DatasetIdent,
    fs_path,
    local_path,
    open_catalog,
    sql_catalog_url,
    table_id,
    warehouse_uri,
)
from headwater.lake._history import CURSOR, FLOW_ID, RUN_ID, CommitResult, cursor_of, find_run, history, result_of
from headwater.lake._schema import Conformer, file_schema, normalize_for_create
from headwater.lake._stats import data_file
from headwater.lake._storage import filesystem, io_properties
from headwater.lake._writer import (
    ROW_GROUP_BYTES,
    ROW_GROUP_ROWS,
    TARGET_FILE_BYTES,
    RollingParquetWriter,
    StageWriter,
    delete_files,
)

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from headwater.settings import Settings

log = logging.getLogger(__name__)

# pyiceberg (0.10+) retries a failed commit by rebasing the snapshot onto the new head by itself. That
# would skip our run-id re-check and let two writers of one run both commit, so it is turned off and
# `Lake._commit` retries instead, re-checking the history first.
_NO_AUTO_RETRY = {"commit.retry.num-retries": "0"}
_TABLE_PROPERTIES = {
    "format-version": "2",
    "write.parquet.compression-codec": "zstd",
    # Every commit writes a new metadata JSON; keep the last 100 rather than all of them.
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "100",
    **_NO_AUTO_RETRY,
}
_COMMIT_ATTEMPTS = 20


class Lake:
    """Headwater's datasets: Iceberg tables in a SQL catalog, written one atomic snapshot per run.

    `catalog_url` is a SQLAlchemy URL (the metadata database: SQLite file or PostgreSQL); pyiceberg
    keeps its own `iceberg_tables` / `iceberg_namespace_properties` tables there. `warehouse` is a
    local path or any URI pyarrow's filesystems understand (`file://`, `s3://bucket/prefix`, `gs://`…);
    object-store endpoint, region and credentials come from `io_properties` (`lake._storage` builds
    them from the HEADWATER_S3_* settings) or else from the AWS SDK's own chain (AWS_* variables).
    """

    def __init__(
        self,
        *,
        catalog_url: str,
        warehouse: str,
        io_properties: dict[str, str] | None = None,
        target_file_bytes: int = TARGET_FILE_BYTES,
        row_group_rows: int = ROW_GROUP_ROWS,
        row_group_bytes: int = ROW_GROUP_BYTES,
    ) -> None:
        self.warehouse = warehouse_uri(warehouse)
        if self.warehouse.startswith("file://"):
            Path(urlparse(self.warehouse).path).mkdir(parents=True, exist_ok=True)
        self._target_file_bytes = target_file_bytes
        self._row_group_rows = row_group_rows
        self._row_group_bytes = row_group_bytes
        properties = {"uri": sql_catalog_url(catalog_url), "warehouse": self.warehouse, **(io_properties or {})}
        self.catalog = open_catalog(properties)

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        warehouse = settings.resolved_warehouse
        return cls(
            catalog_url=settings.resolved_database_url,
            warehouse=warehouse,
            io_properties=io_properties(settings.s3, warehouse),
        )

    def close(self) -> None:
        self.catalog.engine.dispose()

    # -- datasets ---------------------------------------------------------------------------------

    def create_dataset(self, ident: DatasetIdent, schema: pa.Schema, *, exist_ok: bool = False) -> None:
        """Create the table; `ConfigError` if a column type is unsupported, or if it exists and not `exist_ok`.

        Safe under concurrency: two first runs in a new sandbox both create its namespace, and two
        runs of one new dataset both create its table; the loser of either race goes on.
        """
        if len(schema) == 0:
            raise ConfigError("A dataset needs at least one column.")
        normalized = normalize_for_create(schema)
        self._ensure_namespace(ident.namespace)
        try:
            self.catalog.create_table(table_id(ident), schema=normalized, properties=_TABLE_PROPERTIES)
        except TableAlreadyExistsError as exc:
            if exist_ok:
                return
            raise ConfigError(f"Dataset {ident.dataset_id} already exists.") from exc
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"Unsupported dataset schema: {exc}") from exc

    def _ensure_namespace(self, namespace: str) -> None:
        # pyiceberg checks, then inserts: a concurrent creator between the two makes the insert fail
        # on the catalog's unique key (IntegrityError), which means the namespace exists, as wanted.
        try:
            self.catalog.create_namespace(namespace)
        except NamespaceAlreadyExistsError:
            pass
        except IntegrityError:
            if not self.catalog.namespace_exists(namespace):
                raise

    def drop_dataset(self, ident: DatasetIdent) -> None:
        """Drop the table and delete its files (data, metadata and orphans)."""
        table = self._load(ident)
        location = table.location()
        self.catalog.purge_table(table_id(ident))
        try:
            fs, path = filesystem(table.io, location)
            fs.delete_dir(path)
        except (FileNotFoundError, OSError):
            log.info("nothing left to delete under %s", location)

    def exists(self, ident: DatasetIdent) -> bool:
        return bool(self.catalog.table_exists(table_id(ident)))

    def schema(self, ident: DatasetIdent) -> pa.Schema:
        """The dataset's Arrow schema as readers see it (Iceberg types: int16 reads back as int32)."""
        return self._load(ident).schema().as_arrow()

    # -- writing ----------------------------------------------------------------------------------

    def write_run(
        self,
        ident: DatasetIdent,
        *,
        run_id: str,
        flow_id: str,
        batches: Iterable[pa.RecordBatch],
        cursor: dict[str, Any] | None,
        on_progress: Callable[[int, int], None] | None = None,
        replace: bool = False,
        staged: Sequence[str] = (),
    ) -> CommitResult:
        """Stream `batches` into Parquet and commit them as one snapshot, at most once per `run_id`.

        `staged` are data files this run wrote earlier (`stage_writer`, possibly by an earlier attempt;
        runs/staging.py): they join the same snapshot. They are never deleted here, since an earlier
        attempt that committed this run may reference them; only the files this call writes are.

        `cursor` (JSON; other values are stored via `str`) goes into the same snapshot, so
        `cursor(ident, flow_id)` advances only when the rows do. `on_progress(rows, bytes)` is called
        after every row group. `replace` makes the snapshot an overwrite: the run's rows become the
        whole dataset, atomically (readers see the old rows or the new, never both). If `batches`
        raises, the written files are deleted and the exception propagates; the dataset is unchanged.
        Commit conflicts retry here; a catalog database error raises `TransientError` (retrying the
        run is safe: the run id is checked first).
        """
        table = self._load(ident)
        found = find_run(table, run_id)
        if found is not None:
            return found
        if table.properties.get("commit.retry.num-retries") != "0":  # a table created elsewhere
            table = table.transaction().set_properties(_NO_AUTO_RETRY).commit_transaction()
        cursor_json = json.dumps(cursor, sort_keys=True, default=str) if cursor is not None else None
        writer, conform = self._data_writer(table, run_id, on_progress)
        try:
            for batch in batches:
                writer.write(conform(batch))
            paths = writer.close()
            # Reading each footer back also validates the file against the table schema.
            data_files = [data_file(table.io, table.metadata, p) for p in [*staged, *paths]]
        except BaseException:
            writer.abort()
            raise
        properties = {RUN_ID: run_id, FLOW_ID: flow_id}
        if cursor_json is not None:
            properties[CURSOR] = cursor_json
        return self._commit(ident, table, run_id, properties, data_files, paths, replace=replace)

    def stage_writer(
        self, ident: DatasetIdent, *, run_id: str, on_progress: Callable[[int, int], None] | None = None
    ) -> StageWriter:
        """A writer of Parquet files in the dataset's data directory, to be committed later by `write_run(staged=…)`.

        Its files are unreferenced until that commit: readers never see them, and
        `discard_staged` (or `remove_orphans`) deletes them if the run never commits.
        """
        return StageWriter(*self._data_writer(self._load(ident), run_id, on_progress))

    def _data_writer(
        self, table: Table, run_id: str, on_progress: Callable[[int, int], None] | None
    ) -> tuple[RollingParquetWriter, Conformer]:
        """Rolling Parquet files of `run_id` in the table's data directory, and the batch conformer."""
        target = file_schema(table.schema())
        writer = RollingParquetWriter(
            table.io,
            data_dir=f"{table.location()}/data",
            prefix=re.sub(r"[^A-Za-z0-9_-]", "_", run_id)[:64],
            schema=target,
            target_file_bytes=self._target_file_bytes,
            row_group_rows=self._row_group_rows,
            row_group_bytes=self._row_group_bytes,
            on_progress=on_progress,
        )
        return writer, Conformer(target)

    def discard_staged(self, ident: DatasetIdent, paths: Sequence[str]) -> None:
        """Delete staged files of a run that will never commit (best effort; a dropped dataset has none)."""
        try:
            table = self._load(ident)
        except NotFound:
            return
        delete_files(table.io, list(paths))

    def _commit(
        self,
        ident: DatasetIdent,
        table: Table,
        run_id: str,
        properties: dict[str, str],
        data_files: list[Any],
        paths: list[str],
        *,
        replace: bool = False,
    ) -> CommitResult:
        for attempt in range(_COMMIT_ATTEMPTS):
            found = find_run(table, run_id)
            if found is not None:
                # Someone committed this run while we wrote: our files were never referenced.
                delete_files(table.io, paths)
                return found
            tx = table.transaction()
            update = tx.update_snapshot(snapshot_properties=properties)
            # The files to drop are read from the table as reloaded for this attempt, so a retry
            # after a conflict also drops what the winning writer added.
            replaced = [task.file for task in table.scan().plan_files()] if replace else []
            with update.overwrite() if replaced else update.fast_append() as producer:
                for old in replaced:
                    producer.delete_data_file(old)
                for data_file in data_files:
                    producer.append_data_file(data_file)
            # Only a CommitFailedException proves the commit did not land; on any other error the
            # files are kept (never deleted while they might be referenced) and a retried run
            # finds the run id or writes again.
            try:
                committed = tx.commit_transaction()
            except OperationalError as exc:
                # Catalog database unreachable or locked: the outcome may be unknown, so the files
                # stay; retrying the run is safe because it re-checks the run id first.
                raise TransientError(f"Could not commit run {run_id}: catalog database error: {exc}") from exc
            except CommitFailedException:
                # The table moved under us (another run, or the same run racing): reload, re-check.
                time.sleep(min(0.05 * 2**attempt, 1.0) * random.random())
                table = self._load(ident)
                continue
            snapshot = committed.current_snapshot()
            assert snapshot is not None
            return result_of(snapshot, already_committed=False)
        delete_files(table.io, paths)
        raise TransientError(f"Could not commit run {run_id}: the dataset kept changing; retry the run.")

    # -- reading ----------------------------------------------------------------------------------

    def committed_run(self, ident: DatasetIdent, run_id: str) -> CommitResult | None:
        """The result of `run_id` if a snapshot in the table history carries it."""
        return find_run(self._load(ident), run_id)

    def cursor(self, ident: DatasetIdent, flow_id: str) -> dict[str, Any] | None:
        """The cursor of the latest snapshot committed by `flow_id` (None if none or it had none)."""
        table = self._load(ident)
        for snapshot in history(table):
            if snapshot.summary is not None and snapshot.summary[FLOW_ID] == flow_id:
                return cursor_of(snapshot)
        return None

    def preview(self, ident: DatasetIdent, limit: int = 100) -> pa.Table:
        """The first rows, dates and timestamps outside years 1..9999 as ISO text (Python cannot hold them)."""
        return python_safe(self._load(ident).scan(limit=limit).to_arrow())

    def scan(self, ident: DatasetIdent) -> pa.Table:
        """All rows, in memory: for tests and small datasets."""
        return self._load(ident).scan().to_arrow()

    def row_count(self, ident: DatasetIdent) -> int:
        snapshot = self._load(ident).current_snapshot()
        if snapshot is None or snapshot.summary is None:
            return 0
        return int(snapshot.summary["total-records"] or 0)

    def current_snapshot(self, ident: DatasetIdent) -> Snapshot | None:
        """The table's current snapshot: None until a run commits to it."""
        return self._load(ident).current_snapshot()

    def data_files(self, ident: DatasetIdent) -> list[str]:
        """Data files of the current snapshot; local ones as plain paths, for DuckDB's read_parquet."""
        table = self._load(ident)
        return [local_path(task.file.file_path) for task in table.scan().plan_files()]

    def remove_orphans(self, ident: DatasetIdent, *, older_than: timedelta = timedelta(days=1)) -> list[str]:
        """Delete data files no snapshot references and last modified before `older_than` ago.

        The age limit protects runs still writing (their files are unreferenced until they commit).
        """
        table = self._load(ident)
        referenced = {
            fs_path(entry.data_file.file_path)
            for snapshot in table.metadata.snapshots
            for manifest in snapshot.manifests(table.io)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False)
        }
        fs, root = filesystem(table.io, f"{table.location()}/data")
        selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
        cutoff = datetime.now(UTC) - older_than
        removed = []
        for info in fs.get_file_info(selector):
            if info.type != pafs.FileType.File or info.path in referenced:
                continue
            mtime = info.mtime
            if mtime is not None and mtime.replace(tzinfo=mtime.tzinfo or UTC) > cutoff:
                continue
            fs.delete_file(info.path)
            removed.append(info.path)
        return removed

    def _load(self, ident: DatasetIdent) -> Table:
        try:
            return self.catalog.load_table(table_id(ident))
        except NoSuchTableError as exc:
            raise NotFound("dataSet", ident.dataset_id) from exc
        except OperationalError as exc:
            raise TransientError(f"Catalog database unavailable: {exc}") from exc
