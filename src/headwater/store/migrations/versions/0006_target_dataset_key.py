"""A target connection's dataset is its `ref_key`, so deleting a dataset finds the target connection
that names it in an index instead of reading every target connection of the sandbox.

Target connections have no base connection, so the column was always NULL for them; existing rows
are backfilled from their docs (store/keys.py `referenced_id`).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from headwater.store.keys import index_keys

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_resources = sa.table(
    "resources",
    sa.column("id", sa.String),
    sa.column("kind", sa.String),
    sa.column("doc", sa.JSON),
    sa.column("ref_key", sa.String),
)


def _set_keys(target_keys: bool) -> None:
    conn = op.get_bind()
    last = ""
    while True:
        rows = conn.execute(
            sa.select(_resources.c.id, _resources.c.doc)
            .where(_resources.c.kind == "targetConnection", _resources.c.id > last)
            .order_by(_resources.c.id)
            .limit(1000)
        ).all()
        if not rows:
            return
        for row in rows:
            key = (
                index_keys("targetConnection", row.doc)["ref_key"]
                if target_keys and isinstance(row.doc, dict)
                else None
            )
            conn.execute(sa.update(_resources).where(_resources.c.id == row.id).values(ref_key=key))
        last = rows[-1].id


def upgrade() -> None:
    _set_keys(True)


def downgrade() -> None:
    _set_keys(False)
