"""Initial schema: api_clients, resources, runs.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("org", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("secret_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "resources",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("org", sa.String(255), nullable=False),
        sa.Column("sandbox", sa.String(64), nullable=False),
        sa.Column("doc", sa.JSON, nullable=False),
        sa.Column("secrets", sa.LargeBinary, nullable=True),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_resources_scope", "resources", ["kind", "org", "sandbox", "created_at"])
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("org", sa.String(255), nullable=False),
        sa.Column("sandbox", sa.String(64), nullable=False),
        sa.Column("flow_id", sa.String(64), nullable=False),
        sa.Column("scheduled_at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("doc", sa.JSON, nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(255), nullable=True),
        sa.Column("lease_expires_at", sa.BigInteger, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("flow_id", "scheduled_at", name="uq_runs_flow_scheduled"),
    )
    op.create_index("ix_runs_scope_flow", "runs", ["org", "sandbox", "flow_id", "created_at"])
    op.create_index("ix_runs_status", "runs", ["status", "lease_expires_at"])


def downgrade() -> None:
    op.drop_table("runs")
    op.drop_table("resources")
    op.drop_table("api_clients")
