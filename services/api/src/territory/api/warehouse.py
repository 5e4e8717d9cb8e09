"""The warehouse as the API sees it: an engine and a readiness check (read only)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, text


def make_engine(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True)


def warehouse_ready(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
