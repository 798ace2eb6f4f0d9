"""API clients of the token endpoint: only a salted hash of each secret is kept (the `Store`'s part)."""

from __future__ import annotations

import builtins
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, insert, select, update

from headwater.store.clock import now_ms
from headwater.store.statements import CLIENT_STATE
from headwater.store.tables import api_clients


class ClientStore:
    """The `api_clients` rows; `begin` is the store's transaction."""

    def begin(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def add_client(self, *, client_id: str, org: str, name: str, secret_hash: str) -> None:
        with self.begin() as conn:
            conn.execute(
                insert(api_clients).values(
                    client_id=client_id, org=org, name=name, secret_hash=secret_hash, created_at=now_ms()
                )
            )

    def get_client(self, client_id: str) -> dict[str, Any] | None:
        with self.begin() as conn:
            row = conn.execute(select(api_clients).where(api_clients.c.client_id == client_id)).mappings().first()
        return dict(row) if row else None

    def client_is_active(self, client_id: str, org: str) -> bool:
        """Whether a token's client still exists for that org and is not revoked (a primary-key read)."""
        with self.begin() as conn:
            row = CLIENT_STATE.first(conn, {"client_id": client_id})
        return row is not None and row.org == org and row.revoked_at is None

    def list_clients(self, org: str | None = None) -> builtins.list[dict[str, Any]]:
        """Every API client (of one org if given), oldest first, without its secret hash."""
        cols = [c for c in api_clients.c if c.name != "secret_hash"]
        query = select(*cols).order_by(api_clients.c.created_at, api_clients.c.client_id)
        if org is not None:
            query = query.where(api_clients.c.org == org)
        with self.begin() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def revoke_client(self, client_id: str) -> bool:
        """Mark a client revoked (the first revocation time is kept); False if there is no such client."""
        with self.begin() as conn:
            conn.execute(
                update(api_clients)
                .where(api_clients.c.client_id == client_id, api_clients.c.revoked_at.is_(None))
                .values(revoked_at=now_ms())
            )
            found = conn.execute(select(api_clients.c.client_id).where(api_clients.c.client_id == client_id)).first()
        return found is not None

    def set_client_secret_hash(self, client_id: str, *, old: str, new: str) -> None:
        """Replace a secret hash if it is still `old` (upgrading a hash scheme after a good exchange)."""
        with self.begin() as conn:
            conn.execute(
                update(api_clients)
                .where(api_clients.c.client_id == client_id, api_clients.c.secret_hash == old)
                .values(secret_hash=new)
            )
