"""Streaming zstd Parquet writer: bounded memory, rolls to a new file at a size limit.

Memory is bounded by one row group's worth of buffered batches (`row_group_rows` / `row_group_bytes`)
plus what the Parquet encoder holds for that row group; the input is never collected. Measured: a
32 MiB row group costs ~110 MiB of peak RSS over the baseline, whatever the number of rows.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.io import FileIO

log = logging.getLogger(__name__)

TARGET_FILE_BYTES = 128 * 1024 * 1024
ROW_GROUP_ROWS = 1_048_576
ROW_GROUP_BYTES = 32 * 1024 * 1024  # of Arrow data; also the unit readers skip by


class RollingParquetWriter:
    """Writes batches into `<data_dir>/<prefix>-<n>.parquet` files through a pyiceberg FileIO."""

    def __init__(
        self,
        io: FileIO,
        *,
        data_dir: str,
        prefix: str,
        schema: pa.Schema,
        target_file_bytes: int = TARGET_FILE_BYTES,
        row_group_rows: int = ROW_GROUP_ROWS,
        row_group_bytes: int = ROW_GROUP_BYTES,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self._io = io
        self._data_dir = data_dir.rstrip("/")
        # A random part keeps two racing writers of the same run from ever sharing a file name.
        self._prefix = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self._schema = schema
        self._target_file_bytes = target_file_bytes
        self._row_group_rows = row_group_rows
        self._row_group_bytes = row_group_bytes
        self._on_progress = on_progress
        self._buffer: list[pa.RecordBatch] = []
        self._buffered_rows = 0
        self._buffered_bytes = 0
        self._stream: Any = None
        self._writer: pq.ParquetWriter | None = None
        self.paths: list[str] = []
        self.rows = 0
        self._closed_bytes = 0  # bytes of files already closed

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self._buffer.append(batch)
        self._buffered_rows += batch.num_rows
        self._buffered_bytes += batch.nbytes
        if self._buffered_rows >= self._row_group_rows or self._buffered_bytes >= self._row_group_bytes:
            self._flush()

    def close(self) -> list[str]:
        """Flush and close; returns every file written (none if there were no rows)."""
        self._flush()
        self._close_file()
        return list(self.paths)

    def abort(self) -> None:
        """Close and delete everything written so far (best effort: a failure leaves a harmless orphan)."""
        self._buffer.clear()
        try:
            self._close_file()
        except Exception:
            log.warning("could not close a partial data file", exc_info=True)
        delete_files(self._io, self.paths)
        self.paths.clear()

    @property
    def bytes_written(self) -> int:
        return self._closed_bytes + (self._stream.tell() if self._stream is not None else 0)

    def _flush(self) -> None:
        if not self._buffer:
            return
        table = pa.Table.from_batches(self._buffer, schema=self._schema)
        self._buffer.clear()
        self._buffered_rows = self._buffered_bytes = 0
        if self._writer is None:
            self._open_file()
        assert self._writer is not None
        # One row group per flush: a large, column-friendly unit for readers.
        self._writer.write_table(table, row_group_size=table.num_rows)
        self.rows += table.num_rows
        del table
        if self._stream.tell() >= self._target_file_bytes:
            self._close_file()
        if self._on_progress is not None:
            self._on_progress(self.rows, self.bytes_written)

    def _open_file(self) -> None:
        path = f"{self._data_dir}/{self._prefix}-{len(self.paths):05d}.parquet"
        self.paths.append(path)  # recorded before writing so abort() also removes a partial file
        self._stream = self._io.new_output(path).create(overwrite=False)
        self._writer = pq.ParquetWriter(self._stream, self._schema, compression="zstd")

    def _close_file(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._stream is not None:
            self._closed_bytes += self._stream.tell()
            self._stream.close()
            self._stream = None


class StageWriter:
    """One staged part of a run (a chunk, a stream's stretch): batches conformed to the dataset's file
    schema and written to their own files, which `close()` lists for the run's later commit."""

    def __init__(self, writer: RollingParquetWriter, conform: Callable[[pa.RecordBatch], pa.RecordBatch]) -> None:
        self._writer, self._conform = writer, conform

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write(self._conform(batch))

    @property
    def rows(self) -> int:
        return self._writer.rows

    @property
    def bytes_written(self) -> int:
        return self._writer.bytes_written

    def close(self) -> list[str]:
        return self._writer.close()

    def abort(self) -> None:
        self._writer.abort()


def delete_files(io: FileIO, paths: list[str]) -> None:
    for path in paths:
        try:
            io.delete(path)
        except FileNotFoundError:
            pass
        except Exception:
            log.warning("could not delete orphan data file %s", path, exc_info=True)
