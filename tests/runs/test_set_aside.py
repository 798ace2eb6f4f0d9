"""Rows set aside by partial ingestion keep every value readable, far dates included."""

from __future__ import annotations

import pyarrow as pa

from headwater.mapping import compile_mapping
from headwater.runs.partial import SetAside


def test_a_set_aside_row_with_a_date_beyond_year_9999_is_kept_as_text() -> None:
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array(["1", "not a number", "3"]),
            pa.array([19_000, 3_000_000, -800_000], pa.int32()).cast(pa.date32()),
        ],
        names=["code", "born"],
    )
    mapping = compile_mapping(
        [
            {"sourceType": "EXPRESSION", "source": "cast(code, 'long')", "destination": "n"},
            {"sourceType": "ATTRIBUTE", "source": "born", "destination": "born"},
        ],
        batch.schema,
    )
    aside = SetAside(run_id="r", percent=50, diagnostics=True)
    kept = aside.apply(mapping, batch)
    assert kept.column("n").to_pylist() == [1, 3]
    assert aside.count == 1
    [entry] = aside.kept
    assert entry["record"] == {"code": "not a number", "born": "+10183-09-21"}
    assert "'not a number'" in entry["reason"]
