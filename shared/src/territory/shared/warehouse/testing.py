"""Pytest fixtures for warehouse tests (enabled by the root conftest.py).

`warehouse_url` is parametrised over the three backends: the embedded SQLite file, a
fresh database on the PostgreSQL server that `scripts/postgres.sh up` starts (URL from
`TERRITORY_TEST_POSTGRES_URL`), and Snowflake through fakesnow. An unreachable PostgreSQL
fails the test with the command to run: it is never skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from territory.shared.warehouse.engine import create_warehouse_engine, normalize_url
from territory.shared.warehouse.migrate import migrate

BACKENDS = ("sqlite", "postgresql", "snowflake")


def postgres_server_url() -> str:
    return os.environ.get(
        "TERRITORY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:55432/territory"
    )


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    server = normalize_url(postgres_server_url())
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL does not answer at {server.render_as_string(hide_password=True)}: "
            f"run `scripts/postgres.sh up` (or set TERRITORY_TEST_POSTGRES_URL): {exc}",
            pytrace=False,
        )
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def fakesnow_url() -> Iterator[str]:
    """Snowflake, faked by fakesnow (DuckDB underneath) for the duration of one test."""
    import fakesnow

    with fakesnow.patch():
        yield "snowflake://user:password@account/territory"


@pytest.fixture(params=BACKENDS)
def warehouse_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    backend = request.param
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/warehouse.db"
    fixture = "postgres_url" if backend == "postgresql" else "fakesnow_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def warehouse(warehouse_url: str) -> Iterator[Engine]:
    """A migrated, empty warehouse on each backend."""
    engine = create_warehouse_engine(warehouse_url)
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()
