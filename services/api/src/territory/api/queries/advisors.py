"""Advisors with capacity, and their workload: clients and utilisation by tier."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from territory.api.counting import cached
from territory.api.deps import Page
from territory.api.masking import Masker
from territory.api.queries.clients import ClientFilters, list_clients
from territory.api.queries.common import fetch_page, in_scope, order_by, visible_advisor_emails
from territory.api.schemas import AdvisorSummary, AdvisorWorkload, Paged, TierLoad
from territory.api.security import Principal, advisor_id
from territory.shared.warehouse import schema as wh

a = wh.advisor_dim
c = wh.client_dim
ta = wh.territory_advisor
t = wh.territory_dim

ADVISOR_SORTS = {"name": a.c.name, "total_capacity": a.c.total_capacity, "email": a.c.advisor_email}


def resolve_advisor(session: Session, principal: Principal, secret: str, key: str) -> str | None:
    """The e-mail of an advisor named by `advisor_id` (anyone) or by e-mail (only callers
    who may see e-mails), among the advisors the caller may see."""
    visible = select(a.c.advisor_email)
    if principal.region_scope is not None:
        visible = visible.where(a.c.advisor_email.in_(visible_advisor_emails(principal)))
    if "@" in key:
        if not principal.sees_emails:
            return None
        return session.scalar(visible.where(a.c.advisor_email == key.strip().lower()))
    if not key.startswith("adv_"):
        return None
    # Advisors number in the thousands: hashing them all is cheap and keeps the key opaque.
    for email in session.scalars(visible):
        if advisor_id(email, secret) == key:
            return str(email)
    return None


def advisor_filter(
    session: Session, principal: Principal, secret: str, key: str | None
) -> str | Literal[False] | None:
    """The e-mail a list filters by: None without a filter, False when `key` names no
    advisor the caller may see (the answer is then an empty page, not an error)."""
    if key is None:
        return None
    return resolve_advisor(session, principal, secret, key) or False


def _client_counts(
    session: Session, principal: Principal, emails: list[str]
) -> dict[str, dict[str | None, int]]:
    """Live clients per advisor and tier, within the caller's regions: one grouped scan
    for all advisors, shared for a few seconds by the callers of the same scope."""
    region_scope = principal.region_scope
    key = f"advisor-client-counts|{sorted(region_scope) if region_scope is not None else '*'}"

    def compute() -> dict[str, dict[str | None, int]]:
        stmt = (
            select(c.c.advisor_email, c.c.tier, func.count())
            .where(c.c.advisor_email.is_not(None), c.c.retired.is_(False))
            .group_by(c.c.advisor_email, c.c.tier)
        )
        scope = in_scope(principal, c.c.region)
        if scope is not None:
            stmt = stmt.where(scope)
        counts: dict[str, dict[str | None, int]] = {}
        for email, tier, n in session.execute(stmt):
            counts.setdefault(email, {})[tier] = int(n)
        return counts

    every = cached(session, key, compute)
    out: dict[str, dict[str | None, int]] = defaultdict(dict)
    for email in emails:
        out[email] = dict(every.get(email, {}))
    return out


def _territories(session: Session, principal: Principal, emails: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    if not emails:
        return out
    stmt = (
        select(ta.c.advisor_email, ta.c.territory_id)
        .join(t, t.c.territory_id == ta.c.territory_id)
        .where(ta.c.advisor_email.in_(emails))
        .order_by(ta.c.territory_id)
    )
    scope = in_scope(principal, t.c.region)
    if scope is not None:
        stmt = stmt.where(scope)
    for email, territory_id in session.execute(stmt):
        out[email].append(territory_id)
    return out


def _utilisation(clients: int, capacity: int | None) -> float | None:
    if not capacity:
        return None
    return round(clients / capacity, 4)


def _summary(
    row: Any, mask: Masker, counts: dict[str | None, int], territories: list[str]
) -> dict[str, Any]:
    capacity = {str(k): int(v) for k, v in (row["capacity"] or {}).items()}
    clients = sum(counts.values())
    ref = mask.advisor(row["advisor_email"], row["name"])
    if ref is None:  # pragma: no cover - advisor_email is the primary key
        raise ValueError("advisor without e-mail")
    return {
        **ref.model_dump(),
        "active": bool(row["active"]),
        "total_capacity": int(row["total_capacity"]),
        "capacity": capacity,
        "territory_ids": territories,
        "client_count": clients,
        "utilisation": _utilisation(clients, int(row["total_capacity"])),
    }


def list_advisors(
    session: Session,
    principal: Principal,
    mask: Masker,
    *,
    territory_id: str | None,
    q: str | None,
    include_inactive: bool,
    page: Page,
    sort: str | None,
) -> tuple[list[AdvisorSummary], int]:
    conditions: list[ColumnElement[bool]] = []
    if not include_inactive:
        conditions.append(a.c.active.is_(True))
    if principal.region_scope is not None:
        conditions.append(a.c.advisor_email.in_(visible_advisor_emails(principal)))
    if territory_id:
        conditions.append(
            a.c.advisor_email.in_(
                select(ta.c.advisor_email).where(ta.c.territory_id == territory_id)
            )
        )
    if q:
        searchable: ColumnElement[bool] = a.c.name.ilike(f"%{q}%")
        if principal.sees_emails:
            searchable = searchable | a.c.advisor_email.ilike(f"%{q}%")
        conditions.append(searchable)
    stmt = order_by(select(a).where(*conditions), sort, ADVISOR_SORTS, "name", a.c.advisor_email)
    if not principal.sees_emails and sort and sort.lstrip("-") == "email":
        stmt = order_by(
            select(a).where(*conditions), "name", ADVISOR_SORTS, "name", a.c.advisor_email
        )
    rows, total = fetch_page(session, stmt, page, select(a.c.advisor_email).where(*conditions))
    emails = [r["advisor_email"] for r in rows]
    counts = _client_counts(session, principal, emails)
    territories = _territories(session, principal, emails)
    items = [
        AdvisorSummary(
            **_summary(r, mask, counts[r["advisor_email"]], territories[r["advisor_email"]])
        )
        for r in rows
    ]
    return items, total


def workload(
    session: Session, principal: Principal, mask: Masker, email: str, page: Page
) -> AdvisorWorkload | None:
    row = session.execute(select(a).where(a.c.advisor_email == email)).mappings().first()
    if row is None:
        return None
    counts = _client_counts(session, principal, [email])[email]
    territories = _territories(session, principal, [email])[email]
    summary = _summary(row, mask, counts, territories)
    capacity: dict[str, int] = summary["capacity"]
    tiers = sorted(set(capacity) | {k for k in counts if k is not None}) + (
        [None] if None in counts else []
    )
    by_tier = [
        TierLoad(
            tier=tier,
            clients=counts.get(tier, 0),
            capacity=capacity.get(tier) if tier is not None else None,
            utilisation=_utilisation(counts.get(tier, 0), capacity.get(tier) if tier else None),
        )
        for tier in tiers
    ]
    clients, total = list_clients(
        session, principal, mask, ClientFilters(advisor_email=email), page, "name"
    )
    return AdvisorWorkload(
        **summary,
        by_tier=by_tier,
        clients=Paged.of(clients, total, page),
    )
