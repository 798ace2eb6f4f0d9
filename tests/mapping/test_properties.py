"""Property tests: identity mappings over arbitrary names and values, and quoting round-trips."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.mapping import compile_mapping

# Any non-empty column name, including quotes, backticks, spaces, keywords and SQL-looking text.
NAMES = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12) | st.sampled_from(
    ["and", "null", "None", " ", "a; DROP TABLE x", 'x"y', "x`y", "upper", "名前"]
)
TYPES = {
    "long": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "text": (pa.string(), st.text(max_size=8)),
    "double": (pa.float64(), st.floats(allow_nan=False)),
    "bool": (pa.bool_(), st.booleans()),
}


@st.composite
def batches(draw: st.DrawFn) -> pa.RecordBatch:
    names = draw(st.lists(NAMES, min_size=1, max_size=5, unique=True))
    kinds = [draw(st.sampled_from(sorted(TYPES))) for _ in names]
    rows = draw(st.integers(0, 6))
    arrays = [
        pa.array(draw(st.lists(st.none() | TYPES[k][1], min_size=rows, max_size=rows)), TYPES[k][0]) for k in kinds
    ]
    return pa.RecordBatch.from_arrays(arrays, names=names)


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@settings(max_examples=150, deadline=None)
@given(batches(), st.booleans())
def test_identity_mapping_returns_the_batch_unchanged(batch: pa.RecordBatch, as_expression: bool) -> None:
    if as_expression:
        mappings = [{"sourceType": "EXPRESSION", "source": quoted(n), "destination": n} for n in batch.schema.names]
    else:
        mappings = [{"sourceAttribute": n, "destinationXdmPath": n, "identity": False} for n in batch.schema.names]
    compiled = compile_mapping(mappings, batch.schema)
    assert compiled.output_schema == batch.schema
    assert compiled.input_columns == tuple(batch.schema.names)
    assert compiled.apply(batch).equals(batch)


@settings(max_examples=100, deadline=None)
@given(batches())
def test_reversed_renames_are_a_permutation(batch: pa.RecordBatch) -> None:
    names = batch.schema.names
    mappings = [
        {"sourceType": "ATTRIBUTE", "source": n, "destination": f"out {i}"} for i, n in reversed(list(enumerate(names)))
    ]
    out = compile_mapping(mappings, batch.schema).apply(batch)
    assert out.schema.names == [f"out {i}" for i in reversed(range(len(names)))]
    for i, n in enumerate(names):
        assert out.column(f"out {i}").equals(batch.column(n))
