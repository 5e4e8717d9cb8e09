"""Dead letters keep their origin and the whole original's size, hash and archive
(issue 13; additive, nullable columns, no data change):

- REJECTED_RECORDS.origin_id (indexed): the same for every stage's dead letter of one bad
  message (derived from its topic/partition/offset);
- REJECTED_RECORDS.original_size / original_sha256 / original_truncated / archive_uri: a
  dead letter carries at most `dead_letters.max_original_bytes` of the original, the rest
  is archived.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from territory.shared.warehouse.engine import backend_of, metadata_for

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = ("origin_id", "original_size", "original_sha256", "original_truncated", "archive_uri")
INDEX = "ix_rejected_records_origin_id"


def _table() -> sa.Table:
    bind = op.get_bind()
    tables = metadata_for(backend_of(bind.engine)).tables
    return next(t for t in tables.values() if t.name == "rejected_records")


def _qualified(table: sa.Table) -> str | None:
    """The table's name as the backend keeps it (None: SQLite, no schema)."""
    where = op.get_bind().get_execution_options().get("schema_translate_map") or {}
    schema = where.get(table.schema, table.schema)
    return f"{schema}.{table.name}" if schema else None


def upgrade() -> None:
    # A warehouse created at this revision already has them (the baseline creates the
    # current model); one created before gets them added. The inspector and alembic's
    # add_column ignore the engine's schema_translate_map, hence the statements by hand.
    bind = op.get_bind()
    table = _table()
    qualified = _qualified(table)
    for name in COLUMNS:
        kind = table.c[name].type.compile(dialect=bind.dialect)
        if qualified is not None:  # PostgreSQL, Snowflake
            bind.execute(sa.text(f"ALTER TABLE {qualified} ADD COLUMN IF NOT EXISTS {name} {kind}"))
        else:
            existing = {
                row[1] for row in bind.execute(sa.text(f"PRAGMA table_info({table.name})")).all()
            }
            if name not in existing:
                bind.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}"))
    for index in table.indexes:
        if index.name == INDEX:
            index.create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    table = _table()
    for index in table.indexes:
        if index.name == INDEX:
            index.drop(bind, checkfirst=True)
    target = _qualified(table) or table.name
    for name in COLUMNS:
        bind.execute(sa.text(f"ALTER TABLE {target} DROP COLUMN {name}"))
