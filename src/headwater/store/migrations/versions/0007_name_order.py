"""Lists ordered by name page in SQL: `resources.name_order`, the name as lists order it, and an index.

A list's name order is case-sensitive, by code point, missing names first, ties by id
(service/_query.py `position_of`); the lower-cased `name_key` cannot give it. `name_order` is a
column the database computes from the doc on every write (so every writer and every existing row
has it without a backfill loop), encoded as store/keys.py `name_order` describes. PostgreSQL
compares it with the "C" collation, byte order of UTF-8, which is code-point order; SQLite's default
BINARY collation on its UTF-8 text is the same.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Both expressions must agree with store/keys.py `name_order` (tests/store/test_migration_0007.py).
# On PostgreSQL `doc` is `json`: a name holding an escaped NUL cannot become text, so it is marked
# unordered by its raw JSON before `->>` would fail the write. SQLite stores what Python's encoder
# writes, which may hold NaN or Infinity (not JSON): its JSON functions would fail the write, so such a
# doc is marked unordered first.
_POSTGRESQL = """
CASE
  WHEN json_typeof(doc -> 'name') IS NULL OR json_typeof(doc -> 'name') = 'null' THEN '0'
  WHEN json_typeof(doc -> 'name') = 'string'
       AND strpos((doc -> 'name')::text, '\\u0000') = 0
       AND char_length(doc ->> 'name') <= 255 THEN '2' || (doc ->> 'name')
  ELSE ''
END
"""
_SQLITE = """
CASE
  WHEN NOT json_valid(doc) THEN ''
  WHEN json_type(doc, '$.name') IS NULL OR json_type(doc, '$.name') = 'null' THEN '0'
  WHEN json_type(doc, '$.name') = 'text'
       AND instr(json_extract(doc, '$.name'), char(0)) = 0
       AND length(json_extract(doc, '$.name')) <= 255 THEN '2' || json_extract(doc, '$.name')
  ELSE ''
END
"""
_INDEX = ["kind", "org", "sandbox", "name_order", "id"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # STORED: PostgreSQL computes it once per write (the table is rewritten once, here).
        op.execute(
            f'ALTER TABLE resources ADD COLUMN name_order VARCHAR(256) COLLATE "C" '
            f"GENERATED ALWAYS AS ({_POSTGRESQL}) STORED"
        )
    else:
        # SQLite adds only VIRTUAL generated columns; the index below stores the values.
        op.execute(f"ALTER TABLE resources ADD COLUMN name_order TEXT GENERATED ALWAYS AS ({_SQLITE}) VIRTUAL")
    op.create_index("ix_resources_name_order", "resources", _INDEX)


def downgrade() -> None:
    op.drop_index("ix_resources_name_order", table_name="resources")
    op.execute("ALTER TABLE resources DROP COLUMN name_order")
