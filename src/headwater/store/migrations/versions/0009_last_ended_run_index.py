"""A flow's last ended run and its unfinished runs in index seeks, however many runs it has had.

A page of flows shows each flow's last ended run. The index on (flow_id, status, updated_at) left
the query reading every run of each flow on the page: a flow scheduled every 15 minutes has 35,000
runs after a year. A partial index of the ended runs ordered by (updated_at, id) within a flow
answers "the newest" with one seek. A claim checks the flow's pending and running runs that come
before it; (flow_id, status, scheduled_at, id) finds them without reading the ended ones.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# As `headwater.store.tables.RUNS_ENDED`; a migration keeps its own copy, as it was when it ran.
_ENDED = "status IN ('success', 'failed')"


def upgrade() -> None:
    op.create_index(
        "ix_runs_flow_last_ended",
        "runs",
        ["flow_id", "updated_at", "id"],
        sqlite_where=sa.text(_ENDED),
        postgresql_where=sa.text(_ENDED),
    )
    op.create_index("ix_runs_flow_status", "runs", ["flow_id", "status", "scheduled_at", "id"])
    op.drop_index("ix_runs_flow_ended", table_name="runs")


def downgrade() -> None:
    op.create_index("ix_runs_flow_ended", "runs", ["flow_id", "status", "updated_at"])
    op.drop_index("ix_runs_flow_status", table_name="runs")
    op.drop_index("ix_runs_flow_last_ended", table_name="runs")
