"""Fixtures of the API tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.pg import customers_table


@pytest.fixture
def pg_table() -> Iterator[str]:
    """A small source table in its own schema; yields the explore path `schema.table`."""
    with customers_table() as table:
        yield table
