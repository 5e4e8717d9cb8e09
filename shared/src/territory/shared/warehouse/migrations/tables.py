"""What additive migrations share: creating (or dropping) one table of the current model.

A database created at a later revision already has the table from the baseline (which
creates the current model), and Snowflake may have it from deploy/snowflake: hence
IF NOT EXISTS, for the table and each of its indexes.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection, Table
from sqlalchemy.schema import CreateIndex, CreateTable, DropTable

from territory.shared.warehouse.engine import backend_of, metadata_for


def model_table(name: str) -> tuple[Connection, Table]:
    """The migration's connection and the current model's table `name` for its backend."""
    bind = op.get_bind()
    for table in metadata_for(backend_of(bind.engine)).tables.values():
        if table.name == name:
            return bind, table
    raise LookupError(name)


def create_table(name: str) -> None:
    bind, table = model_table(name)
    bind.execute(CreateTable(table, if_not_exists=True))
    for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
        bind.execute(CreateIndex(index, if_not_exists=True))


def drop_table(name: str) -> None:
    bind, table = model_table(name)
    bind.execute(DropTable(table, if_exists=True))
