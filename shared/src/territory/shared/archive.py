"""Archive: S3 (aioboto3) when a bucket is configured, a local folder otherwise.

Two users:
- ingestion archives every raw upload before any record is published, so every published
  record can be traced back to the exact bytes it came from (`upload_id` + row number);
- dead letters whose original is too large to carry whole (`territory.shared.deadletter`)
  archive it here, content-addressed by its SHA-256 (`put_bytes`): archiving the same
  bytes again (redelivery, another stage) writes the same object.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Protocol

import aioboto3

from territory.shared.settings import ArchiveSettings


class RawArchive(Protocol):
    async def store(self, path: Path, *, upload_id: str, filename: str) -> str:
        """Archive the file; return its URI."""
        ...

    def uri_for(self, name: str) -> str:
        """The URI `put_bytes(name, ...)` writes (known before writing)."""
        ...

    async def put_bytes(self, name: str, data: bytes) -> str:
        """Store `data` under `name` (a relative path of safe characters: the S3 key, or
        the path under the local folder); return its URI."""
        ...


def _safe_name(filename: str) -> str:
    name = PurePosixPath(filename.replace("\\", "/")).name or "upload"
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)[:128]


class LocalArchive:
    def __init__(self, root: Path) -> None:
        self.root = root

    async def store(self, path: Path, *, upload_id: str, filename: str) -> str:
        now = datetime.now(UTC)
        target = self.root / f"dt={now:%Y-%m-%d}" / f"{upload_id}-{_safe_name(filename)}"
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.copyfile, path, target)
        return target.resolve().as_uri()

    def _path(self, name: str) -> Path:
        return self.root.joinpath(*PurePosixPath(name).parts)

    def uri_for(self, name: str) -> str:
        return self._path(name).resolve().as_uri()

    async def put_bytes(self, name: str, data: bytes) -> str:
        target = self._path(name)
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        await asyncio.to_thread(partial.write_bytes, data)
        await asyncio.to_thread(partial.replace, target)  # never a half-written object
        return target.resolve().as_uri()


class S3Archive:
    def __init__(self, settings: ArchiveSettings) -> None:
        if not settings.s3_bucket:
            raise ValueError("S3Archive needs archive.s3_bucket")
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix
        self.endpoint_url = settings.s3_endpoint_url
        self.region = settings.s3_region
        self.session = aioboto3.Session()

    def key_for(self, upload_id: str, filename: str, now: datetime) -> str:
        return (
            f"{self.prefix}year={now:%Y}/month={now:%m}/day={now:%d}/"
            f"{now:%H%M%S}-{upload_id}-{_safe_name(filename)}"
        )

    async def store(self, path: Path, *, upload_id: str, filename: str) -> str:
        key = self.key_for(upload_id, filename, datetime.now(UTC))
        async with self.session.client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region
        ) as s3:
            await s3.upload_file(str(path), self.bucket, key)  # multipart for large files
        return f"s3://{self.bucket}/{key}"

    def uri_for(self, name: str) -> str:
        return f"s3://{self.bucket}/{name}"

    async def put_bytes(self, name: str, data: bytes) -> str:
        async with self.session.client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region
        ) as s3:
            await s3.put_object(Bucket=self.bucket, Key=name, Body=data)
        return self.uri_for(name)


def archive_from_settings(settings: ArchiveSettings) -> RawArchive:
    if settings.s3_bucket:
        return S3Archive(settings)
    return LocalArchive(settings.local_dir)
