"""API clients can be revoked; the derivable local credentials of older versions are revoked.

Before this revision `headwater token --org X` stored a client `local-` + sha256(org)[:16] whose
secret was the client id + "!", so anyone knowing an org id could exchange it for a token. Those
rows are revoked here: their tokens stop working and their secret can no longer be exchanged.

Revision ID: 0002
Revises: 0001
"""

import hashlib
import time

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_clients") as batch:
        batch.add_column(sa.Column("revoked_at", sa.BigInteger, nullable=True))
    clients = sa.table(
        "api_clients",
        sa.column("client_id", sa.String),
        sa.column("org", sa.String),
        sa.column("name", sa.String),
        sa.column("revoked_at", sa.BigInteger),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(clients.c.client_id, clients.c.org).where(clients.c.name == "local")).all()
    derivable = [
        r.client_id for r in rows if r.client_id == "local-" + hashlib.sha256(r.org.encode("utf-8")).hexdigest()[:16]
    ]
    if derivable:
        conn.execute(
            sa.update(clients).where(clients.c.client_id.in_(derivable)).values(revoked_at=int(time.time() * 1000))
        )


def downgrade() -> None:
    with op.batch_alter_table("api_clients") as batch:
        batch.drop_column("revoked_at")
