"""Figures for the dashboard's home page, within the caller's regions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from territory.api.counting import cached
from territory.api.queries.common import in_scope, scoped, visible_advisor_emails
from territory.api.queries.conflicts import conflict_scope
from territory.api.queries.rulesets import active_version
from territory.api.schemas import Summary
from territory.api.security import Principal
from territory.shared.warehouse import schema as wh

c = wh.client_dim


def summary(session: Session, principal: Principal, *, sees_dedupe: bool) -> Summary:
    """The figures, computed at most once per cache period for each scope."""
    scope = principal.region_scope
    key = f"summary|{sorted(scope) if scope is not None else '*'}|{sees_dedupe}"
    return cached(session, key, lambda: _summary(session, principal, sees_dedupe=sees_dedupe))


def _summary(session: Session, principal: Principal, *, sees_dedupe: bool) -> Summary:
    live = c.c.retired.is_(False)
    by_region = session.execute(
        scoped(
            select(c.c.region, func.count(), func.count(c.c.territory_id))
            .where(live)
            .group_by(c.c.region),
            principal,
            c.c.region,
        )
    ).all()
    clients = sum(int(n) for _, n, _ in by_region)
    assigned = sum(int(m) for _, _, m in by_region)
    t = wh.territory_dim
    territories = session.scalar(
        scoped(
            select(func.count()).select_from(t).where(t.c.active.is_(True)), principal, t.c.region
        )
    )
    a = wh.advisor_dim
    advisors_stmt = select(func.count()).select_from(a).where(a.c.active.is_(True))
    if principal.region_scope is not None:
        advisors_stmt = advisors_stmt.where(
            a.c.advisor_email.in_(visible_advisor_emails(principal))
        )
    k = wh.conflicts
    conflicts_stmt = select(func.count()).select_from(k).where(k.c.resolved.is_(False))
    scope = conflict_scope(principal)
    if scope is not None:
        conflicts_stmt = conflicts_stmt.where(scope)
    f = wh.assignments_fact
    since = datetime.now(UTC) - timedelta(days=7)
    changes_stmt = select(func.count()).select_from(f).where(f.c.effective_from >= since)
    client_scope = in_scope(principal, c.c.region)
    if client_scope is not None:
        changes_stmt = changes_stmt.join(c, c.c.client_id == f.c.client_id).where(client_scope)
    reviews = None
    if sees_dedupe:
        r = wh.dedupe_review
        reviews = int(
            session.scalar(select(func.count()).select_from(r).where(r.c.status == "open")) or 0
        )
    scope_regions = principal.region_scope
    return Summary(
        regions=None if scope_regions is None else sorted(scope_regions),
        clients=clients,
        unassigned_clients=clients - assigned,
        clients_by_region={str(region or "unknown"): int(n) for region, n, _ in by_region},
        territories=int(territories or 0),
        advisors=int(session.scalar(advisors_stmt) or 0),
        open_conflicts=int(session.scalar(conflicts_stmt) or 0),
        open_dedupe_reviews=reviews,
        assignment_changes_7d=int(session.scalar(changes_stmt) or 0),
        active_ruleset_version=active_version(session),
    )
