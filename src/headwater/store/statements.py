"""Statements of the reads every request makes, built once.

Building and coercing a `select` per call costs more than SQLite's indexed lookup itself (measured in
process: a resource by id 0.49 -> 0.13 ms, the token's client 0.34 -> 0.17 ms); a prebuilt statement
with bound parameters is also found in SQLAlchemy's compiled cache at once. They select only what a
`Record` holds, its doc as text: `Store._record` decodes it and learns at once whether it renders as
is (store/json_codec.py).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, ColumnElement, String, Text, bindparam, cast, func, literal, select

from headwater.store.driver_reads import DriverRead
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
RESOURCE_BY_ID = DriverRead(
    select(*RECORD_COLUMNS).where(
        resources.c.id == bindparam("id"),
        resources.c.kind == bindparam("kind"),
        resources.c.org == bindparam("org"),
        resources.c.sandbox == bindparam("sandbox"),
    )
)
RESOURCE_PAGES = PagedStatements(
    resources,
    select(*RECORD_COLUMNS).where(
        resources.c.kind == bindparam("kind"),
        resources.c.org == bindparam("org"),
        resources.c.sandbox == bindparam("sandbox"),
    ),
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


def ids_table(param: str, *, postgres: bool) -> Any:
    """The ids asked about (a page of flows, what it names, a tick's due flows) as a table of one column,
    `value`, from one JSON array parameter (`ids_param`): one statement for any number of ids, with no
    list of placeholders to expand per execution."""
    ids = bindparam(param, type_=String)
    if postgres:
        return func.json_array_elements_text(cast(ids, JSON)).table_valued("value").alias(f"{param}_table")
    return func.json_each(ids).table_valued("value").alias(f"{param}_table")


def ids_param(ids: Iterable[str]) -> str:
    """The value of an `ids_table` parameter: one JSON array of distinct ids."""
    return json.dumps(sorted(set(ids)))


def _by_ids(*columns: Any, postgres: bool) -> DriverRead:
    """`columns` of a sandbox's resources by id (`ids`, an `ids_param`)."""
    ids = ids_table("ids", postgres=postgres)
    return DriverRead(
        select(*columns).where(
            resources.c.id.in_(select(ids.c.value)),
            resources.c.org == bindparam("org"),
            resources.c.sandbox == bindparam("sandbox"),
        )
    )


@functools.cache
def resources_by_ids(*, postgres: bool) -> DriverRead:
    """Whole records of resources by id."""
    return _by_ids(*RECORD_COLUMNS, postgres=postgres)


@functools.cache
def fields_by_ids(fields: tuple[str, ...], *, postgres: bool) -> DriverRead:
    """Id, kind and some top-level doc fields (an array, in order) of resources by id: the database
    extracts them, so docs only referred to (a page of flows' connections) are not decoded."""
    values = doc_values(resources.c.doc, tuple((name,) for name in fields), postgres=postgres).label("fields")
    return _by_ids(resources.c.id, resources.c.kind, values, postgres=postgres)


CLIENT_STATE = DriverRead(
    select(api_clients.c.org, api_clients.c.revoked_at).where(api_clients.c.client_id == bindparam("client_id"))
)
