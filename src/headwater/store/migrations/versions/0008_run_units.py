"""A run's staged progress in rows of its own: recording a finished chunk writes that chunk only.

Until now the staging (the plan and every finished unit with its files) was part of the run's
document, rewritten whole at every chunk and at every progress report: O(chunks²) bytes over a
run of a large table. `run_units` holds one row per unit, plus one (`unit_key` '') for the plan.
Runs in flight during the upgrade keep the staging in their document; they are resumed from it.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_units",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("unit_key", sa.String(512), nullable=False),
        sa.Column("doc", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "unit_key", name="pk_run_units"),
    )


def downgrade() -> None:
    op.drop_table("run_units")
