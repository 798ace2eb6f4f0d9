"""A large run streams: peak memory stays far below the size of its input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a large run measured for memory

# In a fresh interpreter so its peak RSS (VmHWM) measures this write alone.
WRITER = """
import json, sys
import pyarrow as pa
from headwater.lake import DatasetIdent, Lake

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

root, total, size = sys.argv[1], int(sys.argv[2]), 65_536
schema = pa.schema([("id", pa.int64(), False), ("name", pa.string()), ("amount", pa.float64()), ("note", pa.string())])
lake = Lake(catalog_url=f"sqlite:///{root}/c.db", warehouse=f"{root}/wh", target_file_bytes=8 * 1024 * 1024)
ident = DatasetIdent("ns", "big")
lake.create_dataset(ident, schema)

def batches():
    import pyarrow.compute as pc
    for lo in range(0, total, size):
        ids = pa.array(range(lo, min(lo + size, total)), pa.int64())
        names = pc.binary_join_element_wise("customer-", pc.cast(ids, pa.string()), "")
        amounts = pc.divide(pc.cast(ids, pa.float64()), 7.0)
        notes = pc.binary_join_element_wise("a note about the order number ", pc.cast(ids, pa.string()), "")
        yield pa.RecordBatch.from_arrays([ids, names, amounts, notes], schema=schema)

input_bytes = sum(b.nbytes for b in batches())  # measured in a separate pass; nothing is kept
open("/proc/self/clear_refs", "w").write("5")  # reset the peak: count only the write
baseline = status("VmRSS:")
result = lake.write_run(ident, run_id="big", flow_id="f", batches=batches(), cursor={"id": total - 1})
print(json.dumps({"rows": result.rows, "files": result.files, "bytes": result.bytes, "input_bytes": input_bytes,
                  "baseline": baseline, "peak": status("VmHWM:"), "row_count": lake.row_count(ident)}))
"""


def test_large_run_streams_with_bounded_memory(tmp_path: Path) -> None:
    total = 3_000_000
    proc = subprocess.run(
        [sys.executable, "-c", WRITER, str(tmp_path), str(total)], capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\nlarge run: {json.dumps(report)}; peak growth {(report['peak'] - report['baseline']) / 2**20:.0f} MiB")
    assert report["rows"] == report["row_count"] == total
    assert report["files"] > 1  # rolled at the 8 MiB target
    growth = report["peak"] - report["baseline"]
    # Collecting the input would need more than input_bytes; streaming needs about one row group.
    assert growth < report["input_bytes"] / 2, report
