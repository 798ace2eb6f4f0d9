"""Runs executed in-process against a real PostgreSQL source and a real Iceberg lake."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import update

from headwater.connectors.postgres import PostgresConnector
from headwater.errors import ConfigError, TransientError
from headwater.runs.ledger import Ledger, new_run_id
from headwater.runs.model import RunStatus
from headwater.runs.report import new_doc
from headwater.runs.task import RunDeps, execute_run
from headwater.service import Services
from headwater.store import now_ms
from headwater.store.tables import runs
from tests.runs.settled import run_until_done, wait_settled
from tests.runs.source import FAST, SCOPE, MakeDeps, SourceDb, context, create_flow, dataset_ident


def trigger(deps: RunDeps, flow_id: str, *, at: int | None = None) -> str:
    """Create a scheduled run now (as the scheduler would) and return its id."""
    run_id = new_run_id()
    assert Ledger(deps.store).insert(
        run_id=run_id, scope=SCOPE, flow_id=flow_id, scheduled_at=at or now_ms(),
        doc=new_doc(flow_spec={}, trigger="schedule"),
    )
    return run_id


def dataset_rows(svc: Services, flow_id: str) -> list[dict[str, Any]]:
    flow = svc.store.get("flow", SCOPE, flow_id)
    assert flow is not None
    return svc.lake.scan(dataset_ident(svc, flow)).to_pylist()


class FailingReads(PostgresConnector):
    """The production connector, whose first `fail` reads lose their connection."""

    def __init__(self, services: Services, *, fail: int) -> None:
        super().__init__(services.settings)
        self.fail, self.reads = fail, 0

    def read(self, auth: Any, request: Any) -> Iterator[pa.RecordBatch]:
        self.reads += 1
        if self.reads <= self.fail:
            raise TransientError("The connection to the source was lost (test).")
        yield from super().read(auth, request)


@pytest.fixture
def items_table(source_db: SourceDb) -> str:
    with source_db.connect() as conn:
        conn.execute("CREATE TABLE items (id bigint PRIMARY KEY, seq bigint NOT NULL, "
                     "ts timestamptz NOT NULL DEFAULT clock_timestamp(), name text)")
    return "public.items"


def test_one_time_flow_copies_the_table_and_reports_metrics(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, items_table: str
) -> None:
    with source_db.connect() as conn:
        conn.execute("INSERT INTO items SELECT g, g, now(), 'n' || g FROM generate_series(1, 2500) g")
    flow = create_flow(run_services, source_db=source_db.name, table=items_table, delta=None, frequency="once")
    deps = make_deps()
    created = run_services.runs.create(context(), {"flowId": flow.id})
    run_id = created["items"][0]["id"]
    assert run_services.runs.get(context(), run_id)["items"][0]["metrics"]["statusSummary"]["status"] == "pending"
    row = run_until_done(deps, run_id)
    assert row.status is RunStatus.SUCCESS
    view = run_services.runs.get(context(), run_id)["items"][0]
    metrics = view["metrics"]
    assert metrics["recordSummary"] == {"inputRecordCount": 2500, "outputRecordCount": 2500, "failedRecordCount": 0}
    assert metrics["sizeSummary"]["inputBytes"] > 0 and metrics["sizeSummary"]["outputBytes"] > 0
    assert metrics["durationSummary"]["completedAtUTC"] >= metrics["durationSummary"]["startedAtUTC"]
    assert metrics["statusSummary"] == {"status": "success", "errors": []}
    assert view["activities"][0]["id"] == "copyActivity"
    assert "_window" not in view and "progress" not in view
    rows = dataset_rows(run_services, flow.id)
    assert sorted(r["id"] for r in rows) == list(range(1, 2501))


def test_rows_sharing_the_cursor_value_are_read_exactly_once(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, items_table: str
) -> None:
    """Integer delta: every row lands once, ties with the newest value read so far included.

    Before the transaction fence the newest value was held back (id 100 waited for a larger seq,
    and never came if the table stopped growing); now the first run takes it and later rows with
    the same value are still read, by the next run.
    """
    flow = create_flow(run_services, source_db=source_db.name, table=items_table, delta="seq")
    deps = make_deps()
    with source_db.connect() as conn:
        conn.execute("INSERT INTO items (id, seq) SELECT g, g / 10 FROM generate_series(1, 100) g")  # seq 0..10
        wait_settled(conn)
        r1 = run_until_done(deps, trigger(deps, flow.id))
        assert r1.status is RunStatus.SUCCESS
        got = {r["id"] for r in dataset_rows(run_services, flow.id)}
        assert got == set(range(1, 101))  # id 100 holds the newest value, 10: read now, not held back
        # More rows arrive with the boundary value 10, and newer ones.
        conn.execute("INSERT INTO items (id, seq) SELECT g, 10 FROM generate_series(101, 110) g")
        conn.execute("INSERT INTO items (id, seq) SELECT g, 11 FROM generate_series(111, 115) g")
        wait_settled(conn)
        r2 = run_until_done(deps, trigger(deps, flow.id))
        window = r2.doc["activities"][0]["durationSummary"]["extensions"]
        # The scan starts at or below the newest value the previous run saw; the fence ends it,
        # and the run shows the newest value its snapshot held.
        assert window["windowStart"] in (None, 10) and window["windowEnd"] == 11
        conn.execute("INSERT INTO items (id, seq) VALUES (116, 12)")
        wait_settled(conn)
        run_until_done(deps, trigger(deps, flow.id))
    ids = [r["id"] for r in dataset_rows(run_services, flow.id)]
    assert len(ids) == len(set(ids)), "duplicates"
    assert set(ids) == set(range(1, 117))


def _late_commit_scenario(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, *, lag: float
) -> set[int]:
    """A row whose transaction takes its timestamp before a run but commits after it."""
    flow = create_flow(run_services, source_db=source_db.name, table="public.items", delta="ts")
    deps = make_deps(safety_lag_seconds=lag)
    with source_db.connect() as conn, source_db.connect() as slow:
        conn.execute("INSERT INTO items (id, seq) SELECT g, g FROM generate_series(1, 50) g")
        time.sleep(lag + 0.2)
        slow.execute("BEGIN")
        slow.execute("INSERT INTO items (id, seq, ts) VALUES (999, 999, clock_timestamp())")
        time.sleep(0.3)  # the run starts while the row is still uncommitted, 0.3 s after its timestamp
        assert run_until_done(deps, trigger(deps, flow.id)).status is RunStatus.SUCCESS
        slow.execute("COMMIT")
        time.sleep(lag + 0.2)
        conn.execute("INSERT INTO items (id, seq) VALUES (1000, 1000)")
        time.sleep(lag + 0.2)
        wait_settled(conn)
        assert run_until_done(deps, trigger(deps, flow.id)).status is RunStatus.SUCCESS
    ids = [r["id"] for r in dataset_rows(run_services, flow.id)]
    assert len(ids) == len(set(ids))
    return set(ids)


@pytest.mark.slow  # waits out the safety lag several times
def test_late_committing_rows_survive_within_the_safety_lag(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, items_table: str
) -> None:
    got = _late_commit_scenario(run_services, make_deps, source_db, lag=1.5)
    assert got == set(range(1, 51)) | {999, 1000}


def test_without_a_safety_lag_a_late_commit_is_still_read(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, items_table: str
) -> None:
    """Once the control experiment for the lag (999 was lost); the transaction fence needs no lag."""
    got = _late_commit_scenario(run_services, make_deps, source_db, lag=0.0)
    assert got == set(range(1, 51)) | {999, 1000}


def test_transient_errors_retry_with_backoff_then_succeed(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, items_table: str
) -> None:
    with source_db.connect() as conn:
        conn.execute("INSERT INTO items (id, seq) SELECT g, g FROM generate_series(1, 10) g")
    flow = create_flow(run_services, source_db=source_db.name, table=items_table, delta=None, frequency="once")
    deps = make_deps(FailingReads(run_services, fail=2))
    run_id = run_services.runs.create(context(), {"flowId": flow.id})["items"][0]["id"]
    owner = "w1"
    assert execute_run(deps, run_id, owner=owner) is RunStatus.PENDING
    row = Ledger(deps.store).get(run_id)
    assert row is not None and row.lease_expires_at is not None and row.lease_expires_at > now_ms() - 1000
    assert row.doc["metrics"]["statusSummary"]["errors"][0]["code"] == "CONNECTOR-1001-503"
    final = run_until_done(deps, run_id)
    assert final.status is RunStatus.SUCCESS and final.attempt == 3
    assert len(dataset_rows(run_services, flow.id)) == 10


def test_transient_errors_give_up_after_max_attempts(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, items_table: str
) -> None:
    flow = create_flow(run_services, source_db=source_db.name, table=items_table, delta=None, frequency="once")
    deps = make_deps(FailingReads(run_services, fail=99), max_attempts=3)
    run_id = run_services.runs.create(context(), {"flowId": flow.id})["items"][0]["id"]
    final = run_until_done(deps, run_id)
    assert final.status is RunStatus.FAILED and final.attempt == 3
    error = final.doc["metrics"]["statusSummary"]["errors"][0]
    assert error["code"] == "CONNECTOR-1001-503" and "gave up after 3 attempts" in error["message"]


def test_configuration_errors_fail_at_once_with_a_clear_message(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, items_table: str
) -> None:
    flow = create_flow(run_services, source_db=source_db.name, table=items_table, delta=None, frequency="once")
    with source_db.connect() as conn:
        conn.execute("DROP TABLE items")
    deps = make_deps()
    run_id = run_services.runs.create(context(), {"flowId": flow.id})["items"][0]["id"]
    final = run_until_done(deps, run_id)
    assert final.status is RunStatus.FAILED and final.attempt == 1
    error = run_services.runs.get(context(), run_id)["items"][0]["metrics"]["statusSummary"]["errors"][0]
    assert error == {"code": "CONNECTOR-1001-400",
                     "message": "The table 'public.items' no longer exists or is not readable."}


class Exploding(PostgresConnector):
    def read(self, auth: Any, request: Any) -> Iterator[pa.RecordBatch]:
        yield from super().read(auth, request)
        raise RuntimeError("password=hunter2 leaked in a driver message")


def test_unexpected_errors_fail_without_leaking_details(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, items_table: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with source_db.connect() as conn:
        conn.execute("INSERT INTO items (id, seq) SELECT g, g FROM generate_series(1, 10) g")
    flow = create_flow(run_services, source_db=source_db.name, table=items_table, delta=None, frequency="once")
    deps = make_deps(Exploding(run_services.settings))
    run_id = run_services.runs.create(context(), {"flowId": flow.id})["items"][0]["id"]
    final = run_until_done(deps, run_id)
    assert final.status is RunStatus.FAILED
    error = final.doc["metrics"]["statusSummary"]["errors"][0]
    assert error["code"] == "CONNECTOR-1001-500" and "hunter2" not in error["message"]
    assert "hunter2" in caplog.text  # the traceback is in the log, for the operator
    assert dataset_rows(run_services, flow.id) == []  # nothing half-written became visible


def test_a_run_that_committed_but_did_not_report_is_not_written_twice(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, items_table: str
) -> None:
    with source_db.connect() as conn:
        conn.execute("INSERT INTO items (id, seq) SELECT g, g FROM generate_series(1, 300) g")
        wait_settled(conn)
    flow = create_flow(run_services, source_db=source_db.name, table=items_table, delta="seq")
    deps = make_deps()
    run_id = trigger(deps, flow.id)
    first = run_until_done(deps, run_id)
    # Pretend the worker died after the Iceberg commit, before reporting: the lease has expired.
    with deps.store.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(
            status="inProgress", lease_owner="dead", lease_expires_at=now_ms() - 1))
    second = run_until_done(deps, run_id)
    assert second.status is RunStatus.SUCCESS and second.attempt == 2
    assert second.doc["metrics"]["recordSummary"]["outputRecordCount"] == \
        first.doc["metrics"]["recordSummary"]["outputRecordCount"] == 300  # 299 held back the newest
    assert len(dataset_rows(run_services, flow.id)) == 300


def test_live_progress_is_visible_while_the_run_streams(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, items_table: str
) -> None:
    with source_db.connect() as conn:
        conn.execute("INSERT INTO items (id, seq) SELECT g, g FROM generate_series(1, 5000) g")
    flow = create_flow(run_services, source_db=source_db.name, table=items_table, delta=None, frequency="once")
    seen: list[dict[str, Any]] = []
    run_id = ""

    class Watching(PostgresConnector):
        """Delivers 2000-row batches and looks at the run while it streams its third one."""

        def read(self, auth: Any, request: Any) -> Iterator[pa.RecordBatch]:
            pieces = (b.slice(at, 2000) for b in super().read(auth, request) for at in range(0, b.num_rows, 2000))
            for i, batch in enumerate(pieces):
                if i == 2:
                    seen.append(run_services.runs.get(context(), run_id)["items"][0])
                yield batch

    deps = make_deps(Watching(run_services.settings))
    run_id = run_services.runs.create(context(), {"flowId": flow.id})["items"][0]["id"]
    assert run_until_done(deps, run_id).status is RunStatus.SUCCESS
    live = seen[0]
    assert live["metrics"]["statusSummary"]["status"] == "inProgress"
    assert live["progress"]["recordsRead"] == 4000 and live["progress"]["batches"] == 2
    assert live["metrics"]["recordSummary"]["inputRecordCount"] == 4000


def test_runs_of_a_disabled_or_deleted_flow_are_cancelled(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, items_table: str
) -> None:
    flow = create_flow(run_services, source_db=source_db.name, table=items_table, delta="seq")
    deps = make_deps()
    run_id = trigger(deps, flow.id)
    run_services.store.update("flow", SCOPE, flow.id, doc={**flow.doc, "state": "disabled"},
                              secrets=None, expected_etag=flow.etag)
    final = run_until_done(deps, run_id)
    assert final.status is RunStatus.CANCELLED
    assert "disabled" in final.doc["metrics"]["statusSummary"]["errors"][0]["message"]


@pytest.mark.parametrize("kind", ["connection", "sourceConnection", "targetConnection"])
def test_a_disabled_connection_fails_the_run_and_writes_nothing(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, items_table: str, kind: str
) -> None:
    flow = create_flow(run_services, source_db=source_db.name, table=items_table, delta="seq")
    ids = {
        "sourceConnection": flow.doc["sourceConnectionIds"][0],
        "targetConnection": flow.doc["targetConnectionIds"][0],
    }
    source = run_services.store.get("sourceConnection", SCOPE, ids["sourceConnection"])
    assert source is not None
    ids["connection"] = source.doc["baseConnectionId"]
    record = run_services.store.get(kind, SCOPE, ids[kind])
    assert record is not None
    run_services.store.update(kind, SCOPE, record.id, doc={**record.doc, "state": "disabled"},
                              secrets=record.secrets, expected_etag=record.etag)
    deps = make_deps()
    final = run_until_done(deps, trigger(deps, flow.id))
    assert final.status is RunStatus.FAILED
    assert "is disabled" in final.doc["metrics"]["statusSummary"]["errors"][0]["message"]
    assert final.doc["metrics"]["recordSummary"].get("outputRecordCount", 0) == 0


def test_runs_of_one_flow_never_overlap(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, items_table: str
) -> None:
    flow = create_flow(run_services, source_db=source_db.name, table=items_table, delta="seq")
    deps = make_deps()
    ledger = Ledger(deps.store)
    first, second = trigger(deps, flow.id, at=now_ms() - 10), trigger(deps, flow.id)
    assert ledger.claim(second, owner="a", now=now_ms(), lease_ms=60_000) is None  # the earlier run goes first
    assert ledger.claim(first, owner="a", now=now_ms(), lease_ms=60_000) is not None
    assert ledger.claim(second, owner="b", now=now_ms(), lease_ms=60_000) is None  # first still holds the flow
    assert ledger.claim(first, owner="b", now=now_ms(), lease_ms=60_000) is None  # and its lease is live


def test_config_error_type_maps_to_failed() -> None:
    from headwater.runs.model import RunEvent, RunSettings, Stage, decide

    d = decide(ConfigError("bad column"), stage=Stage.PROCESS, attempt=1, settings=RunSettings())
    assert (d.event, d.code, d.message) == (RunEvent.FAIL, "CONNECTOR-2001-400", "bad column")


def test_backfill_false_starts_the_first_window_at_the_start_time(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, items_table: str
) -> None:
    now = int(time.time())
    with source_db.connect() as conn:
        conn.execute("INSERT INTO items (id, seq, ts) SELECT g, g, now() - interval '100 seconds' "
                     "FROM generate_series(1, 5) g")
        conn.execute("INSERT INTO items (id, seq, ts) SELECT g, g, now() - interval '10 seconds' "
                     "FROM generate_series(6, 8) g")
        wait_settled(conn)
    flow = create_flow(run_services, source_db=source_db.name, table=items_table, delta="ts",
                     start_time=now - 50, backfill=False)
    deps = make_deps()
    before_ms = int(time.time() * 1000)
    row = run_until_done(deps, trigger(deps, flow.id))
    ext = row.doc["activities"][0]["durationSummary"]["extensions"]
    # A fenced window ends at a transaction boundary, not at a delta value (once a wall-clock
    # guess); its windowEnd is the instant the read's snapshot was taken, by the source's clock.
    assert ext["windowStart"] == (now - 50) * 1000
    assert before_ms - 1000 <= ext["windowEnd"] <= int(time.time() * 1000) + 1000
    assert sorted(r["id"] for r in dataset_rows(run_services, flow.id)) == [6, 7, 8]


def test_the_serve_lifecycle_hook_runs_on_demand_runs(
    tmp_path: Any, source_db: SourceDb, items_table: str
) -> None:
    from fastapi.testclient import TestClient

    from headwater.api import create_app
    from headwater.settings import Settings
    from tests.support.ids import FLOW
    from tests.support.tenants import make_tenant

    with source_db.connect() as conn:
        conn.execute("INSERT INTO items (id, seq) SELECT g, g FROM generate_series(1, 42) g")
    settings = Settings(data_dir=tmp_path / "serve", run_embedded_executor=True, workers=1,
                        scheduler_interval_seconds=0.2, run=FAST)
    svc = Services(settings)
    svc.migrate()
    flow = create_flow(svc, source_db=source_db.name, table=items_table, delta=None, frequency="once",
                     start_time=int(time.time()) + 3600)  # not due: only the on-demand run executes
    tenant = make_tenant(svc, "5C1328435BF324E90A49402A@AdobeOrg")
    with TestClient(create_app(settings, services=svc)) as client:
        created = client.post(f"{FLOW}/runs", headers=tenant.headers(), json={"flowId": flow.id})
        run_id = created.json()["items"][0]["id"]
        deadline = time.monotonic() + 20
        status = "pending"
        while time.monotonic() < deadline and status in ("pending", "inProgress"):
            time.sleep(0.05)
            run = client.get(f"{FLOW}/runs/{run_id}", headers=tenant.headers()).json()["items"][0]
            status = run["metrics"]["statusSummary"]["status"]
    assert status == "success", run
    assert run["metrics"]["recordSummary"]["outputRecordCount"] == 42


def test_on_demand_window_reads_only_the_requested_half_open_range(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, items_table: str
) -> None:
    base = 1_700_000_000
    with source_db.connect() as conn:
        conn.execute("INSERT INTO items (id, seq, ts) SELECT g, g, to_timestamp(%s + g) "
                     "FROM generate_series(1, 20) g", (base,))
    flow = create_flow(run_services, source_db=source_db.name, table=items_table, delta=None, frequency="once")
    deps = make_deps()
    params = {"windowStartTime": str(base + 5), "windowEndTime": (base + 10) * 1000, "deltaColumn": {"name": "ts"}}
    run_id = run_services.runs.create(context(), {"flowId": flow.id, "params": params})["items"][0]["id"]
    row = run_until_done(deps, run_id)
    assert row.status is RunStatus.SUCCESS
    ext = row.doc["activities"][0]["durationSummary"]["extensions"]
    assert ext == {"windowStart": (base + 5) * 1000, "windowEnd": (base + 10) * 1000}
    assert row.doc["activities"][0]["statusSummary"]["extensions"]["type"] == "one-time"
    assert sorted(r["id"] for r in dataset_rows(run_services, flow.id)) == [5, 6, 7, 8, 9]


class _Rename:
    """A stand-in compiled mapping: reads `id` and `name`, writes `id` and `label`."""

    input_columns = ("id", "name")
    output_schema = pa.schema([("id", pa.int64()), ("label", pa.string())])

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays([batch.column("id"), batch.column("name")], schema=self.output_schema)


def test_the_mapping_step_shapes_what_is_read_and_written(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, items_table: str
) -> None:
    with source_db.connect() as conn:
        conn.execute("INSERT INTO items (id, seq, name) SELECT g, g, 'n' || g FROM generate_series(1, 30) g")
    mapping_id = run_services.mapping_sets.create(context(), {"mappings": [
        {"sourceType": "ATTRIBUTE", "source": "id", "destination": "id"},
        {"sourceType": "ATTRIBUTE", "source": "name", "destination": "label"},
    ]})["id"]
    flow = create_flow(run_services, source_db=source_db.name, table=items_table, delta=None, frequency="once",
                       mapping_id=mapping_id)
    # The stand-in compiler below receives whatever the mapping set holds: give it a recognisable value.
    stored = run_services.store.get("mappingSet", SCOPE, mapping_id)
    assert stored is not None
    run_services.store.update("mappingSet", SCOPE, mapping_id, doc={**stored.doc, "mappings": [{"x": 1}]},
                              secrets=None, expected_etag=stored.etag)
    compiled: list[tuple[Any, pa.Schema]] = []

    def compile_mapping(mappings: list[Any], schema: pa.Schema) -> _Rename:
        compiled.append((mappings, schema))
        return _Rename()

    deps = dataclasses.replace(make_deps(), compile_mapping=compile_mapping)
    run_id = run_services.runs.create(context(), {"flowId": flow.id})["items"][0]["id"]
    assert run_until_done(deps, run_id).status is RunStatus.SUCCESS
    assert compiled[0][0] == [{"x": 1}] and compiled[0][1].names == ["id", "seq", "ts", "name"]
    rows = dataset_rows(run_services, flow.id)
    assert sorted(rows, key=lambda r: r["id"])[0] == {"id": 1, "label": "n1"}


def test_an_unreachable_metadata_database_is_transient_and_hides_the_driver_text() -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from headwater.runs.model import RunEvent, RunSettings, Stage, decide

    engine = create_engine("postgresql+psycopg://u:marker-pw@127.0.0.1:1/meta?connect_timeout=1")
    with pytest.raises(OperationalError) as caught, engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    d = decide(caught.value, stage=Stage.PROCESS, attempt=1, settings=RunSettings())
    assert (d.event, d.code) == (RunEvent.RETRY, "CONNECTOR-2001-503")
    assert "metadata database is unreachable" in d.message and "marker-pw" not in d.message


def test_a_full_disk_fails_at_once_with_what_to_do() -> None:
    from headwater.runs.model import RunEvent, RunSettings, Stage, decide

    with pytest.raises(OSError) as caught, open("/dev/full", "wb") as full:
        full.write(b"x" * 65536)
        full.flush()
    d = decide(caught.value, stage=Stage.PROCESS, attempt=1, settings=RunSettings())
    assert (d.event, d.code) == (RunEvent.FAIL, "CONNECTOR-2001-400")
    assert "No space left" in d.message and "re-trigger" in d.message
