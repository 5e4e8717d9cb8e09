"""Snowflake load path: a micro-batch of RAW.CLIENTS rows is written as a Parquet file to
S3 (aioboto3), then `COPY INTO` a landing table and `MERGE` into RAW.CLIENTS on event_id.

Parquet rather than CSV: typed columns (timestamps stay timestamps), compressed, and
`MATCH_BY_COLUMN_NAME` maps columns by name, so adding a column never shifts the others.
Paths are partitioned by load time: `institutional_clients_raw/clients/dt=YYYY-MM-DD/
hour=HH/<timestamp>-<batch id>.parquet`, so an external table or a lifecycle rule can work
per day. COPY INTO lands in a separate table because Snowflake's load metadata only skips
files it has seen: a redelivered batch is a new file, so idempotency comes from the MERGE
on event_id, like every other write.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aioboto3
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, text

from territory.loader.rows import Row
from territory.loader.settings import StagingOptions
from territory.shared.warehouse import schema as s

RAW_COLUMNS = [c.name for c in s.raw_clients.c]
LANDING = "RAW.CLIENT_HIERARCHY.CLIENTS_LANDING"
TARGET = "RAW.CLIENT_HIERARCHY.CLIENTS"


_ARROW_SCHEMA = pa.schema(
    [
        (
            c.name,
            pa.timestamp("us", tz="UTC")
            if c.name in ("occurred_at", "loaded_at")
            else (pa.int64() if c.name in ("kafka_partition", "kafka_offset") else pa.string()),
        )
        for c in s.raw_clients.c
    ]
)


def to_parquet(rows: Sequence[Row]) -> bytes:
    table = pa.Table.from_pylist([{c: row[c] for c in RAW_COLUMNS} for row in rows], _ARROW_SCHEMA)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def object_key(prefix: str, batch_id: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return (
        f"{prefix.rstrip('/')}/clients/dt={now:%Y-%m-%d}/hour={now:%H}/"
        f"{now:%Y%m%dT%H%M%S%fZ}-{batch_id}.parquet"
    )


class RawStager:
    def __init__(self, options: StagingOptions) -> None:
        assert options.s3_bucket, "staging needs an S3 bucket"
        self.options = options
        self.bucket: str = options.s3_bucket
        self.session = aioboto3.Session()

    async def stage(self, rows: Sequence[Row], batch_id: str) -> str:
        """Upload the batch; returns its `s3://` URL."""
        key = object_key(self.options.s3_prefix, batch_id)
        async with self.session.client(
            "s3", endpoint_url=self.options.s3_endpoint_url, region_name=self.options.s3_region
        ) as client:
            await client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=to_parquet(rows),
                ContentType="application/vnd.apache.parquet",
            )
        return f"s3://{self.bucket}/{key}"

    def copy_into_raw(self, conn: Connection, url: str, batch_id: str) -> int:
        """COPY the staged file into a landing table of its own (loader instances never
        share one), MERGE the new event ids into RAW.CLIENTS, drop the landing table."""
        landing = f"{LANDING}_{batch_id.replace('-', '_')[:36]}"
        # The session works in RAW while copying: COPY's load metadata belongs to the
        # target's database (fakesnow, like Snowflake, keeps it there).
        conn.execute(text("USE SCHEMA RAW.CLIENT_HIERARCHY"))
        conn.execute(text(f"CREATE OR REPLACE TRANSIENT TABLE {landing} LIKE {TARGET}"))
        try:
            credentials = (
                f" STORAGE_INTEGRATION = {self.options.storage_integration}"
                if self.options.storage_integration
                else ""
            )
            conn.execute(
                text(
                    f"COPY INTO {landing} FROM '{url}'{credentials}"
                    " FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE"
                )
            )
            columns = ", ".join(RAW_COLUMNS)
            values = ", ".join(f"s.{c}" for c in RAW_COLUMNS)
            result: Any = conn.execute(
                text(
                    f"MERGE INTO {TARGET} t USING {landing} s ON t.event_id = s.event_id"
                    f" WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})"
                )
            )
            return int(result.rowcount or 0)
        finally:
            conn.execute(text(f"DROP TABLE IF EXISTS {landing}"))
