"""The runs table: inserts that tolerate duplicates, leased claims, heartbeats and compare-and-set finishes.

Every change to a running run is conditional on `lease_owner = me`, so a worker that lost its lease
(it stalled past `lease_expires_at` and another worker took over) can no longer touch the run.

Column use:
- `status`: the RunStatus; the doc's statusSummary mirrors it, the column is the truth.
- `lease_owner`/`lease_expires_at`: for an inProgress run, who holds it and until when. For a
  pending run, `lease_expires_at` is "not before" (retry backoff); `lease_owner = 'broker'` marks a
  run handed to Celery, which the scheduler re-enqueues if nobody claims it before that time.
- `attempt`: number of claims so far.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from headwater.runs import staging_store
from headwater.runs.ledger_reads import LAST_FINISHED, LAST_SCHEDULED, RUN_PAGES, LastRun
from headwater.runs.model import RunEvent, RunStatus, claimable_from, transition
from headwater.store import Scope, Store, new_etag, now_ms
from headwater.store.json_codec import loads_checked
from headwater.store.paging import Cond, Page, conditions
from headwater.store.statements import ids_param
from headwater.store.tables import runs

BROKER = "broker"


@dataclass(frozen=True)
class RunRow:
    """One row of the runs table."""

    id: str
    scope: Scope
    flow_id: str
    scheduled_at: int
    status: RunStatus
    doc: dict[str, Any]
    etag: str
    attempt: int
    lease_owner: str | None
    lease_expires_at: int | None
    created_at: int
    updated_at: int
    # True when decoding `doc` from its stored text showed it renders as is (store/json_codec.py);
    # False only means "not known": the renderer checks it.
    renders_as_is: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Ended:
    """A run's status was applied; for a run that ended, the staged files its staging named."""

    dataset: tuple[str, str] | None = None
    staged: list[str] = field(default_factory=list)


def _row(r: Any, *, doc_as_text: bool = False) -> RunRow:
    """A RunRow of a whole-row select; `doc_as_text`: of RUN_PAGES, which reads the doc as text."""
    doc, as_is = loads_checked(r.doc) if doc_as_text else (r.doc, False)
    return RunRow(
        id=r.id,
        scope=Scope(r.org, r.sandbox),
        flow_id=r.flow_id,
        scheduled_at=r.scheduled_at,
        status=RunStatus(r.status),
        doc=doc,
        etag=r.etag,
        attempt=r.attempt,
        lease_owner=r.lease_owner,
        lease_expires_at=r.lease_expires_at,
        created_at=r.created_at,
        updated_at=r.updated_at,
        renders_as_is=as_is,
    )


def new_run_id() -> str:
    return str(uuid.uuid4())


