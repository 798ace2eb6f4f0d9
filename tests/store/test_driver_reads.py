"""Hot reads on the driver's cursor (store/driver_reads.py) return what SQLAlchemy's execution returns,
on SQLite and PostgreSQL: the same rows and values, errors wrapped and connections invalidated the
same way, cursor events seen; statements whose text changes per execution are refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    cast,
    event,
    select,
)
from sqlalchemy.exc import DBAPIError

from headwater.store import Store
from headwater.store.driver_reads import DriverRead

metadata = MetaData()
values = Table(
    "hw_driver_read_values",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("big", BigInteger),
    Column("name", String(40)),
    Column("body", Text),
    Column("doc", JSON),
    Column("blob", LargeBinary),
    Column("flag", Boolean),
    Column("ratio", Float),
)
ROWS: list[dict[str, Any]] = [
    {
        "id": 1,
        "big": 2**62,
        "name": "é ünï",
        "body": "x" * 5000,
        "doc": {"a": [1, 2.5, None, "s"], "b": {"c": True}},
        "blob": b"\x00\xff" * 10,
        "flag": True,
        "ratio": 0.1,
    },
    {"id": 2, "big": -(2**63), "name": "", "body": "", "doc": [], "blob": b"", "flag": False, "ratio": -1e300},
    {"id": 3, "big": None, "name": None, "body": None, "doc": None, "blob": None, "flag": None, "ratio": None},
]


@pytest.fixture
def table_store(store: Store) -> Iterator[Store]:
    metadata.create_all(store.engine)
    with store.engine.begin() as conn:
        conn.execute(values.insert(), ROWS)
    yield store
    metadata.drop_all(store.engine)


def _both(store: Store, stmt: Any, params: dict[str, Any]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with store.engine.connect() as conn:
        expected = [tuple(r) for r in conn.execute(stmt, params).all()]
        got = [tuple(r) for r in DriverRead(stmt).rows(conn, params)]
    return expected, got


def test_every_type_comes_back_as_sqlalchemy_returns_it(table_store: Store) -> None:
    stmt = select(values).order_by(values.c.id)
    expected, got = _both(table_store, stmt, {})
    assert got == expected
    assert got[0][4] == ROWS[0]["doc"] and got[0][5] == ROWS[0]["blob"] and got[0][6] is True  # decoded, converted
    assert all(
        type(g) is type(e)
        for g_row, e_row in zip(got, expected, strict=True)
        for g, e in zip(g_row, e_row, strict=True)
    )


def test_bound_values_are_converted_by_their_types_and_literals_kept(table_store: Store) -> None:
    doc_text = cast(values.c.doc, Text).label("doc_text")
    stmt = (
        select(values.c.id, values.c.name.label("renamed"), doc_text)
        .where(
            values.c.ratio > bindparam("low", type_=Float),
            values.c.flag == bindparam("flag", type_=Boolean),
            values.c.name != "never this literal",
        )
        .order_by(values.c.id)
    )
    for params in ({"low": -1.0, "flag": True}, {"low": -2e300, "flag": False}, {"low": 5.0, "flag": True}):
        expected, got = _both(table_store, stmt, params)
        assert got == expected
    with table_store.engine.connect() as conn:
        row = DriverRead(stmt).first(conn, {"low": -1.0, "flag": True})
        with pytest.raises(ValueError, match=r"a value is required for \[.flag.\]"):
            DriverRead(stmt).rows(conn, {"low": -1.0})
    assert row is not None and row.id == 1 and row.renamed == "é ünï"  # rows are named by their labels


def test_a_statement_whose_text_changes_per_execution_is_refused(table_store: Store) -> None:
    expanding = select(values.c.id).where(values.c.id.in_(bindparam("ids", expanding=True)))
    literal_in = select(values.c.id).where(values.c.id.in_([1, 2]))  # rendered as an expanding IN
    with table_store.engine.connect() as conn:
        for stmt in (expanding, literal_in):
            with pytest.raises(ValueError, match=r"expanding|same at every execution"):
                DriverRead(stmt).rows(conn, {"ids": [1]})


def test_driver_errors_are_wrapped_as_sqlalchemy_wraps_them(table_store: Store) -> None:
    missing = Table("hw_driver_read_missing", MetaData(), Column("id", Integer))
    with table_store.engine.connect() as conn, pytest.raises(DBAPIError) as caught:
        DriverRead(select(missing.c.id)).rows(conn, {})
    assert "hw_driver_read_missing" in str(caught.value)


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)  # SQLite has no server to end it
def test_a_connection_the_server_ended_is_invalidated(table_store: Store) -> None:
    read = DriverRead(select(values.c.id).order_by(values.c.id))
    with table_store.engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with table_store.engine.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        with pytest.raises(DBAPIError) as caught:
            read.rows(conn, {})
        assert caught.value.connection_invalidated
    with table_store.engine.connect() as conn:  # the pool hands out a working connection again
        assert [r.id for r in read.rows(conn, {})] == [1, 2, 3]


def test_cursor_events_see_driver_reads(table_store: Store) -> None:
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(table_store.engine, "before_cursor_execute", before)
    try:
        with table_store.engine.connect() as conn:
            DriverRead(select(values.c.id)).rows(conn, {})
    finally:
        event.remove(table_store.engine, "before_cursor_execute", before)
    assert len(seen) == 1 and "hw_driver_read_values" in seen[0]


def test_an_error_sqlalchemy_counts_as_a_lost_connection_invalidates_it(table_store: Store) -> None:
    """The wrapped error reaches the caller (Store.read retries on it), not the closed cursor's own."""

    def lost(context: Any) -> None:
        context.is_disconnect = True

    missing = Table("hw_driver_read_missing", MetaData(), Column("id", Integer))
    event.listen(table_store.engine, "handle_error", lost)
    try:
        with table_store.engine.connect() as conn:
            with pytest.raises(DBAPIError) as caught:
                DriverRead(select(missing.c.id)).rows(conn, {})
            assert caught.value.connection_invalidated and conn.invalidated
    finally:
        event.remove(table_store.engine, "handle_error", lost)


def test_a_read_outside_a_transaction_begins_one_sqlalchemy_knows_of(table_store: Store) -> None:
    read = DriverRead(select(values.c.id).order_by(values.c.id))
    with table_store.engine.connect() as conn:
        assert not conn.in_transaction()
        assert [r.id for r in read.rows(conn, {})] == [1, 2, 3]
        assert conn.in_transaction()  # so its rollback or commit ends the driver's transaction
        conn.rollback()
        if table_store.engine.dialect.name == "postgresql":
            status = conn.connection.dbapi_connection.info.transaction_status  # type: ignore[union-attr]
            assert status.name == "IDLE", status
