"""Territories of the ruleset, with their advisors and client counts."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from territory.api.counting import cached
from territory.api.deps import Page
from territory.api.masking import Masker
from territory.api.queries.common import fetch_page, order_by, scoped
from territory.api.schemas import AdvisorRef, TerritoryDetail, TerritorySummary, TierCount
from territory.api.security import Principal
from territory.shared.warehouse import schema as wh

t = wh.territory_dim
c = wh.client_dim
ta = wh.territory_advisor
a = wh.advisor_dim

TERRITORY_SORTS = {
    "territory_id": t.c.territory_id,
    "name": t.c.name,
    "region": t.c.region,
    "segment": t.c.segment,
    "tier": t.c.tier,
}


def client_counts(session: Session) -> dict[str, int]:
    """Live clients per territory: one grouped scan, shared by every caller for a few
    seconds (a territory is visible whole or not at all, so the counts need no scope)."""

    def compute() -> dict[str, int]:
        rows = session.execute(
            select(c.c.territory_id, func.count())
            .where(c.c.retired.is_(False), c.c.territory_id.is_not(None))
            .group_by(c.c.territory_id)
        )
        return {str(tid): int(n) for tid, n in rows}

    return cached(session, "territory-client-counts", compute)


def _advisors(session: Session, mask: Masker, ids: list[str]) -> dict[str, list[AdvisorRef]]:
    out: dict[str, list[AdvisorRef]] = defaultdict(list)
    if not ids:
        return out
    rows = session.execute(
        select(ta.c.territory_id, ta.c.advisor_email, a.c.name)
        .select_from(ta.outerjoin(a, a.c.advisor_email == ta.c.advisor_email))
        .where(ta.c.territory_id.in_(ids))
        .order_by(ta.c.territory_id, ta.c.advisor_email)
    )
    for territory_id, email, name in rows:
        ref = mask.advisor(email, name)
        if ref is not None:
            out[territory_id].append(ref)
    return out


def _summary(row: Any, advisors: list[AdvisorRef], count: int) -> dict[str, Any]:
    return {
        "territory_id": row["territory_id"],
        "name": row["name"],
        "region": row["region"],
        "segment": row["segment"],
        "tier": row["tier"],
        "active": bool(row["active"]),
        "ruleset_version": row["ruleset_version"],
        "advisors": advisors,
        "client_count": count,
    }


def list_territories(
    session: Session,
    principal: Principal,
    mask: Masker,
    *,
    region: str | None,
    segment: str | None,
    tier: str | None,
    q: str | None,
    include_inactive: bool,
    page: Page,
    sort: str | None,
) -> tuple[list[TerritorySummary], int]:
    conditions: list[ColumnElement[bool]] = []
    if not include_inactive:
        conditions.append(t.c.active.is_(True))
    if region:
        conditions.append(t.c.region == region.upper())
    if segment:
        conditions.append(t.c.segment == segment)
    if tier:
        conditions.append(t.c.tier == tier)
    if q:
        conditions.append(t.c.name.ilike(f"%{q}%") | t.c.territory_id.ilike(f"%{q}%"))
    base = scoped(select(t.c.territory_id).where(*conditions), principal, t.c.region)
    stmt = scoped(select(t).where(*conditions), principal, t.c.region)
    stmt = order_by(stmt, sort, TERRITORY_SORTS, "territory_id", t.c.territory_id)
    rows, total = fetch_page(session, stmt, page, base)
    advisors = _advisors(session, mask, [r["territory_id"] for r in rows])
    counts = client_counts(session)
    items = [
        TerritorySummary(
            **_summary(r, advisors[r["territory_id"]], counts.get(r["territory_id"], 0))
        )
        for r in rows
    ]
    return items, total


def territory_detail(
    session: Session, principal: Principal, mask: Masker, territory_id: str
) -> TerritoryDetail | None:
    stmt = scoped(
        select(t).where(t.c.territory_id == territory_id),
        principal,
        t.c.region,
    )
    row = session.execute(stmt).mappings().first()
    if row is None:
        return None
    advisors = _advisors(session, mask, [territory_id])[territory_id]
    tiers = session.execute(
        select(c.c.tier, func.count())
        .where(c.c.territory_id == territory_id, c.c.retired.is_(False))
        .group_by(c.c.tier)
        .order_by(c.c.tier)
    ).all()
    return TerritoryDetail(
        **_summary(row, advisors, client_counts(session).get(territory_id, 0)),
        clients_by_tier=[TierCount(tier=tier, clients=int(n)) for tier, n in tiers],
    )


def territory_visible(session: Session, principal: Principal, territory_id: str) -> bool:
    stmt = scoped(
        select(t.c.territory_id).where(t.c.territory_id == territory_id), principal, t.c.region
    )
    return session.scalar(stmt) is not None
