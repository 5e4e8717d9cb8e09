"""Create or upgrade the warehouse with alembic (SQLite, PostgreSQL, Snowflake)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from territory.shared.warehouse.engine import SCHEMA_MAPS, backend_of, create_schemas
from territory.shared.warehouse.schema import OPS


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", "territory.shared.warehouse:migrations")
    return config


def migrate(engine: Engine, revision: str = "head") -> str | None:
    """Bring the warehouse to `revision` (idempotent); returns the revision it is at."""
    if revision == "head" and current_revision(engine) == head_revision():
        return head_revision()
    create_schemas(engine)
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return current_revision(engine)


def current_revision(engine: Engine) -> str | None:
    """The revision the warehouse is at (None: not created yet).

    Read with a plain query rather than alembic's table inspection, which does not find
    tables in Snowflake's `DATABASE.SCHEMA` form through every driver (fakesnow's included).
    """
    schema = SCHEMA_MAPS[backend_of(engine)][OPS]
    name = f"{schema}.alembic_version" if schema else "alembic_version"
    try:
        with engine.connect() as conn:
            value = conn.execute(text(f"SELECT version_num FROM {name}")).scalar()
    except DBAPIError:
        return None
    return None if value is None else str(value)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()
