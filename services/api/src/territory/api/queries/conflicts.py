"""Conflicts reported by the rules service (latest state of each)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from territory.api.deps import Page
from territory.api.masking import Masker
from territory.api.queries.common import (
    fetch_page,
    forbid_tax_ids,
    order_by,
    scoped,
    visible_advisor_emails,
    visible_clients,
)
from territory.api.schemas import ConflictRecord
from territory.api.security import Principal
from territory.shared.warehouse import schema as wh

k = wh.conflicts

CONFLICT_SORTS = {
    "last_seen_at": k.c.last_seen_at,
    "first_seen_at": k.c.first_seen_at,
    "severity": k.c.severity,
    "kind": k.c.kind,
    "client_id": k.c.client_id,
}


def conflict_scope(principal: Principal) -> ColumnElement[bool] | None:
    """A conflict about a client follows the client's region; one about an advisor alone
    (over capacity) is visible where the advisor serves a territory of the caller's."""
    if principal.region_scope is None:
        return None
    return or_(
        k.c.client_id.in_(visible_clients(principal)),
        and_(
            k.c.client_id.is_(None),
            k.c.advisor_email.in_(visible_advisor_emails(principal)),
        ),
    )


def visible_territory_ids(session: Session, principal: Principal) -> set[str] | None:
    if principal.region_scope is None:
        return None
    t = wh.territory_dim
    return set(session.scalars(scoped(select(t.c.territory_id), principal, t.c.region)))


def conflict_record(row: Any, mask: Masker, territories_seen: set[str] | None) -> ConflictRecord:
    territories = row["territory_ids"] or []
    if isinstance(territories, list) and territories_seen is not None:
        # An advisor's conflict may name territories of other regions: those stay hidden.
        territories = [x for x in territories if x in territories_seen]
    return ConflictRecord(
        conflict_id=mask.text(row["conflict_id"]) or "",
        kind=row["kind"],
        severity=row["severity"],
        action=row["action"],
        client_id=row["client_id"],
        territory_ids=[str(x) for x in territories] if isinstance(territories, list) else [],
        advisor=mask.advisor(row["advisor_email"]),
        ruleset_version=row["ruleset_version"],
        detail=mask.text(row["detail"]) or "",
        resolved=bool(row["resolved"]),
        first_seen_at=row["first_seen_at"],
        last_seen_at=row["last_seen_at"],
    )


def list_conflicts(
    session: Session,
    principal: Principal,
    mask: Masker,
    *,
    kind: str | None,
    severity: str | None,
    resolved: bool | None,
    client_id: str | None,
    page: Page,
    sort: str | None,
) -> tuple[list[ConflictRecord], int]:
    conditions: list[ColumnElement[bool]] = []
    if kind:
        conditions.append(k.c.kind == kind)
    if severity:
        conditions.append(k.c.severity == severity)
    if resolved is not None:
        conditions.append(k.c.resolved.is_(resolved))
    if client_id:
        conditions.append(k.c.client_id == client_id)
    scope = conflict_scope(principal)
    if scope is not None:
        conditions.append(scope)
    stmt = order_by(
        select(k).where(*conditions), sort, CONFLICT_SORTS, "-last_seen_at", k.c.conflict_id
    )
    rows, total = fetch_page(session, stmt, page, select(k.c.conflict_id).where(*conditions))
    seen = visible_territory_ids(session, principal)
    forbid_tax_ids(session, mask, [r["client_id"] for r in rows if r["client_id"]])
    return [conflict_record(r, mask, seen) for r in rows], total


def conflict_resolved(session: Session, principal: Principal, conflict_id: str) -> bool | None:
    """Whether the conflict is resolved; None when it does not exist for this caller."""
    stmt = select(k.c.resolved).where(k.c.conflict_id == conflict_id)
    scope = conflict_scope(principal)
    if scope is not None:
        stmt = stmt.where(scope)
    row = session.execute(stmt).first()
    return None if row is None else bool(row.resolved)
