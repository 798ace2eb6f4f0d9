"""The body of a run, identical in the embedded pool and in Celery workers: claim, read, map, commit, report.

Exactly once, step by step:
1. The run is claimed with a lease (compare-and-set in the runs table); only the lease holder may
   report on it, and a heartbeat keeps the lease while the run streams.
2. If the dataset's history already holds a snapshot for this run id (an earlier attempt committed
   and died before reporting), the run succeeds with those committed figures and reads nothing.
3. Otherwise the window starts at the flow's cursor as committed in the dataset's last snapshot,
   which no attempt of this run moved: a retried attempt reads the failed one's value window again,
   or (fenced PostgreSQL windows) everything since that cursor in its own snapshot
   (runs/incremental.py, docs/incremental.md).
4. Rows are streamed into Parquet and committed as ONE snapshot carrying the run id and the new
   cursor (`Lake.write_run`), which is idempotent per run id.
5. A full read in chunks (runs/chunked.py) stages each finished chunk's files on the run
   (runs/staging.py): a taken-over or retried attempt reads only the chunks not staged, and the one
   snapshot takes every staged file. A run that ends without committing deletes them.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from headwater.connectors._chunked import ChunkedSource
from headwater.domain import DeltaWindow, ReadRequest
from headwater.domain.fence import SnapshotFacts
from headwater.domain.kinds import ResourceKind, ResourceState
from headwater.errors import ConfigError, NotFound
from headwater.lake import CommitResult, DatasetIdent, Lake
from headwater.mapping import compile_mapping
from headwater.observability.context import run_scope
from headwater.observability.metrics import measured_run
from headwater.runs import partial, report, staging_store
from headwater.runs.chunked import ChunkedRead, fingerprint, with_chunking
from headwater.runs.credentials import Credentials
from headwater.runs.cursor import FencedPlan, FencedSource
from headwater.runs.dataset_facts import refresh_after_run
from headwater.runs.incremental import choose_window, with_fenced_end
from headwater.runs.lease import Cancelled, Heartbeat, LeaseLost
from headwater.runs.ledger import Ledger, RunRow
from headwater.runs.model import RunEvent, RunStatus, Stage, decide, transition
from headwater.runs.partial import SetAside
from headwater.runs.plan import CompiledMappingLike, FlowPlan, MappingCompiler, build_plan, parse_flow
from headwater.runs.staging import DOC_KEY as STAGING
from headwater.runs.staging import RunStaging, without_staging
from headwater.runs.window import (
    Window,
)
from headwater.settings import RunSettings
from headwater.store import Record, Store, now_ms

log = logging.getLogger("headwater.runs")


@dataclass
class RunDeps:
    """What executing a run needs; assembled once by `headwater.service.assembly`."""

    store: Store
    lake: Lake
    credentials: Credentials
    settings: RunSettings
    compile_mapping: MappingCompiler = compile_mapping


def execute_run(deps: RunDeps, run_id: str, *, owner: str) -> RunStatus | None:
    """Claim and run `run_id`; the run's new status, or None when it was not ours to run."""
    ledger = Ledger(deps.store)
    row = ledger.claim(run_id, owner=owner, now=now_ms(), lease_ms=int(deps.settings.lease_seconds * 1000))
    if row is None:
        return None
    # Every line logged while it runs carries the run id; its duration and figures go to the metrics.
    first = row.attempt == 1
    with (
        run_scope(row.id),
        measured_run(row.id, scheduled_at_ms=row.scheduled_at, first_attempt=first, read_back=ledger.get) as seen,
    ):
        seen.status = status = _Execution(deps, ledger, row, owner).run()
        refresh_after_run(deps.store, deps.lake, row.scope, row.flow_id)  # what dataset lists show
    return status


