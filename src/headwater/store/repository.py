"""The store's one entry point: resources by (kind, org, sandbox, id), with etag compare-and-set."""

from __future__ import annotations

import builtins
import functools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    func,
    insert,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, OperationalError

from headwater.errors import PreconditionFailed, TransientError
from headwater.store.clients import ClientStore
from headwater.store.clock import now_ms
from headwater.store.engine import make_engine
from headwater.store.json_codec import loads_checked
from headwater.store.keys import index_keys
from headwater.store.paging import Cond, Page, conditions
from headwater.store.references import InUse, first_user, forget_flow, write_references
from headwater.store.statements import (
    RECORD_COLUMNS,
    RESOURCE_BY_ID,
    RESOURCE_PAGES,
    fields_by_ids,
    ids_param,
    resources_by_ids,
)
from headwater.store.tables import resources

# pg_advisory_xact_lock key held while migrating a PostgreSQL metadata database ("headwtr" in hex).
_MIGRATION_LOCK = 0x68656164777472

_MIGRATIONS = Path(__file__).parent / "migrations"

T = TypeVar("T")

# The connection of the `Store.read` running in this thread (or task): its reads all use it.
_READING: ContextVar[Connection | None] = ContextVar("headwater_store_reading", default=None)


def _unavailable(exc: DBAPIError) -> TransientError:
    return TransientError(
        "The metadata database is unavailable; try again shortly. "
        f"({type(exc.orig).__name__ if exc.orig else type(exc).__name__})"
    )


def new_etag() -> str:
    """A Cosmos-DB-style quoted etag, as Adobe returns them: the JSON string holds literal quotes."""
    return f'"{uuid.uuid4()}"'


def etag_matches(current: str, supplied: str) -> bool:
    """If-Match comparison that accepts quoted, unquoted and weak (W/) forms."""

    def bare(value: str) -> str:
        value = value.strip()
        if value.startswith("W/"):
            value = value[2:]
        return value.strip().strip('"')

    return bare(current) == bare(supplied)


@functools.lru_cache(maxsize=4096)
def _sandbox_id(org: str, sandbox: str) -> str:
    # Every item of a list page shows it: computed once per sandbox, not once per item.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"headwater:{org}:{sandbox}"))


@dataclass(frozen=True)
class Scope:
    """The tenant of a resource: an IMS org and a sandbox inside it."""

    org: str
    sandbox: str

    @property
    def sandbox_id(self) -> str:
        return _sandbox_id(self.org, self.sandbox)


@dataclass(frozen=True)
class Record:
    """One stored resource."""

    id: str
    kind: str
    scope: Scope
    doc: dict[str, Any]
    secrets: bytes | None
    etag: str
    created_at: int
    updated_at: int
    # True when decoding `doc` from its stored text showed it renders as is (store/json_codec.py);
    # False only means "not known": the renderer checks it.
    renders_as_is: bool = field(default=False, compare=False)

    def __repr__(self) -> str:  # secrets stay out of reprs even encrypted
        return f"Record(kind={self.kind!r}, id={self.id!r}, etag={self.etag!r})"


