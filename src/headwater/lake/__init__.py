"""The lake: datasets are Apache Iceberg tables, written one atomic, idempotent snapshot per run.

See `headwater.lake._lake` for how exactly-once is guaranteed. Typical use by the run engine::

    lake = Lake.from_settings(settings)
    ident = DatasetIdent(namespace_for(org, sandbox), dataset_id)
    lake.create_dataset(ident, schema)                      # once, when the dataset is created
    start = lake.cursor(ident, flow_id)                     # where the last committed run stopped
    result = lake.write_run(ident, run_id=run_id, flow_id=flow_id, batches=reader, cursor=new_cursor)

Reading a dataset with DuckDB: DuckDB's `iceberg` extension is not bundled and is downloaded on
first use (impossible offline), so read the current snapshot's Parquet files instead::

    duckdb.sql(f"select * from read_parquet({lake.data_files(ident)!r})")

With network access, `INSTALL iceberg; SELECT * FROM iceberg_scan('<metadata location>')` works too.
"""

from headwater.lake._catalog import DatasetIdent, namespace_for
from headwater.lake._history import CURSOR, FLOW_ID, RUN_ID, CommitResult
from headwater.lake._lake import Lake
from headwater.lake._storage import store_unavailable

__all__ = ["CURSOR", "FLOW_ID", "RUN_ID", "CommitResult", "DatasetIdent", "Lake", "namespace_for", "store_unavailable"]
