"""CLIENT_SOURCE_MATCH (core hierarchy): the match evidence of each source record (additive).

One row per (golden client, source key): the newest dedupe decision that placed that
source record in that client (issue 10): decision, best confidence, the evidence (capped),
the dedupe version and when it was decided.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection, Table
from sqlalchemy.schema import CreateIndex, CreateTable, DropTable

from territory.shared.warehouse.engine import backend_of, metadata_for

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLE = "client_source_match"


def _table() -> tuple[Connection, Table]:
    bind = op.get_bind()
    for table in metadata_for(backend_of(bind.engine)).tables.values():
        if table.name == TABLE:
            return bind, table
    raise LookupError(TABLE)


def upgrade() -> None:
    # IF NOT EXISTS: a database created at this revision already has it from the baseline
    # (which creates the current model), and Snowflake may have it from deploy/snowflake.
    # Nothing is backfilled: the rows come from client.deduplicated events as they load
    # (a replay of the topic fills them for clients decided before).
    bind, table = _table()
    bind.execute(CreateTable(table, if_not_exists=True))
    for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
        bind.execute(CreateIndex(index, if_not_exists=True))


def downgrade() -> None:
    bind, table = _table()
    bind.execute(DropTable(table, if_exists=True))
