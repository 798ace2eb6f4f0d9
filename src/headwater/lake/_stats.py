"""Iceberg file statistics that never fail on a legal value.

pyiceberg reads each column's min/max from the Parquet footer as Python objects. Python's `date` and
`datetime` stop at years 1 and 9999, so a PostgreSQL date such as `0044-03-15 BC` or `10000-01-01`,
which Arrow and Parquet hold exactly, made the statistics raise `OverflowError` and the run fail
with an internal error. Such a column gets no lower/upper bounds in that file (value and null counts
are kept): a reader then cannot skip the file by that column, which is always correct, never wrong.
"""

from __future__ import annotations

import logging

import pyarrow.parquet as pq
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import parquet_file_to_data_file, parquet_path_to_id_mapping
from pyiceberg.manifest import DataFile
from pyiceberg.table.metadata import TableMetadata

log = logging.getLogger(__name__)

# Iceberg's per-column metrics mode: "counts" keeps value and null counts and drops the bounds.
_METRICS_MODE = "write.metadata.metrics.column"


def data_file(io: FileIO, metadata: TableMetadata, path: str) -> DataFile:
    """The Iceberg `DataFile` of a written Parquet file, its bounds kept wherever Python can hold them."""
    with io.new_input(path).open() as stream:
        footer = pq.read_metadata(stream)
    unbounded = _unrepresentable_columns(footer)
    if unbounded:
        schema = metadata.schema()
        ids = parquet_path_to_id_mapping(schema)
        names = sorted({schema.find_column_name(ids[p]) or p for p in unbounded})
        log.info("no min/max statistics for %s in %s: values outside Python's date range", names, path)
        overrides = {f"{_METRICS_MODE}.{name}": "counts" for name in names}
        metadata = metadata.model_copy(update={"properties": {**metadata.properties, **overrides}})
    return parquet_file_to_data_file(io, metadata, path)


def _unrepresentable_columns(footer: pq.FileMetaData) -> set[str]:
    """Parquet column paths whose min or max, in some row group, has no Python value."""
    found: set[str] = set()
    for r in range(footer.num_row_groups):
        group = footer.row_group(r)
        for c in range(footer.num_columns):
            column = group.column(c)
            if column.path_in_schema in found or not column.is_stats_set:
                continue
            stats = column.statistics
            if not stats.has_min_max:
                continue
            try:
                stats.min, stats.max  # noqa: B018 - the conversion is the test
            except (OverflowError, ValueError):
                found.add(column.path_in_schema)
    return found
