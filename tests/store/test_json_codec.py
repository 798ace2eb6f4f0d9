"""The store's JSON decoding gives exactly what `json.loads` gives, and vouches for a doc only when the
renderer's own check would have passed it."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from headwater.domain.wire_safe import MAX_DEPTH, wire_safe
from headwater.runs.ledger import Ledger
from headwater.service._core import envelope, record_envelope
from headwater.store import Scope, Store
from headwater.store.json_codec import loads, loads_checked
from headwater.store.paging import Page

ORG = "JSONCODEC000000000000000000@AdobeOrg"


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types all the way down (1 is not 1.0; -0.0 is not 0.0; NaN is NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_values, st.booleans())
def test_decoding_gives_what_json_loads_gives(value: Any, ascii_only: bool) -> None:
    stored = json.dumps(value, ensure_ascii=ascii_only)  # how SQLAlchemy writes a JSON column
    decoded, as_is = loads_checked(stored)
    assert _same(decoded, json.loads(stored))
    assert _same(loads(stored.encode("utf-8", "surrogatepass")), json.loads(stored))  # psycopg hands bytes
    if as_is:  # vouching for a doc the walk would have changed would send it to the encoder unsafe
        assert _same(wire_safe(decoded), decoded)
        json.dumps(decoded, allow_nan=False).encode("utf-8")  # and the encoder takes it


@pytest.mark.parametrize(
    "stored",
    [
        '{"n": NaN}',
        "[Infinity, -Infinity]",
        '{"big": 9223372036854775808}',
        '{"bigger": 18446744073709551616}',
        '{"small": -9223372036854775809}',
        '{"far": 1e400}',
        '{"text": "lone \\ud800 surrogate"}',
        '{"\\udfff": 1}',
        '{"digits": 1234567890123456.5}',
        "[" * MAX_DEPTH + "]" * MAX_DEPTH,
    ],
)
def test_what_needs_the_walk_or_json_loads_is_never_vouched_for(stored: str) -> None:
    decoded, as_is = loads_checked(stored)
    assert not as_is
    assert _same(decoded, json.loads(stored))


@pytest.mark.parametrize(
    "stored",
    ['{"name": "flow", "n": 1, "x": 1.5, "ok": true, "none": null}', '{"t": "h\\u00e9llo \\ud834\\udd1e"}', "[]"],
)
def test_ordinary_docs_are_vouched_for(stored: str) -> None:
    decoded, as_is = loads_checked(stored)
    assert as_is and _same(decoded, json.loads(stored))


def test_a_stored_doc_that_cannot_be_rendered_as_is_is_repaired_on_every_read(store: Store) -> None:
    """Docs written before the edge refused such values (here: by hand) still list and render."""
    scope = Scope(ORG, "prod")
    postgres = store.engine.dialect.name == "postgresql"
    # PostgreSQL's json type refuses NaN and lone surrogates itself; integers beyond 64 bits it keeps.
    unsafe = '{"big": 18446744073709551616}' if postgres else '{"n": NaN, "t": "\\ud800", "big": 18446744073709551616}'
    for i, raw in enumerate(['{"name": "plain", "x": 1.5}', unsafe]):
        store.insert("connection", scope, id=f"c-{i}", doc={})
        cast = "CAST(:doc AS json)" if postgres else ":doc"
        with store.engine.begin() as conn:
            conn.execute(text(f"UPDATE resources SET doc = {cast} WHERE id = :id"), {"doc": raw, "id": f"c-{i}"})

    page = store.page("connection", scope, Page(limit=10))
    single = store.get("connection", scope, "c-1")
    assert [r.renders_as_is for r in page] == [True, False] and single is not None and not single.renders_as_is
    plain, repaired = (json.loads(json.dumps(record_envelope(r), allow_nan=False)) for r in page)
    assert plain["name"] == "plain" and plain["x"] == 1.5
    assert repaired["big"] == "<integer too large to show>"
    assert record_envelope(single)["big"] == "<integer too large to show>"
    if not postgres:
        assert repaired["n"] is None and "\ud800" not in repaired["t"]


def test_a_page_of_runs_vouches_only_for_docs_that_render_as_is(store: Store) -> None:
    scope = Scope(ORG, "prod")
    ledger = Ledger(store)
    postgres = store.engine.dialect.name == "postgresql"
    unsafe = '{"n": 18446744073709551616}' if postgres else '{"n": NaN, "big": 18446744073709551616}'
    for i, raw in enumerate(['{"trigger": "runNow", "x": 0.5}', unsafe]):
        assert ledger.insert(run_id=f"r-{i}", scope=scope, flow_id="f", scheduled_at=i, doc={})
        cast = "CAST(:doc AS json)" if postgres else ":doc"
        with store.engine.begin() as conn:
            conn.execute(text(f"UPDATE runs SET doc = {cast} WHERE id = :id"), {"doc": raw, "id": f"r-{i}"})

    rows = ledger.page(scope, Page(order="scheduled_at", limit=10))
    assert [(r.id, r.renders_as_is) for r in rows] == [("r-0", True), ("r-1", False)]
    assert rows[0].doc == {"trigger": "runNow", "x": 0.5}
    assert _same(rows[1].doc, json.loads(unsafe))
    plain, repaired = (
        envelope(r.id, r.scope, created_at=0, updated_at=0, doc=r.doc, known_as_is=r.renders_as_is) for r in rows
    )
    assert plain["x"] == 0.5
    assert json.loads(json.dumps(repaired, allow_nan=False))["n"] in (None, "<integer too large to show>")
