"""list_objects / describe / preview: every readable schema, odd names round-trip, nothing injected."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from psycopg import sql
from pydantic import SecretStr

from headwater.connectors._pg_sql import format_path, parse_path
from headwater.connectors.postgres import PostgresConnector
from headwater.domain import ReadRequest
from headwater.errors import BadRequest, ConfigError, NotFound
from headwater.service.explore_wire import explore_item_json, table_preview_json, table_schema_json

_SUFFIX = uuid.uuid4().hex[:6]
# Uniquely named per run, so concurrent test runs never share a schema.
ODD_NAMES = [
    (f"Sales Data {_SUFFIX}", "Q1 Orders"),
    (f"my.schema.{_SUFFIX}", 'say "hi" now'),
    (f"données_{_SUFFIX}", "tâble ✓ 表"),
    (f"MixedCase{_SUFFIX}", "UPPER"),
    (f"semi_{_SUFFIX}", 'x"; DROP TABLE victim; --'),
    (f"semi_{_SUFFIX}", "/* c */ t'quote"),
]


def test_lists_tables_views_and_partitioned_tables(schema: Any, connector: PostgresConnector, auth: Any) -> None:
    schema.execute("CREATE TABLE {s}.plain (id int)")
    schema.execute("CREATE VIEW {s}.a_view AS SELECT id FROM {s}.plain")
    schema.execute("CREATE MATERIALIZED VIEW {s}.a_matview AS SELECT id FROM {s}.plain")
    schema.execute("CREATE TABLE {s}.parted (id int, d date) PARTITION BY RANGE (d)")
    schema.execute(
        "CREATE TABLE {s}.parted_2024 PARTITION OF {s}.parted FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
    )
    paths = {o.path for o in connector.list_objects(auth)}
    mine = {p for p in paths if p.startswith(schema.name + ".")}
    # Partitions are read through their parent, so only the parent is listed.
    assert mine == {schema.path(t) for t in ("plain", "a_view", "a_matview", "parted")}
    assert not any(p.startswith(("pg_catalog.", "information_schema.", "pg_toast")) for p in paths)
    item = next(o for o in connector.list_objects(auth) if o.path == schema.path("a_view"))
    assert explore_item_json(item)["canPreview"] is True


def test_odd_names_round_trip(schema: Any, connector: PostgresConnector, auth: Any) -> None:
    conn = schema.conn
    victim = sql.Identifier(schema.name, "victim")
    schemas = {s for s, _ in ODD_NAMES}
    try:
        for s in schemas:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(s)))
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(s)))
        conn.execute(sql.SQL("CREATE TABLE {} (id int)").format(victim))
        for s, t in ODD_NAMES:
            conn.execute(
                sql.SQL('CREATE TABLE {}.{} ({} int, "Näme ""q""" text)').format(
                    sql.Identifier(s), sql.Identifier(t), sql.Identifier("c'); DELETE FROM victim; --")
                )
            )
            conn.execute(sql.SQL("INSERT INTO {}.{} VALUES (1, 'one')").format(sql.Identifier(s), sql.Identifier(t)))
        listed = {o.path for o in connector.list_objects(auth)}
        for s, t in ODD_NAMES:
            path = format_path(s, t)
            assert path in listed
            assert parse_path(path) == (s, t)
            described = connector.describe(auth, path)
            assert [c.name for c in described.columns] == ["c'); DELETE FROM victim; --", 'Näme "q"']
            assert connector.preview(auth, path).rows == [{"c'); DELETE FROM victim; --": 1, 'Näme "q"': "one"}]
            batches = list(connector.read(auth, ReadRequest(table=path, columns=('Näme "q"',))))
            assert [r for b in batches for r in b.to_pylist()] == [{'Näme "q"': "one"}]
        conn.execute(sql.SQL("SELECT count(*) FROM {}").format(victim))  # still there
    finally:
        for s in schemas:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(s)))


def test_path_grammar() -> None:
    assert format_path("public", "orders") == "public.orders"
    assert format_path("a.b", 'c"d') == '"a.b"."c""d"'
    assert parse_path("orders") == ("public", "orders")
    assert parse_path(" spaced . name ") == (" spaced ", " name ")
    for bad in ["", "a.b.c", '"unterminated.x', '"a"b.c', "a.", ".b", "x\x00y"]:
        with pytest.raises(BadRequest):
            parse_path(bad)


@pytest.mark.parametrize(
    "path",
    [
        "nosuchschema_zz.t",
        'public."x; DROP TABLE pg_class; --"',
        "public.x' OR '1'='1",
        'pg_catalog.pg_authid"; --',
    ],
)
def test_unknown_or_hostile_table_is_not_found(connector: PostgresConnector, auth: Any, path: str) -> None:
    with pytest.raises((NotFound, BadRequest)):
        connector.describe(auth, path)
    with pytest.raises((NotFound, BadRequest)):
        connector.preview(auth, path)
    with pytest.raises((ConfigError, BadRequest)):
        list(connector.read(auth, ReadRequest(table=path)))


def test_unknown_table_is_404(schema: Any, connector: PostgresConnector, auth: Any) -> None:
    with pytest.raises(NotFound) as info:
        connector.describe(auth, schema.path("missing"))
    assert info.value.status == 404