class Store(ClientStore):
    """Persistence for API clients and Flow Service resources."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # PostgreSQL reads run without BEGIN and COMMIT, two round trips of three for a lone query;
        # each statement sees the data committed when it starts, as it would in a READ COMMITTED
        # transaction. SQLite's driver opens no transaction for a SELECT anyway.
        postgres = engine.dialect.name == "postgresql"
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT") if postgres else engine
        self._postgres = postgres

    @classmethod
    def from_url(cls, url: str) -> Store:
        return cls(make_engine(url))

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Nodes starting together on a new database would each create the same tables and
                # fail on the second; the lock makes the others wait, then find the schema current.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction; a lost metadata database surfaces as a TransientError.

        Inside `read`, the read's own connection instead (its errors are handled there).
        """
        reading = _READING.get()
        if reading is not None:
            yield reading
            return
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise _unavailable(exc) from None

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)`, a function that only reads, with all its store reads on one pooled connection.

        One checkout instead of one per read (a page of flows reads four times). A connection lost
        mid-read (the server restarted, the backend was terminated) is replaced and `fn` run once
        more, which a read allows: the request is answered rather than failed.
        """
        if _READING.get() is not None:
            return fn(*args)
        for attempt in (1, 2):
            try:
                with self._reads.connect() as conn:
                    token = _READING.set(conn)
                    try:
                        with conn.begin():
                            return fn(*args)
                    finally:
                        _READING.reset(token)
            except DBAPIError as exc:
                if attempt == 1 and exc.connection_invalidated:
                    continue  # SQLAlchemy has invalidated the pool's older connections too
                if isinstance(exc, OperationalError):
                    raise _unavailable(exc) from None
                raise
        raise AssertionError("unreachable: the second attempt returns or raises")

    # -- resources ----------------------------------------------------------------------------
    @staticmethod
    def _record(row: Any) -> Record:
        doc, as_is = loads_checked(row.doc)  # RECORD_COLUMNS read the doc as text
        return Record(
            id=row.id,
            kind=row.kind,
            scope=Scope(row.org, row.sandbox),
            doc=doc,
            secrets=row.secrets,
            etag=row.etag,
            created_at=row.created_at,
            updated_at=row.updated_at,
            renders_as_is=as_is,
        )

    def insert(self, kind: str, scope: Scope, *, id: str, doc: dict[str, Any], secrets: bytes | None = None) -> Record:
        ts = now_ms()
        etag = new_etag()
        with self.begin() as conn:
            conn.execute(
                insert(resources).values(
                    id=id,
                    kind=kind,
                    org=scope.org,
                    sandbox=scope.sandbox,
                    doc=doc,
                    secrets=secrets,
                    etag=etag,
                    created_at=ts,
                    updated_at=ts,
                    **index_keys(kind, doc),
                )
            )
            write_references(conn, kind, scope.org, scope.sandbox, id, ts, doc, created=True)
        return Record(id, kind, scope, doc, secrets, etag, ts, ts)

    def get(self, kind: str, scope: Scope, id: str) -> Record | None:
        with self.begin() as conn:
            found = RESOURCE_BY_ID.first(conn, {"id": id, "kind": kind, "org": scope.org, "sandbox": scope.sandbox})
        return self._record(found) if found else None

    def list(self, kind: str, scope: Scope) -> list[Record]:
        with self.begin() as conn:
            rows = conn.execute(
                select(*RECORD_COLUMNS)
                .where(resources.c.kind == kind, resources.c.org == scope.org, resources.c.sandbox == scope.sandbox)
                .order_by(resources.c.created_at, resources.c.id)
            ).all()
        return [self._record(r) for r in rows]

    def page(self, kind: str, scope: Scope, page: Page) -> builtins.list[Record]:
        """One page of a kind in a sandbox: filtered, ordered and cut in SQL."""
        read, values = RESOURCE_PAGES(page)
        with self.begin() as conn:
            rows = read.rows(conn, {**values, "kind": kind, "org": scope.org, "sandbox": scope.sandbox})
        return [self._record(r) for r in rows]

    def count(self, kind: str, scope: Scope, conds: tuple[Cond, ...] = ()) -> int:
        query = (
            select(func.count())
            .select_from(resources)
            .where(resources.c.kind == kind, resources.c.org == scope.org, resources.c.sandbox == scope.sandbox)
            .where(*conditions(resources, conds))
        )
        with self.begin() as conn:
            return int(conn.execute(query).scalar_one())

    def get_many(self, scope: Scope, ids: builtins.list[str]) -> dict[str, Record]:
        """Resources of any kind by id, in one query (what a page of flows refers to)."""
        if not ids:
            return {}
        params = {"ids": ids_param(ids), "org": scope.org, "sandbox": scope.sandbox}
        with self.begin() as conn:
            rows = resources_by_ids(postgres=self._postgres).rows(conn, params)
        return {r.id: self._record(r) for r in rows}

    def get_fields(
        self, scope: Scope, ids: builtins.list[str], fields: tuple[str, ...]
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """(kind, {field: value}) of resources by id, reading only those top-level doc fields (absent: None;
        two or more)."""
        if not ids:
            return {}
        read = fields_by_ids(fields, postgres=self._postgres)
        params = {"ids": ids_param(ids), "org": scope.org, "sandbox": scope.sandbox}
        with self.begin() as conn:
            rows = read.rows(conn, params)
        return {r.id: (r.kind, dict(zip(fields, r.fields, strict=True))) for r in rows}

    # -- the scheduler's view -----------------------------------------------------------------
    def due_flows(self, now: int, *, limit: int = 5000) -> builtins.list[Record]:
        """Flows whose `next_due_at` has come, across tenants (an index range: idle ticks read nothing)."""
        query = (
            select(*RECORD_COLUMNS)
            .where(resources.c.kind == "flow", resources.c.next_due_at <= now)
            .order_by(resources.c.next_due_at, resources.c.id)
            .limit(limit)
        )
        with self.begin() as conn:
            return [self._record(r) for r in conn.execute(query).all()]

    def set_next_due(self, planned: builtins.list[tuple[str, str, int | None]]) -> None:
        """Store (flow id, etag it was planned from, next due ms or None); a flow changed meanwhile keeps 0."""
        if not planned:
            return
        stmt = (
            update(resources)
            .where(resources.c.id == bindparam("b_id"), resources.c.etag == bindparam("b_etag"))
            .values(next_due_at=bindparam("b_next"))
        )
        with self.begin() as conn:
            conn.execute(stmt, [{"b_id": i, "b_etag": e, "b_next": n} for i, e, n in planned])

    # -- what dataset views show of their tables ----------------------------------------------
    def lake_facts(self, ids: builtins.list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        query = select(resources.c.id, resources.c.lake_facts).where(
            resources.c.id.in_(sorted(set(ids))), resources.c.lake_facts.is_not(None)
        )
        with self.begin() as conn:
            return {r.id: r.lake_facts for r in conn.execute(query).all() if r.lake_facts is not None}

    def save_lake_facts(self, dataset_id: str, facts: dict[str, Any] | None, *, as_of: int) -> None:
        """Keep what a dataset's view shows of its table, unless facts read later are already stored.

        `as_of` is when the lake was read (ns): of two runs committing to one dataset, the facts of
        the later read win whatever order the two writes arrive in.
        """
        with self.begin() as conn:
            conn.execute(
                update(resources)
                .where(
                    resources.c.id == dataset_id,
                    resources.c.kind == "dataSet",
                    or_(resources.c.lake_facts_at.is_(None), resources.c.lake_facts_at <= as_of),
                )
                .values(lake_facts=facts if facts is not None else null(), lake_facts_at=as_of)
            )

    def update(
        self,
        kind: str,
        scope: Scope,
        id: str,
        *,
        doc: dict[str, Any],
        secrets: bytes | None,
        expected_etag: str,
    ) -> Record:
        """Replace a resource if its etag is still `expected_etag` (compare-and-set), else 412."""
        ts = now_ms()
        etag = new_etag()
        with self.begin() as conn:
            result = conn.execute(
                update(resources)
                .where(
                    resources.c.id == id,
                    resources.c.kind == kind,
                    resources.c.org == scope.org,
                    resources.c.sandbox == scope.sandbox,
                    resources.c.etag == expected_etag,
                )
                .values(doc=doc, secrets=secrets, etag=etag, updated_at=ts, **index_keys(kind, doc))
            )
            if result.rowcount != 1:
                raise PreconditionFailed(
                    f"The resource {id} was changed by another request; fetch it again and retry with its new etag."
                )
            created_at = conn.execute(select(resources.c.created_at).where(resources.c.id == id)).scalar_one()
            write_references(conn, kind, scope.org, scope.sandbox, id, created_at, doc, created=False)
        return Record(id, kind, scope, doc, secrets, etag, created_at, ts)

    @staticmethod
    def _delete_row(conn: Connection, kind: str, scope: Scope, id: str) -> bool:
        result = conn.execute(
            delete(resources).where(
                resources.c.id == id,
                resources.c.kind == kind,
                resources.c.org == scope.org,
                resources.c.sandbox == scope.sandbox,
            )
        )
        if result.rowcount and kind == "flow":
            forget_flow(conn, id)
        return bool(result.rowcount)

    def delete(self, kind: str, scope: Scope, id: str) -> bool:
        with self.begin() as conn:
            return self._delete_row(conn, kind, scope, id)

    def delete_unless_used(self, kind: str, scope: Scope, id: str) -> bool:
        """Delete a resource unless a flow uses it (raises InUse), in one transaction; False if absent.

        The row is deleted before the check reads, so the delete holds it: a flow write naming it
        either committed first and is seen, or waits and then finds it gone (store/references.py).
        """
        with self.begin() as conn:
            if not self._delete_row(conn, kind, scope, id):
                return False
            user = first_user(conn, kind, scope.org, scope.sandbox, id)
            if user is not None:
                raise InUse(id, user)  # leaving the block rolls the delete back
        return True