class _Execution:
    def __init__(self, deps: RunDeps, ledger: Ledger, row: RunRow, owner: str) -> None:
        self.deps, self.ledger, self.row, self.owner = deps, ledger, row, owner
        self.settings = deps.settings
        self.stage = Stage.SOURCE
        self.doc = report.started(row.doc, now=now_ms(), attempt=row.attempt)
        self.window_notices: list[str] = []
        self.fenced: FencedPlan | None = None  # set when this run reads a fenced window
        self.snapshot: SnapshotFacts | None = None  # the fenced read's snapshot, once taken
        self.set_aside: SetAside | None = None  # rows this attempt could not carry (partial ingestion)
        self.counts: dict[str, int] = {}  # what this attempt read and wrote so far, for a failure's report

    def _finish(self, event: RunEvent, doc: dict[str, Any], *, not_before: int | None = None) -> RunStatus | None:
        status = transition(RunStatus.IN_PROGRESS, event)
        dataset: tuple[str, str] | None = None
        staged: list[str] = []
        if status.terminal:  # a success's staged files are its snapshot's; anything else commits nothing
            doc, dataset, staged = without_staging(doc)  # a staging kept in the document by an earlier version
        ended = self.ledger.finish(self.row, owner=self.owner, event=event, doc=doc, not_before=not_before)
        if ended is None:
            log.warning("run %s: lease lost before reporting %s", self.row.id, status)
            return None
        log.info("run %s (flow %s) -> %s", self.row.id, self.row.flow_id, status)
        dataset, staged = dataset or ended.dataset, [*staged, *ended.staged]
        if status is not RunStatus.SUCCESS and dataset is not None and staged:
            ident = DatasetIdent(*dataset)
            if self.deps.lake.committed_run(ident, self.row.id) is None:  # never delete what a snapshot holds
                self.deps.lake.discard_staged(ident, staged)
        return status

    def _staging(self, fingerprint: str, dataset: DatasetIdent) -> RunStaging:
        """What earlier attempts of this run staged for the same read (runs/staging_store.py)."""
        raw = staging_store.load(self.deps.store, self.row.id)
        legacy = self.doc.pop(STAGING, None)  # kept in the run document by an earlier version
        if raw is None and legacy:
            raw = {**legacy, "fromDocument": True}
        sink = staging_store.StagingRows(self.deps.store, self.row.id, self.owner)
        return RunStaging.resume(raw, fingerprint=fingerprint, dataset=dataset, attempt=self.row.attempt, sink=sink)

    def run(self) -> RunStatus | None:
        row = self.row
        if row.attempt > self.settings.max_claims:
            return self._finish(
                RunEvent.FAIL,
                report.finished(
                    self.doc,
                    status=RunStatus.FAILED,
                    now=now_ms(),
                    error=("CONNECTOR-1001-500", f"The run was interrupted {row.attempt - 1} times (worker lost)."),
                ),
            )
        self.ledger.save_doc(row.id, owner=self.owner, doc=self.doc)
        with Heartbeat(self.ledger, row.id, owner=self.owner, settings=self.settings) as heartbeat:
            try:
                return self._copy(heartbeat)
            except LeaseLost:
                log.warning("run %s: lease lost while running; another worker owns it now", row.id)
                return None
            except Cancelled as exc:
                return self._finish(
                    RunEvent.CANCEL,
                    report.finished(
                        self.doc, status=RunStatus.CANCELLED, now=now_ms(), error=("CONNECTOR-1001-400", str(exc))
                    ),
                )
            except Exception as exc:
                decision = decide(exc, stage=self.stage, attempt=row.attempt, settings=self.settings)
                status = transition(RunStatus.IN_PROGRESS, decision.event)
                doc = report.finished(
                    self.doc,
                    status=status,
                    now=now_ms(),
                    error=(decision.code, decision.message),
                    rows_in=self.counts.get("rows_in"),
                    bytes_in=self.counts.get("bytes_in"),
                    set_aside=self.set_aside,
                )
                not_before = None
                if decision.event is RunEvent.RETRY:
                    not_before = now_ms() + int(decision.retry_in_seconds * 1000)
                    log.warning("run %s: %s; retry in %.1fs", row.id, decision.message, decision.retry_in_seconds)
                return self._finish(decision.event, doc, not_before=not_before)

    # -- the work -----------------------------------------------------------------------------
    def _plan(self) -> tuple[Record, FlowPlan]:
        store, scope, row = self.deps.store, self.row.scope, self.row
        flow = store.get(ResourceKind.FLOW, scope, row.flow_id)
        if flow is None:
            raise Cancelled(f"The flow {row.flow_id} was deleted before the run started.")
        if flow.doc.get("state") != ResourceState.ENABLED:
            raise Cancelled(f"The flow {row.flow_id} is {flow.doc.get('state')}: enable it to run it.")

        def need(kind: ResourceKind, resource_id: str) -> Record:
            found = store.get(kind, scope, resource_id)
            if found is None:
                raise ConfigError(f"The {kind} {resource_id} used by flow {flow.id} no longer exists.")
            # A connection's `state` is the user's switch: a disabled one is not read or written.
            if found.doc.get("state") == ResourceState.DISABLED:
                raise ConfigError(f"The {kind} {resource_id} used by flow {flow.id} is disabled: enable it.")
            return found

        definition = parse_flow(flow.doc).with_run_delta(self.row.doc.get("params") or {})
        source = need(ResourceKind.SOURCE_CONNECTION, definition.source_id)
        target = need(ResourceKind.TARGET_CONNECTION, definition.target_id)
        dataset = need(ResourceKind.DATASET, target.doc["params"]["dataSetId"])
        base = need(ResourceKind.CONNECTION, source.doc["baseConnectionId"])
        mapping_set = need(ResourceKind.MAPPING_SET, definition.mapping_id) if definition.mapping_id else None
        connector, auth = self.deps.credentials.resolve(base)

        def compile_in_process_stage(mappings: list[Any], schema: pa.Schema) -> CompiledMappingLike:
            # A mapping that no longer compiles is a processing failure (CONNECTOR-2001), not the source's.
            self.stage = Stage.PROCESS
            compiled = self.deps.compile_mapping(mappings, schema)
            self.stage = Stage.SOURCE
            return compiled

        try:
            plan = build_plan(
                definition,
                source=source,
                dataset=dataset,
                mapping_set=mapping_set,
                connector=connector,
                auth=auth,
                compile_mapping=compile_in_process_stage,
            )
        except NotFound:
            table = source.doc["params"]["tableName"]
            raise ConfigError(f"The table {table!r} no longer exists or is not readable.") from None
        return flow, plan

    def _window(self, flow: Record, plan: FlowPlan) -> tuple[Window | None, dict[str, Any] | None]:
        """The rows this run reads, and the cursor it commits with them (docs/incremental.md)."""
        chosen = choose_window(
            plan,
            committed=lambda: self.deps.lake.cursor(plan.ident, flow.id),
            doc=self.row.doc,
            scheduled_at=self.row.scheduled_at,
            settings=self.settings,
        )
        self.fenced = chosen.fenced
        self.window_notices.extend(chosen.notices)
        return chosen.window, chosen.cursor

    def _delta_window(self, window: Window | None) -> DeltaWindow | None:
        if window is None:
            return None
        fence = window.fence
        if fence is not None and fence.before is None:
            fence = dataclasses.replace(fence, on_snapshot=self._took_snapshot)
        return DeltaWindow(window.column, window.start, window.end, nulls=window.nulls, fence=fence)

    def _took_snapshot(self, facts: SnapshotFacts) -> None:
        self.snapshot = facts

    def _copy(self, heartbeat: Heartbeat) -> RunStatus | None:
        flow, plan = self._plan()
        lake = self.deps.lake
        if not lake.exists(plan.ident):
            self.stage = Stage.PROCESS
            lake.create_dataset(plan.ident, plan.output_schema, exist_ok=True)  # another run may win
            self.stage = Stage.SOURCE
        else:
            done = lake.committed_run(plan.ident, self.row.id)
            if done is not None:
                return self._succeed(done, rows_in=done.rows, bytes_in=done.bytes)
        window, cursor = self._window(flow, plan)
        self.doc = report.with_window(self.doc, window, incremental=plan.incremental, now=now_ms())
        self.doc = report.with_estimate(self.doc, plan, window)  # progress.estimatedTotalRecords
        self.ledger.save_doc(self.row.id, owner=self.owner, doc=self.doc)
        if window is not None and (window.empty or (plan.incremental and window.end is None and window.fence is None)):
            log.info("run %s: empty window %s", self.row.id, window)
            return self._succeed(None, rows_in=0, bytes_in=0)
        counts = self.counts = {"rows_in": 0, "bytes_in": 0, "rows_out": 0, "bytes_out": 0, "batches": 0}
        percent, diagnostics = partial.options_of(flow.doc)
        set_aside = self.set_aside = SetAside(run_id=self.row.id, percent=percent, diagnostics=diagnostics)
        last_report = [now_ms()]
        notices: list[str] = list(self.window_notices)  # degraded paths taken, shown on the run

        def publish(force: bool = False) -> None:
            now = now_ms()
            if force or now - last_report[0] >= self.settings.progress_seconds * 1000:
                last_report[0] = now
                self.doc = report.progressed(self.doc, now=now, notices=notices, failed=set_aside.count, **counts)
                self.ledger.save_doc(self.row.id, owner=self.owner, doc=self.doc)

        def on_progress(rows: int, nbytes: int) -> None:
            counts["bytes_out"] = nbytes

        def process(batch: pa.RecordBatch) -> pa.RecordBatch:
            self.stage = Stage.PROCESS
            counts["rows_in"] += batch.num_rows
            counts["bytes_in"] += batch.nbytes
            out = set_aside.apply(plan.mapping, batch) if plan.mapping is not None else batch
            counts["rows_out"] += out.num_rows
            counts["batches"] += 1
            publish(force=counts["batches"] == 1)
            self.stage = Stage.SOURCE
            heartbeat.check()
            return out

        request = ReadRequest(
            plan.table,
            columns=plan.read_columns,
            window=self._delta_window(window),
            row_filter=plan.row_filter,
            parallelism=self.settings.read_parallelism,
            notify=notices.append,
        )
        replace = (flow.doc.get("options") or {}).get("writeMode") == "replace"
        source, chunk_rows = plan.connector, self.settings.chunk_rows
        fenced = self.fenced
        if isinstance(source, ChunkedSource) and chunk_rows > 0 and (fenced is None or fenced.chunkable):
            staging = self._staging(fingerprint(plan, window), plan.ident)
            chunks = ChunkedRead(source, plan.auth, request, staging, lake, plan.ident, self.row.id)
            take_fence = None
            if fenced is not None:  # a backfill: every chunk reads below one fence, kept with the plan
                assert isinstance(source, FencedSource) and plan.delta_column is not None
                take_fence = functools.partial(source.fence_snapshot, plan.auth, plan.table, plan.delta_column)
            chunk_plan = chunks.plan(chunk_rows=chunk_rows, take_fence=take_fence)
            if chunk_plan is not None:
                staged = staging.totals()  # what earlier attempts read and staged
                for name in ("rows_in", "bytes_in", "rows_out"):
                    counts[name] += staged[name]
                set_aside.count += staged["failed"]
                notices.extend(chunk_plan.notices)
                resumed = len(staging.resumed)
                self.doc = with_chunking(self.doc, plan=chunk_plan, chunk_rows=chunk_rows, resumed=resumed,
                                         read=len(chunk_plan.chunks) - resumed)
                publish(force=True)
                self.stage = Stage.SOURCE
                chunks.run(chunk_plan, process, lambda: set_aside.count, join_seconds=self.settings.chunk_seconds)
                self.stage = Stage.PROCESS
                self.doc = with_chunking(self.doc, plan=chunk_plan, chunk_rows=chunk_rows, resumed=resumed,
                                         read=len(chunks.read_keys))
                publish(force=True)
                set_aside.check(rows_in=counts["rows_in"])
                if take_fence is not None:  # a fenced backfill
                    assert fenced is not None and chunks.fence is not None and plan.delta_type is not None
                    # How far transaction ids got while the chunks were read: the next runs scan from there.
                    cursor = fenced.chunked_cursor(chunks.fence, take_fence(), plan.delta_type).to_json()
                    self.doc = with_fenced_end(self.doc, chunks.fence, plan.delta_type)
                result = lake.write_run(plan.ident, run_id=self.row.id, flow_id=flow.id, batches=(), cursor=cursor,
                                        replace=replace, staged=staging.files())
                heartbeat.check()
                rows_in = result.rows if result.already_committed else counts["rows_in"]
                bytes_in = result.bytes if result.already_committed else counts["bytes_in"]
                return self._succeed(result, rows_in=rows_in, bytes_in=bytes_in)

        def stream() -> Generator[pa.RecordBatch]:
            self.stage = Stage.SOURCE
            batches = iter(plan.connector.read(plan.auth, request))
            while True:
                self.stage = Stage.SOURCE
                heartbeat.check()
                try:
                    batch = next(batches)
                except StopIteration:
                    self.stage = Stage.PROCESS  # what fails from here on is the lake's commit
                    publish(force=True)  # the final figures and notices, before the commit
                    set_aside.check(rows_in=counts["rows_in"])  # above the threshold: commit nothing
                    return
                yield process(batch)

        batches = stream()
        try:
            # A fenced read takes its snapshot before its first batch, and the cursor comes from it.
            first = next(batches, None)
            if self.fenced is not None:
                assert self.snapshot is not None and plan.delta_type is not None
                cursor = self.fenced.cursor(self.snapshot, plan.delta_type).to_json()
                self.doc = with_fenced_end(self.doc, self.snapshot, plan.delta_type)

            def chained() -> Iterator[pa.RecordBatch]:
                if first is not None:
                    yield first
                    yield from batches

            self.stage = Stage.PROCESS
            result = lake.write_run(
                plan.ident,
                run_id=self.row.id,
                flow_id=flow.id,
                batches=chained(),
                cursor=cursor,
                on_progress=on_progress,
                replace=replace,
            )
        finally:
            batches.close()  # a read left open holds its connection, and a fenced one its snapshot
        heartbeat.check()
        if result.already_committed:
            return self._succeed(result, rows_in=result.rows, bytes_in=result.bytes)
        return self._succeed(result, rows_in=counts["rows_in"], bytes_in=counts["bytes_in"])

    def _succeed(self, result: CommitResult | None, *, rows_in: int, bytes_in: int) -> RunStatus | None:
        doc = report.finished(
            self.doc,
            status=RunStatus.SUCCESS,
            now=now_ms(),
            rows_in=rows_in,
            bytes_in=bytes_in,
            rows_out=result.rows if result else 0,
            bytes_out=result.bytes if result else 0,
            files=result.files if result else 0,
            set_aside=self.set_aside,
        )
        if result is not None:
            doc["_snapshotId"] = str(result.snapshot_id)
        return self._finish(RunEvent.SUCCEED, doc)
