"""Territories of the ruleset, with their advisors and client counts."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from territory.api.counting import cached
from territory.api.deps import Page
from territory.api.masking import Masker
from territory.api.queries.clients import client_summary, summary_select
from territory.api.queries.common import fetch_page, order_by, scoped
from territory.api.schemas import (
    AdvisorRef,
    ClientSummary,
    TerritoryDetail,
    TerritorySummary,
    TierCount,
)
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


# ---- a territory's clients, keyset-paged ------------------------------------------------
# An offset page deep into 100,000 clients makes the database walk past every earlier row;
# a cursor (the last row's sort key and id) starts the next page where the last one ended,
# so page 2,000 costs what page 1 does. Nullable sort keys are coalesced so the order is
# total and the cursor comparison is exact.

CLIENT_KEYSET_SORTS: dict[str, ColumnElement[Any]] = {
    "name": c.c.name,
    "client_id": c.c.client_id,
    "tier": func.coalesce(c.c.tier, ""),
    "aum_usd": func.coalesce(c.c.aum_usd, -1.0),
}


class BadCursor(ValueError):
    """The cursor was not issued for this sort (or was tampered with)."""


def encode_cursor(sort: str, value: Any, client_id: str) -> str:
    raw = json.dumps([sort, value, client_id], separators=(",", ":"), default=float)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key, value, client_id = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise BadCursor("the cursor cannot be read") from exc
    if key != sort or not isinstance(client_id, str):
        raise BadCursor("the cursor belongs to another sort order")
    numeric = sort.lstrip("-") == "aum_usd"
    if isinstance(value, bool) or not isinstance(value, (int, float) if numeric else str):
        raise BadCursor("the cursor cannot be read")
    return value, client_id


def territory_clients(
    session: Session,
    principal: Principal,
    mask: Masker,
    territory_id: str,
    *,
    q: str | None,
    sort: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[ClientSummary], int, str | None]:
    key = sort or "name"
    descending = key.startswith("-")
    name = key.lstrip("-")
    column = CLIENT_KEYSET_SORTS[name]
    conditions: list[ColumnElement[bool]] = [
        c.c.retired.is_(False),
        c.c.territory_id == territory_id,
    ]
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(c.c.name.ilike(f"%{escaped}%", escape="\\"))
    count_stmt = scoped(
        select(func.count()).select_from(c).where(*conditions), principal, c.c.region
    )
    total = cached(
        session,
        f"territory-clients|{territory_id}|{q or ''}|{sorted(principal.region_scope or [])}"
        f"|{principal.region_scope is None}",
        lambda: int(session.scalar(count_stmt) or 0),
    )
    page_conditions = list(conditions)
    if cursor is not None:
        value, last_id = decode_cursor(cursor, key)
        # `key >= v AND (key > v OR id > last)`: the same rows as the textbook OR form, but
        # the leading range lets the database seek in the sort key's index instead of
        # scanning from the first row.
        if descending:
            page_conditions += [
                column <= value,
                or_(column < value, and_(column == value, c.c.client_id < last_id)),
            ]
        else:
            page_conditions += [
                column >= value,
                or_(column > value, and_(column == value, c.c.client_id > last_id)),
            ]
    stmt = scoped(
        summary_select(principal).add_columns(column.label("sort_key")).where(*page_conditions),
        principal,
        c.c.region,
    )
    order = (column.desc(), c.c.client_id.desc()) if descending else (column, c.c.client_id)
    rows = list(session.execute(stmt.order_by(*order).limit(limit + 1)).mappings())
    more = len(rows) > limit
    rows = rows[:limit]
    items = [client_summary(r, mask) for r in rows]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        sort_key = last["sort_key"]
        if name == "aum_usd":
            sort_key = float(sort_key)
        next_cursor = encode_cursor(key, sort_key, last["client_id"])
    return items, total, next_cursor