def test_injection_in_column_selection_and_window(schema: Any, connector: PostgresConnector, auth: Any) -> None:
    schema.execute("CREATE TABLE {s}.t (id int, v text)")
    schema.execute("INSERT INTO {s}.t VALUES (1, 'a'), (2, 'b')")
    for hostile in ['id" FROM pg_authid; --', "id; DROP TABLE x", "v)"]:
        with pytest.raises(ConfigError, match="not in table"):
            list(connector.read(auth, ReadRequest(table=schema.path("t"), columns=(hostile,))))
    # A window value is rendered as a quoted literal, never as SQL.
    from headwater.domain import DeltaWindow

    window = DeltaWindow(column="v", start="a' OR '1'='1")
    rows = [r for b in connector.read(auth, ReadRequest(table=schema.path("t"), window=window)) for r in b.to_pylist()]
    assert rows == [{"id": 2, "v": "b"}]


@pytest.fixture
def limited_role(schema: Any) -> Iterator[str]:
    role = f"hw_limited_{uuid.uuid4().hex[:8]}"
    schema.conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        yield role
    finally:
        schema.conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        schema.conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_only_readable_tables_are_listed(
    schema: Any, connector: PostgresConnector, make_local_auth: Any, limited_role: str
) -> None:
    schema.execute("CREATE TABLE {s}.granted (id int)")
    schema.execute("CREATE TABLE {s}.secret (id int)")
    schema.conn.execute(
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema.name), sql.Identifier(limited_role))
    )
    schema.conn.execute(
        sql.SQL("GRANT SELECT ON {}.granted TO {}").format(sql.Identifier(schema.name), sql.Identifier(limited_role))
    )
    auth = make_local_auth(username=limited_role, password=SecretStr("unused"))
    mine = [o.path for o in connector.list_objects(auth) if o.path.startswith(schema.name)]
    assert mine == [schema.path("granted")]
    with pytest.raises(NotFound):
        connector.describe(auth, schema.path("secret"))


def test_describe_maps_source_and_platform_types(schema: Any, connector: PostgresConnector, auth: Any) -> None:
    schema.execute(
        "CREATE TABLE {s}.t (id bigint NOT NULL, n numeric(12,2), big numeric(30,4), v varchar(10), ts timestamptz,"
        " d date, b boolean, f double precision, tags text[])"
    )
    got = {c["name"]: c for c in table_schema_json(connector.describe(auth, schema.path("t")))["schema"]["columns"]}
    assert got["id"]["type"] == "long" and got["id"]["meta"] == {"originalType": "bigint"}
    assert got["n"]["type"] == "double" and got["n"]["meta"]["originalType"] == "numeric(12,2)"
    assert got["big"]["type"] == "string"
    assert got["v"]["type"] == "string" and got["v"]["meta"]["originalType"] == "character varying(10)"
    assert got["ts"]["xdm"] == {"type": "string", "format": "date-time"}
    assert got["d"]["xdm"] == {"type": "string", "format": "date"}
    assert got["b"]["type"] == "boolean" and got["f"]["type"] == "double"
    assert got["tags"]["xdm"]["type"] == "array"
    schema_ = connector.describe(auth, schema.path("t"))
    assert schema_.column("id") is not None and schema_.column("id").nullable is False  # type: ignore[union-attr]


def test_preview_is_json_ready(schema: Any, connector: PostgresConnector, auth: Any) -> None:
    schema.execute(
        "CREATE TABLE {s}.t (id int, n numeric(10,2), by bytea, d date, tz timestamptz, j jsonb, a int[], u uuid)"
    )
    schema.execute(
        "INSERT INTO {s}.t SELECT g, g + 0.5, '\\x00ff', DATE '2024-02-29', TIMESTAMPTZ '2024-02-29 10:00:00+02',"
        " '{\"k\": [1, 2]}', ARRAY[g, NULL], 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' FROM generate_series(1, 250) g"
    )
    preview = connector.preview(auth, schema.path("t"), limit=3)
    assert len(preview.rows) == 3
    json.dumps(table_preview_json(preview))
    first = preview.rows[0]
    assert first == {
        "id": 1,
        "n": "1.50",
        "by": "AP8=",
        "d": "2024-02-29",
        "tz": "2024-02-29T08:00:00+00:00",
        "j": '{"k": [1, 2]}',
        "a": [1, None],
        "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    }
    assert len(connector.preview(auth, schema.path("t")).rows) == 100


def test_preview_of_dates_python_cannot_hold(schema: Any, connector: PostgresConnector, auth: Any) -> None:
    schema.execute("CREATE TABLE {s}.t (id int, d date, ts timestamptz)")
    schema.execute(
        "INSERT INTO {s}.t VALUES (1, '4713-01-01 BC', '2024-01-01Z'), (2, '2024-01-01', '12000-01-01Z'),"
        " (3, '5874897-12-31', NULL)"
    )
    rows = sorted(connector.preview(auth, schema.path("t")).rows, key=lambda r: r["id"])
    # ISO 8601's expanded form: astronomical years (-4712 is 4713 BC), signed beyond four digits.
    assert [r["d"] for r in rows] == ["-4712-01-01", "2024-01-01", "+5874897-12-31"]
    assert [r["ts"] for r in rows] == ["2024-01-01T00:00:00+00:00", "+12000-01-01T00:00:00+00:00", None]
    json.dumps(rows)
