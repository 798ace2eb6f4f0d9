"""Value windows (sources without a transaction fence), through real runs over a PostgreSQL view.

A view has no usable `xmin`, so its incremental flow reads `start <= delta < end` windows, the
rules BigQuery gets too (docs/incremental.md, "Value windows"). These tests pin what a user sees:
the run says it read by value only, the newest integer value waits for ties and is then released,
so the last rows of a table that stops growing arrive, once.
"""

from __future__ import annotations

from typing import Any

import pytest

from headwater.errors import BadRequest
from headwater.runs.ledger import RunRow
from headwater.service import Services
from tests.runs.settled import assert_exactly_once, create_events, landed, run_once
from tests.runs.source import MakeDeps, SourceDb, create_flow


@pytest.fixture
def events_view(source_db: SourceDb) -> str:
    create_events(source_db)
    with source_db.connect() as conn:
        conn.execute("ALTER TABLE events ADD COLUMN grp int")
        conn.execute("CREATE VIEW events_v AS SELECT id, ts, note, grp FROM events")
    return "public.events_v"


def notices(row: RunRow) -> list[str]:
    copy: dict[str, Any] = row.doc["activities"][0]
    return list(copy["statusSummary"]["extensions"].get("notices", []))


def window_of(row: RunRow) -> dict[str, Any]:
    return dict(row.doc["activities"][0]["durationSummary"]["extensions"])


def test_a_view_is_read_by_value_and_the_run_says_so(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, events_view: str
) -> None:
    flow = create_flow(run_services, source_db=source_db.name, table=events_view, delta="id")
    with source_db.connect() as conn:
        conn.execute("INSERT INTO events (note) SELECT 'a' FROM generate_series(1, 5)")
    row = run_once(make_deps(safety_lag_seconds=3600), flow.id)
    assert any("by delta value only" in n for n in notices(row)), notices(row)
    # The backfill window ends at the newest id, exclusive: id 5 waits for possible ties.
    assert window_of(row) == {"windowStart": None, "windowEnd": 5}
    assert set(landed(run_services, flow.id)) == {1, 2, 3, 4}


def test_the_newest_integer_value_is_released_after_the_lag_and_lands_once(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, events_view: str
) -> None:
    flow = create_flow(run_services, source_db=source_db.name, table=events_view, delta="grp")
    with source_db.connect() as conn:
        conn.execute("INSERT INTO events (grp) VALUES (1), (2), (3), (3)")
        run_once(make_deps(safety_lag_seconds=3600), flow.id)
        assert set(landed(run_services, flow.id)) == {1, 2}  # grp 3 held back
        # A tie with the held value arrives within the lag: it waits with the others.
        conn.execute("INSERT INTO events (grp) VALUES (3)")
        held = run_once(make_deps(safety_lag_seconds=3600), flow.id)
        assert window_of(held)["windowEnd"] == 3 and set(landed(run_services, flow.id)) == {1, 2}
        # The table stopped growing and the lag has passed: grp 3 is read on its own.
        released = run_once(make_deps(safety_lag_seconds=0), flow.id)
        assert window_of(released) == {"windowStart": 3, "windowEnd": 4}
        # Afterwards larger values flow as before; nothing is read twice.
        conn.execute("INSERT INTO events (grp) VALUES (4), (5)")
        run_once(make_deps(safety_lag_seconds=0), flow.id)
        run_once(make_deps(safety_lag_seconds=0), flow.id)
    assert_exactly_once(run_services, flow.id, {1, 2, 3, 4, 5, 6, 7})


def test_a_time_window_takes_rows_stamped_now_and_misses_backdated_ones(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, events_view: str
) -> None:
    """Time columns end at the lagged clock, not at the newest value; rows stamped below the cursor
    after it moved are the documented loss of a value window (a fenced table read takes them)."""
    flow = create_flow(run_services, source_db=source_db.name, table=events_view, delta="ts")
    with source_db.connect() as conn:
        conn.execute("INSERT INTO events (ts) VALUES ('2020-01-01Z'), ('2020-01-02Z')")
        run_once(make_deps(safety_lag_seconds=0), flow.id)
        conn.execute("INSERT INTO events (ts) VALUES (now())")  # id 3: ahead of the cursor
        conn.execute("INSERT INTO events (ts) VALUES (now() - interval '1 hour')")  # id 4: backdated
        run_once(make_deps(safety_lag_seconds=0), flow.id)
    assert_exactly_once(run_services, flow.id, {1, 2, 3})


def test_a_text_delta_column_honours_an_ordered_date_format_and_refuses_others(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, events_view: str
) -> None:
    with source_db.connect() as conn:
        conn.execute("ALTER TABLE events ADD COLUMN day text")
        conn.execute("CREATE OR REPLACE VIEW events_v AS SELECT id, ts, note, grp, day FROM events")
        conn.execute("INSERT INTO events (day) VALUES ('2024-01-31'), ('2024-02-01'), ('2024-12-01')")
    with pytest.raises(BadRequest, match="does not sort in time order") as err:
        create_flow(run_services, source_db=source_db.name, table=events_view, delta="day", date_format="DD/MM/YYYY")
    assert err.value.code == "1367"
    flow = create_flow(run_services, source_db=source_db.name, table=events_view, delta="day", date_format="YYYY-MM-DD")
    run_once(make_deps(safety_lag_seconds=0), flow.id)
    with source_db.connect() as conn:
        conn.execute("INSERT INTO events (day) VALUES ('2025-01-01')")
    run_once(make_deps(safety_lag_seconds=0), flow.id)
    run_once(make_deps(safety_lag_seconds=0), flow.id)
    # Text values have no successor: the newest ('2025-01-01') waits for a larger one (documented).
    assert_exactly_once(run_services, flow.id, {1, 2, 3})
