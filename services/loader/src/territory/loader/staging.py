"""Snowflake load path: a micro-batch of RAW.CLIENTS rows is written as a CSV file to
S3 (aioboto3), then `COPY INTO` a landing table and `MERGE` into RAW.CLIENTS on event_id.

Paths are partitioned by load time: `institutional_clients_raw/clients/dt=YYYY-MM-DD/
hour=HH/<timestamp>-<batch id>.csv`, so an external table or a lifecycle rule can work per
day. COPY INTO lands in a separate table because Snowflake's load metadata only skips
files it has seen: a redelivered batch is a new file, so idempotency comes from the MERGE
on event_id, like every other write.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aioboto3
from sqlalchemy import Connection, text

from territory.loader.rows import Row
from territory.loader.settings import StagingOptions
from territory.shared.warehouse import schema as s

RAW_COLUMNS = [c.name for c in s.raw_clients.c]
LANDING = "RAW.CLIENT_HIERARCHY.CLIENTS_LANDING"
TARGET = "RAW.CLIENT_HIERARCHY.CLIENTS"


def to_csv(rows: Sequence[Row]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(RAW_COLUMNS)
    for row in rows:
        writer.writerow(
            [row[c].isoformat() if isinstance(row[c], datetime) else row[c] for c in RAW_COLUMNS]
        )
    return buffer.getvalue().encode("utf-8")


def object_key(prefix: str, batch_id: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return (
        f"{prefix.rstrip('/')}/clients/dt={now:%Y-%m-%d}/hour={now:%H}/"
        f"{now:%Y%m%dT%H%M%S%fZ}-{batch_id}.csv"
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
                Bucket=self.bucket, Key=key, Body=to_csv(rows), ContentType="text/csv"
            )
        return f"s3://{self.bucket}/{key}"

    def copy_into_raw(self, conn: Connection, url: str) -> int:
        """COPY the staged file into the landing table, MERGE new event ids into RAW."""
        columns = ", ".join(RAW_COLUMNS)
        conn.execute(text(f"CREATE TRANSIENT TABLE IF NOT EXISTS {LANDING} LIKE {TARGET}"))
        conn.execute(text(f"DELETE FROM {LANDING}"))
        credentials = (
            f" STORAGE_INTEGRATION = {self.options.storage_integration}"
            if self.options.storage_integration
            else ""
        )
        conn.execute(
            text(
                f"COPY INTO {LANDING} ({columns}) FROM '{url}'{credentials}"
                " FILE_FORMAT = (TYPE = CSV SKIP_HEADER = 1"
                " FIELD_OPTIONALLY_ENCLOSED_BY = '\"' EMPTY_FIELD_AS_NULL = TRUE)"
            )
        )
        values = ", ".join(f"s.{c}" for c in RAW_COLUMNS)
        result: Any = conn.execute(
            text(
                f"MERGE INTO {TARGET} t USING {LANDING} s ON t.event_id = s.event_id"
                f" WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})"
            )
        )
        conn.execute(text(f"DELETE FROM {LANDING}"))
        return int(result.rowcount or 0)
