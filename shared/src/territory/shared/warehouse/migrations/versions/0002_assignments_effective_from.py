"""Index ASSIGNMENTS_FACT(effective_from): the API lists assignments newest first and
counts changes per day; without it both scan every assignment.

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

INDEX = "ix_assignments_fact_effective_from"


def _index() -> tuple[Connection, Index | None]:
    bind = op.get_bind()
    backend = backend_of(bind.engine)
    for table in metadata_for(backend).tables.values():
        for index in table.indexes:
            if index.name == INDEX:
                return bind, index
    return bind, None  # Snowflake: no indexes (micro-partition pruning instead)


def upgrade() -> None:
    bind, index = _index()
    if index is not None:
        index.create(bind, checkfirst=True)


def downgrade() -> None:
    bind, index = _index()
    if index is not None:
        index.drop(bind, checkfirst=True)
