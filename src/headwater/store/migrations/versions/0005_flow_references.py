"""Deleting a connection looks up the flows that name it in an index instead of reading every flow.

- `flow_references` holds one row per id in a flow's `sourceConnectionIds` and
  `targetConnectionIds`, indexed by (org, sandbox, referenced id, field, the flow's creation time);
  the store keeps it in the transaction of every flow write (store/references.py).
- Existing flows are backfilled from their docs.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from headwater.store.references import flow_reference_rows

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# By referenced id in a sandbox, then the oldest flow first: a refused delete names that flow.
_INDEX = ["org", "sandbox", "referenced_id", "field", "flow_created_at", "flow_id"]


def _backfill() -> None:
    conn = op.get_bind()
    resources = sa.table(
        "resources",
        sa.column("id", sa.String),
        sa.column("kind", sa.String),
        sa.column("org", sa.String),
        sa.column("sandbox", sa.String),
        sa.column("created_at", sa.BigInteger),
        sa.column("doc", sa.JSON),
    )
    references = sa.table(
        "flow_references",
        sa.column("flow_id", sa.String),
        sa.column("field", sa.String),
        sa.column("referenced_id", sa.String),
        sa.column("org", sa.String),
        sa.column("sandbox", sa.String),
        sa.column("flow_created_at", sa.BigInteger),
    )
    last = ""
    while True:
        flows = conn.execute(
            sa.select(resources.c.id, resources.c.org, resources.c.sandbox, resources.c.created_at, resources.c.doc)
            .where(resources.c.kind == "flow", resources.c.id > last)
            .order_by(resources.c.id)
            .limit(1000)
        ).all()
        if not flows:
            return
        rows = [
            r
            for f in flows
            if isinstance(f.doc, dict)
            for r in flow_reference_rows(f.id, f.org, f.sandbox, f.created_at, f.doc)
        ]
        if rows:
            conn.execute(sa.insert(references), rows)
        last = flows[-1].id


def upgrade() -> None:
    op.create_table(
        "flow_references",
        sa.Column("flow_id", sa.String(64), nullable=False),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("referenced_id", sa.String(64), nullable=False),
        sa.Column("org", sa.String(255), nullable=False),
        sa.Column("sandbox", sa.String(64), nullable=False),
        sa.Column("flow_created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("flow_id", "field", "referenced_id", name="pk_flow_references"),
    )
    _backfill()
    op.create_index("ix_flow_references_referenced", "flow_references", _INDEX)


def downgrade() -> None:
    op.drop_index("ix_flow_references_referenced", table_name="flow_references")
    op.drop_table("flow_references")
