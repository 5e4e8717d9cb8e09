"""The warehouse as the API sees it: the shared engine factory and a readiness check.

The API only reads; the tables are `territory.shared.warehouse.schema`, written by the
loader."""

from __future__ import annotations

from sqlalchemy import Engine, text

from territory.api.settings import ApiOptions
from territory.shared.warehouse.engine import create_warehouse_engine


def make_engine(url: str, options: ApiOptions | None = None) -> Engine:
    # Requests run in a thread pool (40 threads): enough connections that they rarely wait.
    size = (options or ApiOptions()).db_pool_size
    if url.startswith("sqlite") and ":memory:" not in url and url != "sqlite://":
        return create_warehouse_engine(url, pool_size=size, max_overflow=size)
    if url.startswith("postgresql"):
        return create_warehouse_engine(url, pool_size=size, max_overflow=size)
    return create_warehouse_engine(url)


def warehouse_ready(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
