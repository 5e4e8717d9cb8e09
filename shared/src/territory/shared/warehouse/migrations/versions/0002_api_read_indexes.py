"""An index the API's reads need at a million clients (additive; no data change):

- ASSIGNMENTS_FACT(effective_from): the assignment feed is newest first and the trend
  counts changes per day; without it both scan and sort every assignment.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection, Index

from territory.shared.warehouse.engine import backend_of, metadata_for

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXES = ("ix_assignments_fact_effective_from",)


def _indexes() -> tuple[Connection, list[Index]]:
    bind = op.get_bind()
    backend = backend_of(bind.engine)
    found = [
        index
        for table in metadata_for(backend).tables.values()
        for index in table.indexes
        if index.name in INDEXES
    ]
    return bind, found  # Snowflake: none (it prunes by micro-partition instead)


def upgrade() -> None:
    bind, indexes = _indexes()
    for index in indexes:
        index.create(bind, checkfirst=True)


def downgrade() -> None:
    bind, indexes = _indexes()
    for index in indexes:
        index.drop(bind, checkfirst=True)
