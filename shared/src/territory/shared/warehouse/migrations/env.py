"""Alembic environment: runs on the connection that `migrate()` hands over, so the
backend's schema translation (see engine.py) applies to migrations as well."""

from __future__ import annotations

from alembic import context
from alembic.ddl.impl import DefaultImpl

from territory.shared.warehouse.engine import SCHEMA_MAPS, backend_of
from territory.shared.warehouse.schema import OPS, metadata


class SnowflakeImpl(DefaultImpl):
    """alembic knows no Snowflake dialect; the default DDL is what Snowflake accepts."""

    __dialect__ = "snowflake"
    transactional_ddl = False


connection = context.config.attributes["connection"]
# The version table is looked up by name, outside the schema translation: give its
# physical schema.
version_schema = SCHEMA_MAPS[backend_of(connection.engine)][OPS]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table="alembic_version",
    version_table_schema=version_schema,
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
