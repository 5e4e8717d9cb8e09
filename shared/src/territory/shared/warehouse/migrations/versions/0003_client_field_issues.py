"""CLIENT_FIELD_ISSUES (core hierarchy): the field issues of field-level quarantine (additive).

One row per optional value a record arrived with and the contract did not accept (issue
12): source key, golden client, field, code, raw value, message.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from territory.shared.warehouse.migrations.tables import create_table, drop_table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLE = "client_field_issues"


def upgrade() -> None:
    # IF NOT EXISTS (`create_table`): a database created at this revision already has it.
    create_table(TABLE)


def downgrade() -> None:
    drop_table(TABLE)
