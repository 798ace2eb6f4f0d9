"""Store tables (SQLAlchemy Core). The schema is owned by Alembic migrations in `migrations/`."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    text,
)

metadata = MetaData()

# The runs a flow shows as its last run (succeeded or failed), as the partial index on them states it.
RUNS_ENDED = "status IN ('success', 'failed')"

# API credentials for the token endpoint; only a salted hash of the secret is kept. A revoked
# client (revoked_at set, epoch ms) can neither get nor use tokens; the row stays for the audit trail.
api_clients = Table(
    "api_clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("org", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("secret_hash", String(255), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
)

# Every Flow Service instance resource (connection, sourceConnection, targetConnection, flow,
# dataSet, mappingSet) is one row: the public JSON in `doc`, secrets encrypted in `secrets`.
# The `*_key` columns are lower-cased copies of doc fields that lists filter on (store/keys.py), so
# filters run on indexes; `name_order` is the name as lists order it, which the database computes
# from the doc (migration 0007; the store never writes it); `next_due_at` is when the scheduler
# looks at a flow next (0: as soon as it can, NULL: never until the flow changes); `lake_facts` is
# what a dataset's view shows of its table.
resources = Table(
    "resources",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("org", String(255), nullable=False),
    Column("sandbox", String(64), nullable=False),
    Column("doc", JSON, nullable=False),
    Column("secrets", LargeBinary, nullable=True),
    Column("etag", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("name_key", String(255), nullable=True),
    Column("state_key", String(64), nullable=True),
    Column("spec_key", String(64), nullable=True),
    Column("ref_key", String(64), nullable=True),
    Column("next_due_at", BigInteger, nullable=True),
    Column("lake_facts", JSON, nullable=True),
    Column("lake_facts_at", BigInteger, nullable=True),
    Column("name_order", String(256), nullable=True),
    Index("ix_resources_page", "kind", "org", "sandbox", "created_at", "id"),
    Index("ix_resources_page_updated", "kind", "org", "sandbox", "updated_at", "id"),
    Index("ix_resources_name", "kind", "org", "sandbox", "name_key"),
    Index("ix_resources_name_order", "kind", "org", "sandbox", "name_order", "id"),
    Index("ix_resources_state", "kind", "org", "sandbox", "state_key"),
    Index("ix_resources_spec", "kind", "org", "sandbox", "spec_key"),
    Index("ix_resources_ref", "kind", "org", "sandbox", "ref_key"),
    Index("ix_resources_due", "kind", "next_due_at", "id"),
)

# What each flow names: one row per id in its `sourceConnectionIds` or `targetConnectionIds`
# (`field`), derived from the flow's doc in the transaction that writes the flow
# (store/references.py). Deleting a connection asks this index whether a flow still names it,
# instead of reading every flow of the sandbox; the flow's creation time ends the index so that
# the oldest such flow, which a refusal names, is its first entry.
flow_references = Table(
    "flow_references",
    metadata,
    Column("flow_id", String(64), nullable=False),
    Column("field", String(32), nullable=False),
    Column("referenced_id", String(64), nullable=False),
    Column("org", String(255), nullable=False),
    Column("sandbox", String(64), nullable=False),
    Column("flow_created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("flow_id", "field", "referenced_id", name="pk_flow_references"),
    Index("ix_flow_references_referenced", "org", "sandbox", "referenced_id", "field", "flow_created_at", "flow_id"),
)

# Flow runs. (flow_id, scheduled_at) is unique so two schedulers never create the same run twice.
runs = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org", String(255), nullable=False),
    Column("sandbox", String(64), nullable=False),
    Column("flow_id", String(64), nullable=False),
    Column("scheduled_at", BigInteger, nullable=False),
    Column("status", String(32), nullable=False),
    Column("doc", JSON, nullable=False),
    Column("etag", String(64), nullable=False),
    Column("attempt", Integer, nullable=False, default=0),
    Column("lease_owner", String(255), nullable=True),
    Column("lease_expires_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("flow_id", "scheduled_at", name="uq_runs_flow_scheduled"),
    Index("ix_runs_scope_flow", "org", "sandbox", "flow_id", "created_at", "id"),
    Index("ix_runs_scope_page", "org", "sandbox", "created_at", "id"),
    # Each flow's newest ended run in one seek, however many runs it has had (runs/ledger_reads.py).
    Index(
        "ix_runs_flow_last_ended",
        "flow_id",
        "updated_at",
        "id",
        sqlite_where=text(RUNS_ENDED),
        postgresql_where=text(RUNS_ENDED),
    ),
    Index("ix_runs_status", "status", "lease_expires_at"),
    # A flow's unfinished runs, which a claim checks (runs/ledger.py), without reading its history.
    Index("ix_runs_flow_status", "flow_id", "status", "scheduled_at", "id"),
)


# A running run's staged progress (runs/staging_store.py): one row per finished (or partly read)
# unit of its read with the files it wrote, and one (`unit_key` '') for the plan; deleted in the
# transaction that ends the run.
run_units = Table(
    "run_units",
    metadata,
    Column("run_id", String(64), nullable=False),
    Column("unit_key", String(512), nullable=False),
    Column("doc", JSON, nullable=False),
    PrimaryKeyConstraint("run_id", "unit_key", name="pk_run_units"),
)
