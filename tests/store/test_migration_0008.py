"""Migration 0008 adds `run_units`, where runs keep their staged progress, and takes it away on downgrade."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert, inspect, select

from headwater.store import Store
from headwater.store.tables import run_units
from tests.support.metadata import BACKENDS, alembic, store_at


@pytest.fixture(params=BACKENDS)
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with store_at(request.param, tmp_path, "0007") as store:
        yield store


def test_run_units_come_and_go(old_store: Store) -> None:
    assert "run_units" not in inspect(old_store.engine).get_table_names()
    alembic(old_store, command.upgrade, "0008")
    unit = {"key": "k000001", "files": ["a.parquet"], "done": True}
    with old_store.engine.begin() as conn:
        conn.execute(insert(run_units).values(run_id="r1", unit_key="k000001", doc=unit))
        conn.execute(insert(run_units).values(run_id="r1", unit_key="", doc={"fingerprint": "f"}))
        assert conn.execute(select(run_units.c.doc).where(run_units.c.unit_key == "k000001")).scalar_one() == unit
    alembic(old_store, command.downgrade, "0007")
    assert "run_units" not in inspect(old_store.engine).get_table_names()
