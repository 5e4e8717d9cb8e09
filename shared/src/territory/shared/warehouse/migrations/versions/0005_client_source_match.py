"""CLIENT_SOURCE_MATCH (core hierarchy): the match evidence of each source record (additive).

One row per (golden client, source key): the newest dedupe decision that placed that
source record in that client (issue 10): decision, best confidence, the evidence (capped),
the dedupe version and when it was decided.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from territory.shared.warehouse.migrations.tables import create_table, drop_table

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLE = "client_source_match"


def upgrade() -> None:
    # IF NOT EXISTS (`create_table`): a database created at this revision already has it.
    # Nothing is backfilled: the rows come from client.deduplicated events as they load
    # (a replay of the topic fills them for clients decided before).
    create_table(TABLE)


def downgrade() -> None:
    drop_table(TABLE)
