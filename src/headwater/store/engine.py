"""The metadata database's SQLAlchemy engine: SQLite pragmas, or a PostgreSQL pool that survives restarts."""

from __future__ import annotations

import select
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import StaticPool

from headwater.store.json_codec import loads


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite(url, in_memory=parsed.database in (None, "", ":memory:"))
    # No pool_pre_ping: its `SELECT 1` is a round trip on every checkout, which was most of the cost
    # of a short read (bench/load_read.py). A pooled connection whose server went away is found by
    # `_closed_by_server` at checkout instead, without a round trip; one lost later, mid-read, is
    # retried by Store.read; and SQLAlchemy's disconnect handling then replaces the whole pool.
    engine = create_engine(url, pool_size=10, max_overflow=20, json_deserializer=loads)
    event.listen(engine, "checkout", _refuse_closed)
    return engine


def _sqlite(url: str, *, in_memory: bool) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        json_deserializer=loads,
        poolclass=StaticPool if in_memory else None,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # WAL lets readers proceed while a run commits; busy_timeout rides out short write locks.
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return engine


def _closed_by_server(dbapi_conn: Any) -> bool:
    """Whether an idle PostgreSQL connection was ended by its server.

    An idle connection has nothing to read: every answer was read up to its ReadyForQuery. A
    terminated backend sends its FATAL message and closes the socket, a stopped server closes it, so
    a readable (or hung-up) socket means the connection is gone. Polling the socket takes microseconds
    where a ping takes a round trip. A silently lost network path is not seen here; the read retry and
    the statement's own error cover it, as they would have behind a ping.
    """
    try:
        fd = dbapi_conn.fileno()
    except Exception:  # psycopg raises once the connection is closed
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def _refuse_closed(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    if _closed_by_server(dbapi_conn):
        # The pool invalidates this connection and checks out another (a new one if need be).
        raise DisconnectionError("the metadata database closed this pooled connection")
