"""A writer killed with SIGKILL before its commit leaves nothing visible; the retried run commits once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from headwater.lake import DatasetIdent, Lake
from headwater.settings import Settings

pytestmark = pytest.mark.slow  # processes killed before the commit

SCHEMA = pa.schema([("id", pa.int64(), False)])

WRITER = """
import json, sys, time
import pyarrow as pa
from headwater.lake import DatasetIdent, Lake
config, ident = json.loads(sys.argv[1])
schema = pa.schema([("id", pa.int64(), False)])
lake = Lake(**config, target_file_bytes=1, row_group_rows=1000)  # a new file per 1000 rows
def rows():
    for lo in range(1000, 6000, 1000):
        yield pa.RecordBatch.from_pydict({"id": list(range(lo, lo + 1000))}, schema=schema)
    print("written", flush=True)
    time.sleep(60)  # killed here: files on disk, no commit
lake.write_run(DatasetIdent(*ident), run_id="run-2", flow_id="f", batches=rows(), cursor={"id": 5999})
"""


def test_sigkill_before_commit(lake: Lake, lake_config: dict[str, str], ident: DatasetIdent) -> None:
    lake.create_dataset(ident, SCHEMA)
    first = pa.RecordBatch.from_pydict({"id": list(range(1000))}, schema=SCHEMA)
    lake.write_run(ident, run_id="run-1", flow_id="f", batches=[first], cursor={"id": 999})
    committed = set(lake.data_files(ident))

    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, json.dumps([lake_config, list(ident)])], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "written"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)

    data_dir = Path(lake.catalog.load_table((ident.namespace, ident.dataset_id)).location().removeprefix("file://"))
    on_disk = {str(p) for p in (data_dir / "data").glob("*.parquet")}
    assert len(on_disk - committed) == 5  # the killed run's orphans
    assert lake.row_count(ident) == 1000 and lake.scan(ident).num_rows == 1000  # invisible
    assert lake.cursor(ident, "f") == {"id": 999}
    assert lake.committed_run(ident, "run-2") is None

    def rest() -> list[pa.RecordBatch]:
        return [pa.RecordBatch.from_pydict({"id": list(range(1000, 6000))}, schema=SCHEMA)]

    retried = lake.write_run(ident, run_id="run-2", flow_id="f", batches=rest(), cursor={"id": 5999})
    again = lake.write_run(ident, run_id="run-2", flow_id="f", batches=rest(), cursor={"id": 5999})
    assert not retried.already_committed and again.already_committed
    assert sorted(lake.scan(ident).column("id").to_pylist()) == list(range(6000))
    assert lake.cursor(ident, "f") == {"id": 5999}
    assert len(lake.remove_orphans(ident, older_than=timedelta(0))) == 5
    assert sorted(lake.scan(ident).column("id").to_pylist()) == list(range(6000))


def test_from_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    settings.ensure_data_dir()
    lake = Lake.from_settings(settings)
    try:
        ident = DatasetIdent("ns", "ds")
        lake.create_dataset(ident, SCHEMA)
        one = pa.RecordBatch.from_pydict({"id": [1]}, schema=SCHEMA)
        lake.write_run(ident, run_id="r", flow_id="f", batches=[one], cursor=None)
        assert lake.exists(ident) and len(lake.data_files(ident)) == 1
        assert all(p.startswith(str(tmp_path / "data" / "warehouse")) for p in lake.data_files(ident))
        assert (tmp_path / "data" / "headwater.db").exists()
    finally:
        lake.close()
