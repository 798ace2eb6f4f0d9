"""Metadata store: SQLAlchemy 2 on SQLite (default) or PostgreSQL, schema managed by Alembic."""

from headwater.store.repository import Record, Scope, Store, new_etag, now_ms

__all__ = ["Record", "Scope", "Store", "new_etag", "now_ms"]
