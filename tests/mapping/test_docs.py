"""The mapping sets shown in docs/mapping.md compile and run, so the documentation cannot rot."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from headwater.mapping import compile_mapping, validate_mapping_document

DOC = Path(__file__).resolve().parents[2] / "docs" / "mapping.md"
SCHEMA = pa.schema(
    [
        ("TestID", pa.string()),
        ("Name", pa.string()),
        ("Datefield", pa.date32()),
        ("id", pa.int64()),
        ("score", pa.decimal128(10, 2)),
        ("signup date", pa.date32()),
        ("order total", pa.string()),
    ]
)
ROW = {
    "TestID": "t1",
    "Name": "ada",
    "Datefield": dt.date(2000, 1, 1),
    "id": 1,
    "score": Decimal("1.23"),
    "signup date": dt.date(2024, 5, 1),
    "order total": "12.5",
}


def test_documented_mapping_sets_compile_and_run() -> None:
    sets = [json.loads(block) for block in re.findall(r"```json\n(\{\n.*?\n\})\n```", DOC.read_text(), re.S)]
    sets = [s for s in sets if "mappings" in s]
    assert len(sets) == 2
    batch = pa.RecordBatch.from_pylist([ROW, {}], schema=SCHEMA)
    outputs = []
    for body in sets:
        compiled = compile_mapping(validate_mapping_document(body), SCHEMA)
        out = compiled.apply(batch)
        assert out.schema == compiled.output_schema
        outputs.append(out.to_pylist()[0])
    assert outputs[0] == {"_id": "t1", "person.name.fullName": "ada", "person.birthDate": dt.date(2000, 1, 1)}
    assert outputs[1] == {"_id": 1, "person.name": "ADA", "score": 123, "cohort": "new", "total": Decimal("12.50")}
