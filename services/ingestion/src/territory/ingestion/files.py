"""Ingesting one file (shared by the HTTP upload and the CLI)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Literal
from uuid import uuid4

from territory.ingestion.parsing import HeaderError, ParseStats, RawRow, iter_csv, iter_jsonl
from territory.ingestion.pipeline import KNOWN_COLUMNS, IngestionReport
from territory.ingestion.runtime import Runtime

FileFormat = Literal["csv", "jsonl"]
REQUIRED_COLUMNS = ("source_id", "name")
# Rows parsed per hop to a worker thread: memory stays flat, the event loop stays free.
PARSE_CHUNK_ROWS = 1_000


def detect_format(filename: str) -> FileFormat:
    lower = filename.lower()
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return "csv"


def new_upload_id() -> str:
    return uuid4().hex[:16]


def _size_and_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def rows_of(
    stream: IO[bytes],
    fmt: FileFormat,
    *,
    encoding: str,
    max_record_bytes: int,
    stats: ParseStats,
    source_system: str | None,
) -> Iterator[RawRow]:
    if fmt == "jsonl":
        return iter_jsonl(stream, encoding=encoding, max_record_bytes=max_record_bytes, stats=stats)
    rows = iter_csv(
        stream,
        encoding=encoding,
        max_record_bytes=max_record_bytes,
        stats=stats,
        known_columns=KNOWN_COLUMNS,
    )
    first = next(rows, None)  # reads the header, so the columns are known
    required = [*REQUIRED_COLUMNS, *([] if source_system else ["source_system"])]
    missing = [c for c in required if c not in stats.columns]
    if missing:
        raise HeaderError(
            f"required columns missing from the header: {', '.join(missing)}"
            + ("" if source_system else " (or pass source_system)")
        )
    return _prepend(first, rows)


def _prepend(first: RawRow | None, rest: Iterator[RawRow]) -> Iterator[RawRow]:
    if first is not None:
        yield first
    yield from rest


async def in_thread(rows: Iterator[RawRow], chunk: int | None = None) -> AsyncIterator[RawRow]:
    """Read and parse `rows` in a worker thread, a chunk at a time (never ahead of the
    consumer: one chunk in memory, and the file is not read while the loop looks at it)."""
    size = chunk or PARSE_CHUNK_ROWS
    while part := await asyncio.to_thread(lambda: list(islice(rows, size))):
        for row in part:
            yield row


async def ingest_file(
    runtime: Runtime,
    path: Path,
    *,
    filename: str,
    fmt: FileFormat,
    encoding: str = "utf-8",
    source_system: str | None = None,
    upload_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> IngestionReport:
    """Archive the file, then stream its records to Kafka. `progress(rows, bytes_read)`."""
    upload_id = upload_id or new_upload_id()
    try:
        "".encode(encoding)
    except LookupError:
        raise HeaderError(f"unknown encoding {encoding!r}") from None
    archive_uri = await runtime.archive.store(path, upload_id=upload_id, filename=filename)
    stats = ParseStats()
    with path.open("rb") as stream:
        rows = await asyncio.to_thread(
            rows_of,
            stream,
            fmt,
            encoding=encoding,
            max_record_bytes=runtime.settings.ingestion.max_record_bytes,
            stats=stats,
            source_system=source_system,
        )
        report = await runtime.ingestor.ingest(
            in_thread(rows),
            upload_id=upload_id,
            original_format=fmt,
            defaults={"source_system": source_system} if source_system else None,
            progress=(lambda n: progress(n, stream.tell())) if progress else None,
        )
    report.blank_lines = stats.blank_lines
    report.ignored_columns = stats.ignored_columns
    report.archive_uri = archive_uri
    report.bytes, report.sha256 = await asyncio.to_thread(_size_and_digest, path)
    return report
