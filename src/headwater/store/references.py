"""Which flows use a resource, and which target connection uses a dataset, answered by indexes
(`flow_references`; a target connection's `ref_key`) instead of reading every flow or target.

What a write names is derived from its doc in the transaction that writes it, and a delete checks
the indexes in its own transaction after deleting the row, so the check and the delete are one step:

- A resource a write names for the first time (what a flow names; a target connection's dataset, at
  every write of the target) is locked (PostgreSQL `FOR KEY SHARE`) and must still exist: a delete
  that got there first makes the write fail; a delete that comes later waits for the write to
  commit, then sees what it wrote and is refused.
- On SQLite every write statement comes before the reads that depend on it, so the transaction holds
  the database's one write lock while it reads and no other writer can commit in between.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select

from headwater.errors import BadRequest
from headwater.store.keys import referenced_id
from headwater.store.tables import flow_references, resources

# The flow doc fields that name other resources, and the kind each one names.
FLOW_REFERENCE_FIELDS = {"sourceConnectionIds": "sourceConnection", "targetConnectionIds": "targetConnection"}
_FIELD_OF_KIND = {kind: field for field, kind in FLOW_REFERENCE_FIELDS.items()}
_NOUNS = {"sourceConnection": "source connection", "targetConnection": "target connection"}
# An id longer than the resources' id column cannot name a stored resource.
_ID_SIZE = 64


class InUse(Exception):
    """A resource was not deleted because another still uses it (`user_id`, see `first_user`): a flow,
    or for a dataset a target connection."""

    def __init__(self, resource_id: str, user_id: str) -> None:
        super().__init__(f"{resource_id} is used by {user_id}")
        self.resource_id = resource_id
        self.user_id = user_id

    @property
    def flow_id(self) -> str:
        """The user of a connection, which is always a flow."""
        return self.user_id


def flow_reference_pairs(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """The (field, id) pairs a flow doc names; entries that are not ids of a stored size are skipped."""
    pairs: set[tuple[str, str]] = set()
    for field in FLOW_REFERENCE_FIELDS:
        ids = doc.get(field)
        if isinstance(ids, list):
            pairs |= {(field, i) for i in ids if isinstance(i, str) and 0 < len(i) <= _ID_SIZE}
    return pairs


def flow_reference_rows(
    flow_id: str, org: str, sandbox: str, created_at: int, doc: dict[str, Any]
) -> list[dict[str, Any]]:
    """The `flow_references` rows of a flow holding `doc` (the migration's backfill writes the same)."""
    return [
        {
            "flow_id": flow_id,
            "field": field,
            "referenced_id": rid,
            "org": org,
            "sandbox": sandbox,
            "flow_created_at": created_at,
        }
        for field, rid in sorted(flow_reference_pairs(doc))
    ]


def write_flow_references(
    conn: Connection, org: str, sandbox: str, flow_id: str, created_at: int, doc: dict[str, Any], *, created: bool
) -> None:
    """Make a flow's reference rows match `doc`, in the caller's transaction, after the flow's own write."""
    wanted = flow_reference_pairs(doc)
    held: set[tuple[str, str]] = set()
    if not created:
        query = select(flow_references.c.field, flow_references.c.referenced_id).where(
            flow_references.c.flow_id == flow_id
        )
        held = {(r.field, r.referenced_id) for r in conn.execute(query)}
    if wanted == held:
        return
    _hold_named(conn, org, sandbox, wanted - held, draft=doc.get("state") == "draft")
    if held:
        conn.execute(delete(flow_references).where(flow_references.c.flow_id == flow_id))
    if wanted:
        conn.execute(insert(flow_references), flow_reference_rows(flow_id, org, sandbox, created_at, doc))


def _locked(conn: Connection, org: str, sandbox: str, ids: set[str], *columns: Any) -> list[Any]:
    query = (
        select(resources.c.id, resources.c.kind, *columns)
        .where(resources.c.id.in_(sorted(ids)), resources.c.org == org, resources.c.sandbox == sandbox)
        .with_for_update(read=True, key_share=True)
    )
    return list(conn.execute(query))


def _hold_named(conn: Connection, org: str, sandbox: str, added: set[tuple[str, str]], *, draft: bool) -> None:
    """Lock what a flow now names for the rest of the transaction; refuse it if a delete came first.

    The messages are the ones the flow's validation gives, which the write raced past. A source
    connection's base connection is held too, since deleting a base connection looks at the flows
    over its source connections; a draft may sit over a source whose base is gone, as validation
    allows.
    """
    if not added:
        return
    found = {r.id: r for r in _locked(conn, org, sandbox, {rid for _, rid in added}, resources.c.doc)}
    bases: set[str] = set()
    for field, rid in sorted(added):
        kind = FLOW_REFERENCE_FIELDS[field]
        row = found.get(rid)
        if row is None or row.kind != kind:
            raise BadRequest(f"The {_NOUNS[kind]} {rid} is not found in this sandbox.", code="1338")
        base = row.doc.get("baseConnectionId") if kind == "sourceConnection" else None
        if isinstance(base, str):
            bases.add(base)
    if not bases:
        return
    held_bases = {r.id for r in _locked(conn, org, sandbox, bases) if r.kind == "connection"}
    if not draft and bases - held_bases:
        raise BadRequest("The source connection's base connection no longer exists.", code="1338")


def write_references(
    conn: Connection, kind: str, org: str, sandbox: str, resource_id: str, created_at: int, doc: dict[str, Any],
    *, created: bool,
) -> None:  # fmt: skip
    """Keep and hold what a write of `kind` names, in the caller's transaction, after the row's own write."""
    if kind == "flow":
        write_flow_references(conn, org, sandbox, resource_id, created_at, doc, created=created)
    elif kind == "targetConnection":
        dataset = referenced_id(kind, doc)
        if isinstance(dataset, str):
            hold_dataset(conn, org, sandbox, dataset)


def hold_dataset(conn: Connection, org: str, sandbox: str, dataset_id: str) -> None:
    """Lock a target connection's dataset for the rest of the transaction; refuse the write if it is
    gone (a delete came first), with the message the target's validation gives, which it raced past."""
    if not any(r.kind == "dataSet" for r in _locked(conn, org, sandbox, {dataset_id})):
        raise BadRequest(f"The dataset {dataset_id[:64]} is not found in this sandbox.", code="1325")


def forget_flow(conn: Connection, flow_id: str) -> None:
    conn.execute(delete(flow_references).where(flow_references.c.flow_id == flow_id))


def first_user(conn: Connection, kind: str, org: str, sandbox: str, resource_id: str) -> str | None:
    """What in the sandbox uses a resource of `kind`, or None, read off indexes either way.

    A source or target connection is used by a flow that names it (the oldest such flow, the first
    entry of the index); a base connection by a flow that names one of its source connections (any
    such flow); a dataset by the oldest target connection that names it.
    """
    if kind == "dataSet":
        return _target_of(conn, org, sandbox, resource_id)
    refs = flow_references
    if kind in _FIELD_OF_KIND:
        query = (
            select(refs.c.flow_id)
            .where(refs.c.org == org, refs.c.sandbox == sandbox, refs.c.referenced_id == resource_id)
            .where(refs.c.field == _FIELD_OF_KIND[kind])
            .order_by(refs.c.flow_created_at, refs.c.flow_id)
            .limit(1)
        )
        return conn.execute(query).scalar()
    if kind != "connection":
        return None
    # The source connections over the base first (`ref_key` is a source connection's base
    # connection id, lower-cased: store/keys.py), then their ids as values: PostgreSQL plans a
    # lookup of known ids on the index, where a join may scan every reference of the sandbox.
    over_base = select(resources.c.id).where(
        resources.c.kind == "sourceConnection",
        resources.c.org == org,
        resources.c.sandbox == sandbox,
        resources.c.ref_key == resource_id.lower(),
    )
    sources = list(conn.execute(over_base).scalars())
    if not sources:
        return None
    query = (
        select(refs.c.flow_id)
        .where(refs.c.org == org, refs.c.sandbox == sandbox, refs.c.referenced_id.in_(sources))
        .where(refs.c.field == "sourceConnectionIds")
        .limit(1)
    )
    return conn.execute(query).scalar()


def _target_of(conn: Connection, org: str, sandbox: str, dataset_id: str) -> str | None:
    # `ref_key` is a target connection's dataset id lower-cased (store/keys.py): the doc decides.
    query = (
        select(resources.c.id, resources.c.doc)
        .where(resources.c.kind == "targetConnection", resources.c.org == org, resources.c.sandbox == sandbox)
        .where(resources.c.ref_key == dataset_id.lower())
        .order_by(resources.c.created_at, resources.c.id)
    )
    for row in conn.execute(query):
        params = row.doc.get("params") if isinstance(row.doc, dict) else None
        if isinstance(params, dict) and params.get("dataSetId") == dataset_id:
            return str(row.id)
    return None
