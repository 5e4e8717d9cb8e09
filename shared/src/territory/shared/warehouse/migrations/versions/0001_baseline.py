"""Baseline: every table of the warehouse model, version 1.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from territory.shared.warehouse.engine import backend_of, metadata_for

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The baseline is the model as first released; later changes are new revisions
    # written with op.add_column / op.create_index, never edits of this one.
    bind = op.get_bind()
    metadata_for(backend_of(bind.engine)).create_all(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    metadata_for(backend_of(bind.engine)).drop_all(bind, checkfirst=True)
