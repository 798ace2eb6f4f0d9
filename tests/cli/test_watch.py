"""`runs watch`: a live percentage from the source's row estimate, and a failing run exits non-zero."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from tests.cli.conftest import Hw
from tests.cli.test_commands import LATER, PG_PARAMS
from tests.support.pg import pg_admin

pytestmark = pytest.mark.slow  # a `headwater serve`, and a run of a million rows

ROWS = 1_000_000


@pytest.fixture
def big_table() -> Iterator[str]:
    schema = f"hw_watch_{uuid.uuid4().hex[:8]}"
    with pg_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".events (id bigint primary key, body text)')
        conn.execute(f"INSERT INTO \"{schema}\".events SELECT g, repeat('x', 40) FROM generate_series(1, {ROWS}) g")
        conn.execute(f'ANALYZE "{schema}".events')
    try:
        yield f"{schema}.events"
    finally:
        with pg_admin() as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _flow(hw: Hw, table: str) -> str:
    conn = hw("connections", "create", "--name", "pg", "--spec", "postgres", *PG_PARAMS, "--json").json()["id"]
    dataset = hw("datasets", "create", "--name", "events", "--json").json()["id"]
    created = hw("flows", "create", "--name", "events", "--connection", conn, "--table", table, "--dataset", dataset,
                 "--start-time", LATER, "--json").json()  # fmt: skip
    return str(created["id"])


def test_watch_shows_the_percentage_of_the_estimate_while_the_run_streams(hw: Hw, big_table: str) -> None:
    run = hw("flows", "run", _flow(hw, big_table), "--json").json()["id"]
    lines = hw("runs", "watch", run, "--every", "0.1", "--timeout", "240").out.strip().splitlines()
    percents = [int(m.group(1)) for line in lines if (m := re.search(r"\]\s+(\d+)%", line))]
    streaming = [line for line in lines if "inProgress" in line and "of ~" in line]
    assert streaming, f"no progress line showed the estimate: {lines}"
    assert any(0 < p < 100 for p in percents), lines
    assert "ETA" in streaming[-1] and "rows/s" in streaming[-1]
    estimate = int(re.search(r"of ~([\d,]+)", streaming[-1]).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert abs(estimate - ROWS) <= ROWS // 100  # pg_class.reltuples after ANALYZE
    assert lines[-1].startswith("[" + "#" * 24 + "] 100%") and "success" in lines[-1]


def test_watch_exits_non_zero_when_the_run_fails(hw: Hw) -> None:
    schema = f"hw_gone_{uuid.uuid4().hex[:8]}"
    with pg_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".t (id bigint primary key)')
    flow = _flow(hw, f"{schema}.t")
    with pg_admin() as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')  # the run will find its table gone
    run = hw("flows", "run", flow, "--json").json()["id"]
    watched = hw("runs", "watch", run, "--every", "0.2", "--timeout", "120", ok=False)
    assert watched.code == 1
    assert "failed" in watched.out.strip().splitlines()[-1]
    assert watched.err.startswith("error: ")
    as_json = hw("runs", "watch", run, "--json", ok=False)
    assert as_json.code == 1
    assert as_json.out and '"failed"' in as_json.out
