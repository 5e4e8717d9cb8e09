"""The dedupe review queue: possible duplicates with their match evidence."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from territory.api.deps import Page
from territory.api.masking import Masker
from territory.api.queries.common import fetch_page, forbid_tax_ids, order_by, visible_clients
from territory.api.schemas import DedupeReviewItem
from territory.api.security import Principal
from territory.shared.events import DedupeCommand
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


def command_problem(
    session: Session, principal: Principal, command: DedupeCommand
) -> tuple[int, str] | None:
    """Why dedupe could not apply this command, as (status, detail); None when it can.

    404: a client or source record that does not exist (or that the caller may not see);
    409: one that exists but cannot take part (retired into another client, a record that
    belongs to another client, a client merged with itself)."""
    c = wh.client_dim
    stmt = select(c.c.client_id, c.c.retired, c.c.merged_into_client_id).where(
        c.c.client_id.in_(command.client_ids)
    )
    if principal.region_scope is not None:
        stmt = stmt.where(c.c.client_id.in_(visible_clients(principal)))
    found = {row.client_id: row for row in session.execute(stmt)}
    for client_id in command.client_ids:
        row = found.get(client_id)
        if row is None:
            return 404, f"no such client: {client_id}"
        if row.retired:
            into = row.merged_into_client_id
            return 409, f"client {client_id} is retired" + (
                f" (merged into {into})" if into else ""
            )
    if len(set(command.client_ids)) != len(command.client_ids):
        return 409, "a client cannot be merged with itself"
    if command.action == "split":
        (owner,) = command.client_ids
        src = wh.client_source_record
        stmt_members = select(src.c.source_key, src.c.client_id).where(
            src.c.source_key.in_(command.source_keys)
        )
        members: dict[str, str] = {
            str(key): str(owner_id) for key, owner_id in session.execute(stmt_members)
        }
        for key in command.source_keys:
            if key not in members:
                return 404, f"no such source record: {key}"
            if members[key] != owner:
                return 409, f"source record {key} belongs to another client, not {owner}"
        others = session.scalar(
            select(func.count())
            .select_from(src)
            .where(src.c.client_id == owner, src.c.source_key.not_in(command.source_keys))
        )
        if not others:
            return 409, f"splitting off every record of {owner} would leave it empty"
    return None
