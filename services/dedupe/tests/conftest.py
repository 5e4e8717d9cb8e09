from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from territory.shared.events import ClientRecord


def make_record(source: str = "salesforce", sid: str = "1", **fields: Any) -> ClientRecord:
    fields.setdefault("name", "Acme Pension Fund")
    return ClientRecord(source_system=source, source_id=sid, **fields)


def at(day: int) -> datetime:
    return datetime(2025, 1, day, tzinfo=UTC)
