"""The warehouse model on every backend: migrations create it (idempotently), the logical
schemas land where each backend keeps them, JSON round-trips, and the dashboard's filter
columns are indexed where the backend has indexes."""

from datetime import UTC, datetime

from sqlalchemy import func, insert, inspect, select, text

from territory.shared.warehouse import schema as s
from territory.shared.warehouse.engine import backend_of
from territory.shared.warehouse.migrate import current_revision, head_revision, migrate

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_migrate_creates_every_table_and_is_idempotent(warehouse):
    assert current_revision(warehouse) == head_revision() == "0005"
    assert migrate(warehouse) == "0005"  # second run: nothing to do, no error
    with warehouse.connect() as conn:
        for table in s.metadata.sorted_tables:
            assert conn.execute(select(func.count()).select_from(table)).scalar() == 0


def test_tables_live_in_the_backends_physical_schemas(warehouse):
    backend = backend_of(warehouse)
    with warehouse.connect() as conn:
        if backend == "sqlite":
            names = set(inspect(conn).get_table_names())
            assert {t.name for t in s.metadata.sorted_tables} <= names
        elif backend == "postgresql":
            assert "client_dim" in inspect(conn).get_table_names(schema="core")
            assert "clients" in inspect(conn).get_table_names(schema="raw")
            assert "clients_staging" in inspect(conn).get_table_names(schema="stage")
        else:
            # Snowflake: RAW / STAGE / CORE databases, schemas per subject area.
            conn.execute(text("SELECT COUNT(*) FROM RAW.CLIENT_HIERARCHY.CLIENTS")).scalar()
            conn.execute(text("SELECT COUNT(*) FROM STAGE.CLIENT_HIERARCHY.CLIENTS_STAGING"))
            conn.execute(text("SELECT COUNT(*) FROM CORE.CLIENT_HIERARCHY.CLIENT_DIM"))
            conn.execute(text("SELECT COUNT(*) FROM CORE.TERRITORIES.TERRITORY_DIM"))
            conn.execute(text("SELECT COUNT(*) FROM CORE.ASSIGNMENTS.ASSIGNMENTS_FACT"))
            conn.execute(text("SELECT COUNT(*) FROM CORE.SEGMENTATION_RULES.RULESET_VERSIONS"))


def test_json_columns_round_trip(warehouse):
    document = {"version": "v1", "territories": [{"id": "t1", "advisors": ["a@x.com"]}]}
    with warehouse.begin() as conn:
        conn.execute(
            insert(s.ruleset_versions).values(
                version="v1",
                document=document,
                published_by="admin@example.com",
                published_at=NOW,
                event_id="e1",
                loaded_at=NOW,
            )
        )
    with warehouse.connect() as conn:
        assert conn.execute(select(s.ruleset_versions.c.document)).scalar_one() == document


def test_dashboard_filter_columns_are_indexed(warehouse):
    if backend_of(warehouse) == "snowflake":
        return  # standard Snowflake tables have no indexes (micro-partition pruning)
    schema = "core" if backend_of(warehouse) == "postgresql" else None
    indexed = {
        ix["column_names"][0] for ix in inspect(warehouse).get_indexes("client_dim", schema=schema)
    }
    assert {"name", "region", "segment", "tier", "territory_id", "advisor_email"} <= indexed
    fact = {
        ix["column_names"][0]
        for ix in inspect(warehouse).get_indexes("assignments_fact", schema=schema)
    }
    assert {"client_id", "territory_id", "advisor_email", "tier"} <= fact


def test_embedded_warehouse_lets_readers_and_the_writer_work_at_once(tmp_path):
    """WAL mode: an open read transaction (the API) neither blocks the loader's commit nor
    sees it half-done; a rollback-journal SQLite would refuse the commit here."""
    from territory.shared.warehouse.engine import create_warehouse_engine

    url = f"sqlite:///{tmp_path}/w.db"
    writer = create_warehouse_engine(url, connect_args={"timeout": 0.5})
    migrate(writer)
    reader = create_warehouse_engine(url, connect_args={"timeout": 0.5})
    row = {
        "version": "v1",
        "document": {},
        "published_by": "a",
        "published_at": NOW,
        "event_id": "e1",
        "loaded_at": NOW,
    }
    with reader.connect() as api:
        api.exec_driver_sql("BEGIN")
        count = select(func.count()).select_from(s.ruleset_versions)
        assert api.execute(count).scalar_one() == 0
        with writer.begin() as loader:
            loader.execute(insert(s.ruleset_versions).values(**row))
        assert api.execute(count).scalar_one() == 0  # its snapshot
        api.exec_driver_sql("COMMIT")
        assert api.execute(count).scalar_one() == 1
    with writer.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    writer.dispose()
    reader.dispose()


def test_a_warehouse_at_0002_gains_the_field_issue_table(tmp_path):
    from territory.shared.warehouse.engine import create_warehouse_engine

    engine = create_warehouse_engine(f"sqlite:///{tmp_path / 'old.db'}")
    assert migrate(engine, "0002") == "0002"
    with engine.begin() as conn:  # a database created before 0003 existed
        conn.execute(text("DROP TABLE client_field_issues"))
    assert migrate(engine) == "0005"
    with engine.connect() as conn:
        assert "client_field_issues" in set(inspect(conn).get_table_names())
        assert conn.execute(select(func.count()).select_from(s.client_field_issues)).scalar() == 0


def test_a_warehouse_at_0004_gains_the_match_evidence_table(tmp_path):
    from territory.shared.warehouse.engine import create_warehouse_engine

    engine = create_warehouse_engine(f"sqlite:///{tmp_path / 'old.db'}")
    assert migrate(engine, "0004") == "0004"
    with engine.begin() as conn:  # a database created before 0005 existed
        conn.execute(text("DROP TABLE client_source_match"))
    assert migrate(engine) == "0005"
    with engine.connect() as conn:
        assert "client_source_match" in set(inspect(conn).get_table_names())
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("client_source_match")}
        assert "ix_client_source_match_source_key" in indexes
        assert conn.execute(select(func.count()).select_from(s.client_source_match)).scalar() == 0