class Ledger:
    """Run rows in the metadata store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._dialect = store.engine.dialect.name

    # -- create -------------------------------------------------------------------------------
    def insert(self, *, run_id: str, scope: Scope, flow_id: str, scheduled_at: int, doc: dict[str, Any]) -> bool:
        """Insert a pending run; False when (flow_id, scheduled_at) already exists (another scheduler won)."""
        ts = now_ms()
        values = dict(
            id=run_id,
            org=scope.org,
            sandbox=scope.sandbox,
            flow_id=flow_id,
            scheduled_at=scheduled_at,
            status=RunStatus.PENDING.value,
            doc=doc,
            etag=new_etag(),
            attempt=0,
            created_at=ts,
            updated_at=ts,
        )
        stmt: Any
        if self._dialect == "postgresql":
            stmt = postgresql.insert(runs).values(**values).on_conflict_do_nothing()
        elif self._dialect == "sqlite":
            stmt = sqlite.insert(runs).values(**values).on_conflict_do_nothing()
        else:  # pragma: no cover - other databases are not supported for the metadata store
            stmt = insert(runs).values(**values)
        # RETURNING, not rowcount: drivers disagree on rowcount for INSERT ... ON CONFLICT DO NOTHING.
        with self.store.begin() as conn:
            return conn.execute(stmt.returning(runs.c.id)).first() is not None

    def insert_many(self, rows: list[dict[str, Any]]) -> int:
        """Insert pending runs (keys of `insert`) in one statement per chunk; returns how many were new."""
        ts = now_ms()
        values = [
            dict(
                id=r["run_id"],
                org=r["scope"].org,
                sandbox=r["scope"].sandbox,
                flow_id=r["flow_id"],
                scheduled_at=r["scheduled_at"],
                status=RunStatus.PENDING.value,
                doc=r["doc"],
                etag=new_etag(),
                attempt=0,
                created_at=ts,
                updated_at=ts,
            )
            # One lock order for every scheduler: racing multi-row inserts then wait, never deadlock.
            for r in sorted(rows, key=lambda r: (r["flow_id"], r["scheduled_at"]))
        ]
        if not values:
            return 0
        dialect: Any = postgresql if self._dialect == "postgresql" else sqlite
        # One cached statement executed for many rows (SQLAlchemy batches them into multi-row INSERTs):
        # compiling a fresh VALUES list per tick cost more than the inserts themselves.
        stmt = dialect.insert(runs).on_conflict_do_nothing().returning(runs.c.id)
        with self.store.begin() as conn:
            return len(conn.execute(stmt, values).all())

    # -- read ---------------------------------------------------------------------------------
    def get(self, run_id: str) -> RunRow | None:
        with self.store.begin() as conn:
            r = conn.execute(select(runs).where(runs.c.id == run_id)).first()
        return _row(r) if r else None

    def for_scope(self, scope: Scope, *, flow_ids: list[str] | None = None) -> list[RunRow]:
        q = select(runs).where(runs.c.org == scope.org, runs.c.sandbox == scope.sandbox)
        if flow_ids is not None:
            q = q.where(runs.c.flow_id.in_(flow_ids))
        with self.store.begin() as conn:
            return [_row(r) for r in conn.execute(q.order_by(runs.c.created_at, runs.c.id)).all()]

    def page(self, scope: Scope, page: Page) -> list[RunRow]:
        """One page of a sandbox's runs, filtered, ordered and cut in SQL."""
        read, values = RUN_PAGES(page)
        with self.store.begin() as conn:
            rows = read.rows(conn, {**values, "org": scope.org, "sandbox": scope.sandbox})
        return [_row(r, doc_as_text=True) for r in rows]

    def count(self, scope: Scope, conds: tuple[Cond, ...] = ()) -> int:
        q = select(func.count()).select_from(runs).where(runs.c.org == scope.org, runs.c.sandbox == scope.sandbox)
        with self.store.begin() as conn:
            return int(conn.execute(q.where(*conditions(runs, conds))).scalar_one())

    def last_finished(self, scope: Scope, flow_ids: list[str]) -> dict[str, LastRun]:
        """Per flow, its most recently ended run that succeeded or failed (a flow's `lastRunDetails`).

        One prebuilt query for any number of flows, so listing flows does not cost a query per flow.
        """
        if not flow_ids:
            return {}
        params = {"org": scope.org, "sandbox": scope.sandbox, "flow_ids": ids_param(flow_ids)}
        with self.store.begin() as conn:
            rows = LAST_FINISHED[self._dialect == "postgresql"].rows(conn, params)
        # Ties (two runs ended in the same ms): the greater id wins.
        return {r.flow_id: LastRun(r.id, RunStatus(r.status), *r.times) for r in rows}

    def last_scheduled(self, flow_ids: list[str]) -> dict[str, int]:
        """The newest scheduled_at of each of `flow_ids` that has runs (one seek per flow)."""
        if not flow_ids:
            return {}
        params = {"flow_ids": ids_param(flow_ids)}
        with self.store.begin() as conn:
            rows = conn.execute(LAST_SCHEDULED[self._dialect == "postgresql"], params)
            return {flow_id: int(at) for flow_id, at in rows if at is not None}

    # -- claim --------------------------------------------------------------------------------
    @staticmethod
    def _claimable(now: int, *, broker_ok: bool) -> Any:
        pending_due = or_(runs.c.lease_expires_at.is_(None), runs.c.lease_expires_at <= now)
        if broker_ok:
            pending_due = or_(pending_due, runs.c.lease_owner == BROKER)
        return or_(
            and_(runs.c.status == RunStatus.PENDING.value, pending_due),
            and_(runs.c.status == RunStatus.IN_PROGRESS.value, runs.c.lease_expires_at < now),
        )

    def candidates(self, *, now: int, limit: int = 16) -> list[RunRow]:
        with self.store.begin() as conn:
            rows = conn.execute(
                select(runs)
                .where(self._claimable(now, broker_ok=False), runs.c.scheduled_at <= now)
                .order_by(runs.c.scheduled_at, runs.c.id)
                .limit(limit)
            ).all()
        return [_row(r) for r in rows]

    def due_for_broker(self, *, now: int, limit: int = 500) -> list[RunRow]:
        """Runs to hand to Celery: due and never enqueued, backoff over, or their enqueue/lease expired."""
        with self.store.begin() as conn:
            rows = conn.execute(
                select(runs)
                .where(self._claimable(now, broker_ok=False), runs.c.scheduled_at <= now)
                .order_by(runs.c.scheduled_at)
                .limit(limit)
            ).all()
        return [_row(r) for r in rows]

    def mark_enqueued(self, run: RunRow, *, until: int) -> bool:
        if run.status is RunStatus.IN_PROGRESS:
            transition(run.status, RunEvent.RETRY)  # its worker's lease ran out: back to the queue
        with self.store.begin() as conn:
            result = conn.execute(
                update(runs)
                .where(runs.c.id == run.id, runs.c.etag == run.etag)
                .values(
                    status=RunStatus.PENDING.value,
                    lease_owner=BROKER,
                    lease_expires_at=until,
                    etag=new_etag(),
                    updated_at=now_ms(),
                )
            )
            return bool(result.rowcount == 1)

    def claim(self, run_id: str, *, owner: str, now: int, lease_ms: int) -> RunRow | None:
        """Take a run for `owner` (compare-and-set); None when someone else has it or it must wait.

        A run is taken only when no other run of its flow is in progress with a live lease and no
        earlier run of the flow is unfinished: runs of one flow execute one at a time, in order,
        because each reads from the cursor the previous one committed.
        """
        other = runs.alias("other")
        earlier = or_(
            other.c.scheduled_at < runs.c.scheduled_at,
            and_(other.c.scheduled_at == runs.c.scheduled_at, other.c.id < runs.c.id),
        )
        # One check per status, each a seek into the flow's runs of that status (ix_runs_flow_status):
        # with both statuses in one condition, the databases read the flow's whole history instead.
        busy = or_(
            exists().where(
                other.c.flow_id == runs.c.flow_id,
                other.c.status == RunStatus.IN_PROGRESS.value,
                other.c.id != runs.c.id,
                or_(other.c.lease_expires_at >= now, earlier),
            ),
            exists().where(
                other.c.flow_id == runs.c.flow_id,
                other.c.status == RunStatus.PENDING.value,
                other.c.id != runs.c.id,
                earlier,
            ),
        )
        with self.store.begin() as conn:
            head = conn.execute(select(runs.c.flow_id, runs.c.status).where(runs.c.id == run_id)).first()
            if head is None:
                return None
            self._lock_flow(conn, head.flow_id)
            result = conn.execute(
                update(runs)
                .where(runs.c.id == run_id, self._claimable(now, broker_ok=True), ~busy)
                .values(
                    status=RunStatus.IN_PROGRESS.value,
                    lease_owner=owner,
                    lease_expires_at=now + lease_ms,
                    attempt=runs.c.attempt + 1,
                    etag=new_etag(),
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                return None
            # The state machine decides; the WHERE clause above only admits statuses it allows.
            transition(RunStatus(head.status), RunEvent.CLAIM)
            r = conn.execute(select(runs).where(runs.c.id == run_id)).one()
        return _row(r)

    def _lock_flow(self, conn: Connection, flow_id: str) -> None:
        # PostgreSQL READ COMMITTED would let two claimers of different runs of one flow both pass the
        # NOT EXISTS check (write skew); a per-flow advisory lock serialises them. SQLite serialises
        # writers already.
        if self._dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:f))"), {"f": flow_id})

    # -- while running ------------------------------------------------------------------------
    def heartbeat(self, run_id: str, *, owner: str, lease_ms: int) -> bool:
        now = now_ms()
        with self.store.begin() as conn:
            result = conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.lease_owner == owner, runs.c.status == RunStatus.IN_PROGRESS.value)
                .values(lease_expires_at=now + lease_ms)
            )
            return bool(result.rowcount == 1)

    def save_doc(self, run_id: str, *, owner: str, doc: dict[str, Any]) -> bool:
        with self.store.begin() as conn:
            result = conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.lease_owner == owner, runs.c.status == RunStatus.IN_PROGRESS.value)
                .values(doc=doc, etag=new_etag(), updated_at=now_ms())
            )
            return bool(result.rowcount == 1)

    def finish(
        self, run: RunRow, *, owner: str, event: RunEvent, doc: dict[str, Any], not_before: int | None = None
    ) -> Ended | None:
        """Apply `event` to a run this worker holds; None if the lease was lost meanwhile.

        A run that ends (any terminal status) loses its staging in the same transaction, so no later
        attempt (a retrigger) can resume files that this one is about to discard or has committed.
        """
        status = transition(RunStatus.IN_PROGRESS, event)
        with self.store.begin() as conn:
            result = conn.execute(
                update(runs)
                .where(runs.c.id == run.id, runs.c.lease_owner == owner, runs.c.status == RunStatus.IN_PROGRESS.value)
                .values(
                    status=status.value,
                    doc=doc,
                    lease_owner=None,
                    lease_expires_at=not_before,
                    etag=new_etag(),
                    updated_at=now_ms(),
                )
            )
            if result.rowcount != 1:
                return None
            if not status.terminal:
                return Ended()
            dataset, files = staging_store.take(conn, run.id)
            return Ended(dataset, files)

    def retrigger(self, run: RunRow, *, doc: dict[str, Any]) -> RunRow | None:
        status = transition(run.status, RunEvent.RETRIGGER)
        etag = new_etag()
        with self.store.begin() as conn:
            result = conn.execute(
                update(runs)
                .where(
                    runs.c.id == run.id,
                    runs.c.etag == run.etag,
                    runs.c.status.in_([s.value for s in claimable_from(RunEvent.RETRIGGER)]),
                )
                .values(
                    status=status.value,
                    doc=doc,
                    attempt=0,
                    lease_owner=None,
                    lease_expires_at=None,
                    etag=etag,
                    updated_at=now_ms(),
                )
            )
            if result.rowcount != 1:
                return None
        return self.get(run.id)
