"""The warehouse as the API sees it: the shared engine factory and a readiness check.

The API only reads; the tables are `territory.shared.warehouse.schema`, written by the
loader."""

from __future__ import annotations

from sqlalchemy import Engine, text

from territory.shared.warehouse.engine import create_warehouse_engine


def make_engine(url: str) -> Engine:
    return create_warehouse_engine(url)


def warehouse_ready(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
