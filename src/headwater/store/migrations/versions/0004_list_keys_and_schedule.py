"""Lists and the scheduler scale with a page, not a sandbox.

- `resources` gains the key columns that list filters use (name, state, spec id, base connection
  id; lower-cased), `next_due_at` for the scheduler, and `lake_facts` for dataset views; existing
  rows are backfilled (every flow gets next_due_at 0, so the next tick computes it).
- Page order indexes end with `id`, the keyset tie-breaker; runs get a per-sandbox page index and
  one for a flow's newest ended run.

Revision ID: 0004
Revises: 0003
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from headwater.store.keys import index_keys

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS: list[sa.Column[Any]] = [
    sa.Column("name_key", sa.String(255), nullable=True),
    sa.Column("state_key", sa.String(64), nullable=True),
    sa.Column("spec_key", sa.String(64), nullable=True),
    sa.Column("ref_key", sa.String(64), nullable=True),
    sa.Column("next_due_at", sa.BigInteger, nullable=True),
    sa.Column("lake_facts", sa.JSON, nullable=True),
    sa.Column("lake_facts_at", sa.BigInteger, nullable=True),
]
_RESOURCE_INDEXES = {
    "ix_resources_page": ["kind", "org", "sandbox", "created_at", "id"],
    "ix_resources_page_updated": ["kind", "org", "sandbox", "updated_at", "id"],
    "ix_resources_name": ["kind", "org", "sandbox", "name_key"],
    "ix_resources_state": ["kind", "org", "sandbox", "state_key"],
    "ix_resources_spec": ["kind", "org", "sandbox", "spec_key"],
    "ix_resources_ref": ["kind", "org", "sandbox", "ref_key"],
    "ix_resources_due": ["kind", "next_due_at", "id"],
}


def _backfill() -> None:
    conn = op.get_bind()
    resources = sa.table(
        "resources",
        sa.column("id", sa.String),
        sa.column("kind", sa.String),
        sa.column("doc", sa.JSON),
        *(sa.column(c.name, c.type) for c in _COLUMNS[:5]),
    )
    last = ""
    while True:
        rows = conn.execute(
            sa.select(resources.c.id, resources.c.kind, resources.c.doc)
            .where(resources.c.id > last)
            .order_by(resources.c.id)
            .limit(1000)
        ).all()
        if not rows:
            return
        for row in rows:
            conn.execute(sa.update(resources).where(resources.c.id == row.id).values(**index_keys(row.kind, row.doc)))
        last = rows[-1].id


def upgrade() -> None:
    for column in _COLUMNS:
        op.add_column("resources", column)
    _backfill()
    op.drop_index("ix_resources_scope", table_name="resources")
    for name, columns in _RESOURCE_INDEXES.items():
        op.create_index(name, "resources", columns)
    op.drop_index("ix_runs_scope_flow", table_name="runs")
    op.create_index("ix_runs_scope_flow", "runs", ["org", "sandbox", "flow_id", "created_at", "id"])
    op.create_index("ix_runs_scope_page", "runs", ["org", "sandbox", "created_at", "id"])
    op.create_index("ix_runs_flow_ended", "runs", ["flow_id", "status", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_flow_ended", table_name="runs")
    op.drop_index("ix_runs_scope_page", table_name="runs")
    op.drop_index("ix_runs_scope_flow", table_name="runs")
    op.create_index("ix_runs_scope_flow", "runs", ["org", "sandbox", "flow_id", "created_at"])
    for name in _RESOURCE_INDEXES:
        op.drop_index(name, table_name="resources")
    op.create_index("ix_resources_scope", "resources", ["kind", "org", "sandbox", "created_at"])
    with op.batch_alter_table("resources") as batch:
        for column in reversed(_COLUMNS):
            batch.drop_column(column.name)
