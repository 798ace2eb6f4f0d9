"""Statements of the reads every request makes, built once.

Building and coercing a `select` per call costs more than SQLite's indexed lookup itself (measured in
process: a resource by id 0.49 -> 0.13 ms, the token's client 0.34 -> 0.17 ms); a prebuilt statement
with bound parameters is also found in SQLAlchemy's compiled cache at once. They select only what a
`Record` holds, its doc as text: `Store._record` decodes it and learns at once whether it renders as
is (store/json_codec.py).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import JSON, ColumnElement, String, Text, any_, bindparam, cast, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY

from headwater.store.paging import PagedStatements
from headwater.store.tables import api_clients, resources

RECORD_COLUMNS = (
    resources.c.id,
    resources.c.kind,
    resources.c.org,
    resources.c.sandbox,
    cast(resources.c.doc, Text).label("doc"),
    resources.c.secrets,
    resources.c.etag,
    resources.c.created_at,
    resources.c.updated_at,
)
RESOURCE_BY_ID = select(*RECORD_COLUMNS).where(
    resources.c.id == bindparam("id"),
    resources.c.kind == bindparam("kind"),
    resources.c.org == bindparam("org"),
    resources.c.sandbox == bindparam("sandbox"),
)
RESOURCE_PAGES = PagedStatements(
    resources,
    select(*RECORD_COLUMNS).where(
        resources.c.kind == bindparam("kind"),
        resources.c.org == bindparam("org"),
        resources.c.sandbox == bindparam("sandbox"),
    ),
)
RESOURCES_BY_IDS = select(*RECORD_COLUMNS).where(
    resources.c.id.in_(bindparam("ids", expanding=True)),
    resources.c.org == bindparam("org"),
    resources.c.sandbox == bindparam("sandbox"),
)
# PostgreSQL's form: one array parameter, so the statement's text is the same whatever the number of
# ids (an expanding IN is rendered anew per call, ~0.2-0.4 ms for a page of flows' 40 references).
RESOURCES_BY_ID_ARRAY = select(*RECORD_COLUMNS).where(
    resources.c.id == any_(bindparam("ids", type_=ARRAY(String))),
    resources.c.org == bindparam("org"),
    resources.c.sandbox == bindparam("sandbox"),
)


def doc_values(doc: Any, paths: tuple[tuple[str, ...], ...], *, postgres: bool) -> ColumnElement[Any]:
    """The values at `paths` of a JSON column, as one JSON array the database builds: one value to decode
    per row however many fields are read (decoding was most of the cost of reading a few small fields)."""
    if len(paths) < 2:
        raise ValueError("SQLite's json_extract answers a single path with the bare value: read two or more")
    if postgres:
        return func.json_build_array(*(doc[path] for path in paths), type_=JSON)
    quoted = ["$" + "".join(f'."{key}"' for key in path) for path in paths]
    return func.json_extract(doc, *(literal(q) for q in quoted), type_=JSON)


@functools.cache
def fields_by_ids(fields: tuple[str, ...], *, postgres: bool) -> Any:
    """Id, kind and some top-level doc fields (an array, in order) of resources by id (BY_IDS' forms):
    the database extracts them, so docs only referred to (a page of flows' connections) are not decoded."""
    by_id = (
        resources.c.id == any_(bindparam("ids", type_=ARRAY(String)))
        if postgres
        else resources.c.id.in_(bindparam("ids", expanding=True))
    )
    values = doc_values(resources.c.doc, tuple((name,) for name in fields), postgres=postgres).label("fields")
    return select(resources.c.id, resources.c.kind, values).where(
        by_id, resources.c.org == bindparam("org"), resources.c.sandbox == bindparam("sandbox")
    )


CLIENT_STATE = select(api_clients.c.org, api_clients.c.revoked_at).where(
    api_clients.c.client_id == bindparam("client_id")
)
