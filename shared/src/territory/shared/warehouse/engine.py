"""Warehouse engines: the embedded default (SQLite, WAL), PostgreSQL and Snowflake.

`create_warehouse_engine(url)` returns an engine whose `schema_translate_map` places the
logical schemas of `schema.py` where each backend keeps them, so the loader and the API use
the same tables and statements everywhere.

Why SQLite for the embedded default: it is in the standard library (nothing to install for
`make run`), and in WAL mode one writer and any number of readers work at once across
processes, which is exactly the loader (writer) beside the API (reader). DuckDB, the other
embedded candidate, takes a file lock that keeps a second process from even opening the
database for reading while the loader holds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from territory.shared.warehouse import schema as s

Backend = Literal["sqlite", "postgresql", "snowflake"]

# Where each logical schema lives. SQLite: one file, no schemas.
SCHEMA_MAPS: dict[Backend, dict[str | None, str | None]] = {
    "sqlite": {name: None for name in s.LOGICAL_SCHEMAS},
    "postgresql": {
        s.RAW: "raw",
        s.STAGE: "stage",
        s.CORE_HIERARCHY: "core",
        s.CORE_TERRITORIES: "core",
        s.CORE_ASSIGNMENTS: "core",
        s.CORE_RULES: "core",
        s.OPS: "ops",
    },
    "snowflake": {
        s.RAW: "RAW.CLIENT_HIERARCHY",
        s.STAGE: "STAGE.CLIENT_HIERARCHY",
        s.CORE_HIERARCHY: "CORE.CLIENT_HIERARCHY",
        s.CORE_TERRITORIES: "CORE.TERRITORIES",
        s.CORE_ASSIGNMENTS: "CORE.ASSIGNMENTS",
        s.CORE_RULES: "CORE.SEGMENTATION_RULES",
        s.OPS: "CORE.LOADER",
    },
}


def backend_of(url: str | URL | Engine) -> Backend:
    name = url.dialect.name if isinstance(url, Engine) else make_url(url).get_backend_name()
    if name in ("sqlite", "postgresql", "snowflake"):
        return name  # type: ignore[return-value]
    raise ValueError(f"unsupported warehouse backend {name!r} (sqlite, postgresql, snowflake)")


def normalize_url(url: str | URL) -> URL:
    """`postgresql://` uses psycopg 3 (the driver installed); sqlite paths get their folder."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_warehouse_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for `url` with the backend's schema translation (and SQLite in WAL mode)."""
    parsed = normalize_url(url)
    backend = backend_of(parsed)
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
    elif backend == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(parsed, **kwargs)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine.execution_options(schema_translate_map=SCHEMA_MAPS[backend])


def _sqlite_pragmas(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    # WAL: readers (the API) never block the writer (the loader) and vice versa.
    # synchronous=NORMAL is durable across application crashes in WAL mode; only a power
    # loss can drop the last transactions, which Kafka still holds (offsets are committed
    # after the batch, so they are re-read).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def physical_schemas(backend: Backend) -> list[str]:
    """The schemas (Snowflake: `DATABASE.SCHEMA`) the backend needs, in creation order."""
    return sorted({v for v in SCHEMA_MAPS[backend].values() if v is not None})


def create_schemas(engine: Engine) -> None:
    """Create the backend's schemas (and Snowflake databases) when missing."""
    backend = backend_of(engine)
    if backend == "sqlite":
        return
    with engine.begin() as conn:
        if backend == "snowflake":
            for database in sorted({name.split(".")[0] for name in physical_schemas(backend)}):
                conn.execute(text(f"CREATE DATABASE IF NOT EXISTS {database}"))
        for name in physical_schemas(backend):
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {name}"))


def metadata_for(backend: Backend) -> MetaData:
    """The model as the backend can create it: Snowflake standard tables have no indexes
    (it prunes by micro-partition instead), so its copy drops them."""
    if backend != "snowflake":
        return s.metadata
    copy = MetaData(naming_convention=s.metadata.naming_convention)
    for table in s.metadata.sorted_tables:
        table.to_metadata(copy).indexes.clear()
    return copy


def create_all(engine: Engine) -> None:
    """Schemas and tables, without migrations (tests and throwaway databases)."""
    create_schemas(engine)
    with engine.begin() as conn:
        metadata_for(backend_of(engine)).create_all(conn)
