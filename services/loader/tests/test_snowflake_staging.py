"""The Snowflake load path: a raw batch staged to S3 (moto's server) with aioboto3, then
COPY INTO a landing table and MERGE into RAW.CLIENTS (fakesnow, whose DuckDB reads the
bucket through s3fs), then MERGE into STAGE and CORE. Idempotent when a batch comes twice."""

import re
from datetime import UTC, datetime
from unittest import mock

import boto3
import pytest
import s3fs
import snowflake.connector
from factories import assigned, golden, loaded, received
from fakesnow.instance import FakeSnow
from moto.server import ThreadedMotoServer
from sqlalchemy import func, select

from territory.loader.rows import raw_client_row
from territory.loader.settings import StagingOptions
from territory.loader.staging import RawStager, object_key
from territory.loader.writer import WarehouseWriter
from territory.shared.events import ClientReceived
from territory.shared.warehouse import schema as s
from territory.shared.warehouse.engine import create_warehouse_engine
from territory.shared.warehouse.migrate import migrate

BUCKET = "territory-raw"


@pytest.fixture
def moto_endpoint(monkeypatch):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def snowflake_with_s3(moto_endpoint):
    """fakesnow whose DuckDB reads s3:// through s3fs pointed at moto (DuckDB's own httpfs
    extension would be downloaded at run time, which these machines cannot do)."""
    fake = FakeSnow(create_database_on_connect=True, create_schema_on_connect=True)
    fake.duck_conn.register_filesystem(
        s3fs.S3FileSystem(
            key="testing", secret="testing", endpoint_url=moto_endpoint, use_listings_cache=False
        )
    )
    with mock.patch.object(snowflake.connector, "connect", side_effect=fake.connect):
        engine = create_warehouse_engine("snowflake://user:password@account/territory")
        migrate(engine)
        yield engine
        engine.dispose()
    fake.duck_conn.close()


def test_object_keys_are_timestamped_and_partitioned():
    key = object_key(
        "institutional_clients_raw/", "b-1", datetime(2026, 11, 29, 7, 5, 3, tzinfo=UTC)
    )
    assert (
        key
        == "institutional_clients_raw/clients/dt=2026-11-29/hour=07/20261129T070503000000Z-b-1.parquet"
    )


async def test_raw_batch_is_staged_to_s3_then_copied_and_merged(snowflake_with_s3, moto_endpoint):
    engine = snowflake_with_s3
    stager = RawStager(StagingOptions(s3_bucket=BUCKET, s3_endpoint_url=moto_endpoint))
    events = [
        received("001", 'Acme "Pension", Fund', minute=1, tax_id=None),
        received("002", "Beta Endowment", minute=2),
        golden("c1", ["001"]),
        assigned("c1", "na-east", "ann@example.com", minute=3),
    ]
    items, raw = loaded(events)
    writer = WarehouseWriter(engine)

    async def load(batch_id: str) -> str:
        now = datetime.now(UTC)
        rows = [
            raw_client_row(item, raw=text, batch_id=batch_id, now=now)
            for item, text in zip(items, raw, strict=True)
            if isinstance(item.event, ClientReceived)
        ]
        url = await stager.stage(rows, batch_id)
        writer.write(
            items,
            raw_json=raw,
            batch_id=batch_id,
            started_at=now,
            load_raw=lambda conn: stager.copy_into_raw(conn, url, batch_id),
        )
        return url

    first = await load("b1")
    second = await load("b2")  # the same batch again (a redelivery): a new file
    assert re.fullmatch(
        rf"s3://{BUCKET}/institutional_clients_raw/clients/dt=\d{{4}}-\d\d-\d\d/hour=\d\d/\d{{8}}T\d{{12}}Z-b1\.parquet",
        first,
    )
    listed = boto3.client("s3", endpoint_url=moto_endpoint).list_objects_v2(Bucket=BUCKET)
    assert len(listed["Contents"]) == 2
    assert second != first

    with engine.connect() as conn:
        raw_rows = conn.execute(
            select(s.raw_clients.c.source_key, s.raw_clients.c.payload).order_by(
                s.raw_clients.c.source_key
            )
        ).all()
        staged = conn.execute(select(func.count()).select_from(s.clients_staging)).scalar_one()
        facts = conn.execute(select(func.count()).select_from(s.assignments_fact)).scalar_one()
    assert [r.source_key for r in raw_rows] == ["salesforce:001", "salesforce:002"]
    # The payload survives CSV quoting exactly as it was sent.
    assert raw_rows[0].payload == raw[0]
    assert (staged, facts) == (2, 1)
