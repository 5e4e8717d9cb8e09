"""CLIENT_FIELD_ISSUES (core hierarchy): the field issues of field-level quarantine (additive).

One row per optional value a record arrived with and the contract did not accept (issue
12): source key, golden client, field, code, raw value, message.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection, Table
from sqlalchemy.schema import CreateIndex, CreateTable, DropTable

from territory.shared.warehouse.engine import backend_of, metadata_for

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLE = "client_field_issues"


def _table() -> tuple[Connection, Table]:
    bind = op.get_bind()
    for table in metadata_for(backend_of(bind.engine)).tables.values():
        if table.name == TABLE:
            return bind, table
    raise LookupError(TABLE)


def upgrade() -> None:
    # IF NOT EXISTS: a database created at this revision already has it from the baseline
    # (which creates the current model), and Snowflake may have it from deploy/snowflake.
    bind, table = _table()
    bind.execute(CreateTable(table, if_not_exists=True))
    for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
        bind.execute(CreateIndex(index, if_not_exists=True))


def downgrade() -> None:
    bind, table = _table()
    bind.execute(DropTable(table, if_exists=True))
