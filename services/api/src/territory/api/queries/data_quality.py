"""Dead letters (`client.rejected`) as the data-quality page shows them: counts by stage
and reason, and the latest records with the fields their errors name.

A rejected record has no trusted region (it never became a client), so this is for the
roles that steward data; the original bytes are never served here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from territory.api.counting import cached
from territory.api.dashboard_schemas import RejectedRecord, RejectionCount, RejectionSummary
from territory.api.deps import Page
from territory.api.masking import Masker
from territory.api.queries.common import fetch_page
from territory.shared.warehouse import schema as wh

r = wh.rejected_records


def rejection_summary(session: Session) -> RejectionSummary:
    def compute() -> RejectionSummary:
        rows = session.execute(
            select(r.c.stage, r.c.reason, func.count())
            .group_by(r.c.stage, r.c.reason)
            .order_by(func.count().desc(), r.c.stage, r.c.reason)
        ).all()
        by_reason = [
            RejectionCount(stage=stage, reason=reason, records=int(n)) for stage, reason, n in rows
        ]
        return RejectionSummary(total=sum(c.records for c in by_reason), by_reason=by_reason)

    return cached(session, "rejection-summary", compute)


def _errors(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [e for e in value if isinstance(e, dict)]
    return []


def list_rejections(
    session: Session,
    mask: Masker,
    *,
    stage: str | None,
    reason: str | None,
    page: Page,
) -> tuple[list[RejectedRecord], int]:
    conditions: list[ColumnElement[bool]] = []
    if stage:
        conditions.append(r.c.stage == stage)
    if reason:
        conditions.append(r.c.reason == reason)
    stmt = (
        select(
            r.c.event_id,
            r.c.stage,
            r.c.reason,
            r.c.source_key,
            r.c.row_number,
            r.c.upload_id,
            r.c.errors,
            r.c.occurred_at,
        )
        .where(*conditions)
        .order_by(r.c.occurred_at.desc(), r.c.event_id)
    )
    rows, total = fetch_page(session, stmt, page, select(r.c.event_id).where(*conditions))
    items = []
    for row in rows:
        errors = _errors(row["errors"])
        items.append(
            RejectedRecord(
                event_id=str(row["event_id"]),
                stage=row["stage"],
                reason=row["reason"],
                source_key=row["source_key"],
                row_number=row["row_number"],
                upload_id=row["upload_id"],
                fields=sorted({str(e["field"]) for e in errors if e.get("field")}),
                messages=[mask.text(str(e.get("message", ""))) or "" for e in errors][:20],
                occurred_at=row["occurred_at"],
            )
        )
    return items, total
