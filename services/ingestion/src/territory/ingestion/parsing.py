"""Streaming parsers for uploaded files: one `RawRow` per record, in file order.

Pure code over a binary stream; memory stays flat in the file's size: one record (bounded
by `max_record_bytes`) is held at a time. Every record comes out either with its data or
with the reason it could not be read, so nothing in a file goes unaccounted for. Blank
lines are not records and are counted separately.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from territory.shared.events import FieldError, RejectReason

_BOM = b"\xef\xbb\xbf"


@dataclass(slots=True)
class RawRow:
    row_number: int  # 1-based physical line where the record starts
    original: bytes
    data: dict[str, Any] | None = None
    reason: RejectReason | None = None
    errors: list[FieldError] = field(default_factory=list)


@dataclass(slots=True)
class ParseStats:
    blank_lines: int = 0
    columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


class HeaderError(ValueError):
    """The file cannot be read at all (no header, required columns missing)."""


def normalize_column(name: str) -> str:
    return re.sub(r"[\s\-/]+", "_", name.strip().lower())


class _Lines:
    """Physical lines of a binary stream, each at most `limit` bytes (longer ones are cut
    and flagged), decoded with `encoding`; undecodable bytes are kept as surrogates so the
    row can be rejected with its original bytes. Iterating it never loses a line: a failed
    decode or an over-long line is recorded on the instance for the caller to inspect."""

    def __init__(self, stream: IO[bytes], *, encoding: str, limit: int) -> None:
        self.stream = stream
        self.encoding = encoding
        self.limit = limit
        self.line_number = 0
        self.raw: list[bytes] = []  # physical lines of the record being read
        self.bad_encoding = False
        self.too_long = False
        self._first = True

    def start_record(self) -> None:
        self.raw = []
        self.bad_encoding = False
        self.too_long = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.stream.readline(self.limit + 1)
        if not line:
            raise StopIteration
        if self._first:
            self._first = False
            line = line.removeprefix(_BOM)
        self.line_number += 1
        if len(line) > self.limit and not line.endswith(b"\n"):
            self.too_long = True
            # Skip the rest of the physical line without holding it in memory.
            while True:
                rest = self.stream.readline(1 << 16)
                if not rest or rest.endswith(b"\n"):
                    break
        if sum(len(r) for r in self.raw) <= self.limit:
            self.raw.append(line)
        else:
            self.too_long = True
        try:
            return line.decode(self.encoding)
        except UnicodeDecodeError:
            self.bad_encoding = True
            return line.decode(self.encoding, errors="surrogateescape")


def _original(raw: list[bytes]) -> bytes:
    return b"".join(raw).rstrip(b"\r\n")


def iter_csv(
    stream: IO[bytes],
    *,
    encoding: str = "utf-8",
    max_record_bytes: int = 64 * 1024,
    stats: ParseStats | None = None,
    known_columns: frozenset[str] | None = None,
) -> Iterator[RawRow]:
    """Rows of a CSV file with a header line. Multi-line quoted fields are one record."""
    stats = stats if stats is not None else ParseStats()
    lines = _Lines(stream, encoding=encoding, limit=max_record_bytes)
    csv.field_size_limit(max_record_bytes)
    reader = csv.reader(lines, strict=True)

    try:
        header = next(reader)
    except StopIteration:
        raise HeaderError("the file is empty: a header line is required") from None
    except csv.Error as exc:
        raise HeaderError(f"the header line cannot be read: {exc}") from None
    if lines.bad_encoding:
        raise HeaderError(f"the header line is not valid {encoding}")
    columns = [normalize_column(c) for c in header]
    if len(set(columns)) != len(columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        raise HeaderError(f"duplicate columns: {', '.join(dupes)}")
    stats.columns = columns
    if known_columns is not None:
        stats.ignored_columns = [c for c in columns if c not in known_columns]

    while True:
        lines.start_record()
        start = lines.line_number + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRow(
                row_number=start,
                original=_original(lines.raw),
                reason=RejectReason.MALFORMED_ROW,
                errors=[FieldError(code="csv_error", message=str(exc))],
            )
            continue
        if not values or (len(values) == 1 and not values[0].strip() and len(columns) > 1):
            stats.blank_lines += 1
            continue
        original = _original(lines.raw)
        if lines.too_long:
            yield RawRow(
                row_number=start,
                original=original[:1024],
                reason=RejectReason.RECORD_TOO_LARGE,
                errors=[
                    FieldError(
                        code="record_too_large",
                        message=f"record exceeds {max_record_bytes} bytes (original truncated)",
                    )
                ],
            )
        elif lines.bad_encoding:
            yield RawRow(
                row_number=start,
                original=original,
                reason=RejectReason.INVALID_ENCODING,
                errors=[
                    FieldError(
                        code="invalid_encoding",
                        message=f"the row is not valid {encoding}; pass the file's encoding",
                    )
                ],
            )
        elif len(values) != len(columns):
            yield RawRow(
                row_number=start,
                original=original,
                reason=RejectReason.MALFORMED_ROW,
                errors=[
                    FieldError(
                        code="wrong_column_count",
                        message=f"expected {len(columns)} fields, found {len(values)}",
                    )
                ],
            )
        else:
            yield RawRow(
                row_number=start, original=original, data=dict(zip(columns, values, strict=True))
            )


def iter_jsonl(
    stream: IO[bytes],
    *,
    encoding: str = "utf-8",
    max_record_bytes: int = 64 * 1024,
    stats: ParseStats | None = None,
) -> Iterator[RawRow]:
    """One JSON object per line."""
    stats = stats if stats is not None else ParseStats()
    lines = _Lines(stream, encoding=encoding, limit=max_record_bytes)
    while True:
        lines.start_record()
        try:
            text = next(lines)
        except StopIteration:
            return
        number = lines.line_number
        if not text.strip():
            stats.blank_lines += 1
            continue
        original = _original(lines.raw)
        if lines.too_long:
            yield RawRow(
                row_number=number,
                original=original[:1024],
                reason=RejectReason.RECORD_TOO_LARGE,
                errors=[
                    FieldError(
                        code="record_too_large",
                        message=f"record exceeds {max_record_bytes} bytes (original truncated)",
                    )
                ],
            )
            continue
        if lines.bad_encoding:
            yield RawRow(
                row_number=number,
                original=original,
                reason=RejectReason.INVALID_ENCODING,
                errors=[FieldError(code="invalid_encoding", message=f"not valid {encoding}")],
            )
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield RawRow(
                row_number=number,
                original=original,
                reason=RejectReason.INVALID_JSON,
                errors=[FieldError(code="invalid_json", message=str(exc))],
            )
            continue
        if not isinstance(data, dict):
            yield RawRow(
                row_number=number,
                original=original,
                reason=RejectReason.INVALID_JSON,
                errors=[FieldError(code="not_an_object", message="each line must be an object")],
            )
            continue
        yield RawRow(row_number=number, original=original, data=data)
