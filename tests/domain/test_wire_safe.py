"""`renders_as_is` lets a stored doc skip the walk only when the walk would change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.domain.wire_safe import MAX_DEPTH, renders_as_is, wire_safe


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "value",
    [
        {"name": "flow", "n": 1, "x": 1.5, "ok": True, "none": None, "list": [1, "two", {"three": 3}]},
        {"text": "héllo ✓ 𝄞 日本", "big": 10**17, "small": -(10**17)},
        _nested(MAX_DEPTH - 2),
        {"spec": {"id": "2d31a2e2-f0e9-4f1c-8a6e-0d1d6d3c4e5f", "version": "1.0"}},
    ],
)
def test_ordinary_docs_render_as_is(value: Any) -> None:
    assert renders_as_is(value)
    assert wire_safe(value) == value


@pytest.mark.parametrize(
    "value",
    [
        {"n": float("nan")},
        {"n": [float("inf")]},
        {"big": 2**63},
        {"small": [-(2**63) - 1]},
        {"text": "lone \ud800 surrogate"},
        {"\udfff": 1},
        _nested(MAX_DEPTH + 1),
        {"when": object()},
    ],
)
def test_every_value_the_walk_would_replace_takes_the_walk(value: Any) -> None:
    assert not renders_as_is(value)
    assert wire_safe(value) != value  # the walk replaces something


def test_brackets_or_long_numbers_in_text_only_cost_the_walk() -> None:
    text_only = {"note": "[[[{{{" * 20, "id": "1234567890123456789012", "edges": [2**63 - 1, -(2**63)]}
    assert not renders_as_is(text_only)
    assert wire_safe(text_only) == text_only
