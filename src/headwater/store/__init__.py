"""Metadata store: SQLAlchemy 2 on SQLite (default) or PostgreSQL, schema managed by Alembic."""

from headwater.store.clock import now_ms
from headwater.store.repository import Record, Scope, Store, new_etag

__all__ = ["Record", "Scope", "Store", "new_etag", "now_ms"]
