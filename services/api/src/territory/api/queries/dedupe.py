"""The dedupe review queue: possible duplicates with their match evidence."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from territory.api.deps import Page
from territory.api.masking import Masker
from territory.api.queries.common import fetch_page, forbid_tax_ids, order_by, visible_clients
from territory.api.schemas import DedupeReviewItem
from territory.api.security import Principal
from territory.shared.warehouse import schema as wh

r = wh.dedupe_review

REVIEW_SORTS = {
    "occurred_at": r.c.occurred_at,
    "best_confidence": r.c.best_confidence,
    "client_name": r.c.client_name,
}


def review_item(row: Any, mask: Masker) -> DedupeReviewItem:
    candidates = row["candidate_client_ids"] or []
    evidence = mask.json(row["evidence"])
    return DedupeReviewItem(
        event_id=row["event_id"],
        client_id=row["client_id"],
        source_key=row["source_key"],
        client_name=row["client_name"],
        candidate_client_ids=[str(x) for x in candidates] if isinstance(candidates, list) else [],
        best_confidence=None if row["best_confidence"] is None else float(row["best_confidence"]),
        evidence=evidence if isinstance(evidence, list | dict) else [],
        status=row["status"],
        occurred_at=row["occurred_at"],
    )


def list_reviews(
    session: Session,
    principal: Principal,
    mask: Masker,
    *,
    status: str | None,
    min_confidence: float | None,
    page: Page,
    sort: str | None,
) -> tuple[list[DedupeReviewItem], int]:
    conditions: list[ColumnElement[bool]] = []
    if status:
        conditions.append(r.c.status == status)
    if min_confidence is not None:
        conditions.append(r.c.best_confidence >= min_confidence)
    if principal.region_scope is not None:
        conditions.append(r.c.client_id.in_(visible_clients(principal)))
    stmt = order_by(select(r).where(*conditions), sort, REVIEW_SORTS, "-occurred_at", r.c.event_id)
    rows, total = fetch_page(session, stmt, page, select(r.c.event_id).where(*conditions))
    involved: list[str] = []
    for row in rows:
        involved.append(row["client_id"])
        candidates = row["candidate_client_ids"]
        if isinstance(candidates, list):
            involved.extend(str(x) for x in candidates)
    forbid_tax_ids(session, mask, involved)
    stg = wh.clients_staging
    mask.forbid(
        session.scalars(
            select(stg.c.tax_id).where(stg.c.source_key.in_([row["source_key"] for row in rows]))
        )
    )
    return [review_item(row, mask) for row in rows], total
