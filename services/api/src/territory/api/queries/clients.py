"""Golden clients: the list with the dashboard's filters, detail with lineage and history,
and the organisation hierarchy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from territory.api.deps import Page
from territory.api.masking import Masker
from territory.api.queries import quality
from territory.api.queries.assignments import (
    advisor_names,
    assignment_columns,
    assignment_record,
)
from territory.api.queries.common import (
    fetch_page,
    forbid_tax_ids,
    in_scope,
    order_by,
    scoped,
    visible_clients,
)
from territory.api.schemas import (
    ClientDetail,
    ClientSummary,
    GoldenRecord,
    HierarchyNode,
    SourceMatch,
    SourceRecord,
)
from territory.api.security import Principal
from territory.shared import fields
from territory.shared.warehouse import schema as wh

c = wh.client_dim
a = wh.advisor_dim

CLIENT_SORTS = {
    "name": c.c.name,
    "region": c.c.region,
    "segment": c.c.segment,
    "tier": c.c.tier,
    "territory_id": c.c.territory_id,
    "aum_usd": c.c.aum_usd,
    "updated_at": c.c.updated_at,
    "client_id": c.c.client_id,
}


@dataclass(frozen=True, slots=True)
class ClientFilters:
    region: str | None = None
    segment: str | None = None
    tier: str | None = None
    territory_id: str | None = None
    advisor_email: str | None = None
    q: str | None = None
    parent_client_id: str | None = None


_MONEY = frozenset(f for f in fields.DESCRIPTIVE_FIELDS if fields.value_type(f) is Decimal)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def client_summary(row: Any, mask: Masker) -> ClientSummary:
    return ClientSummary(
        client_id=row["client_id"],
        name=row["name"],
        region=row["region"],
        segment=row["segment"],
        country=row["country"],
        tier=row["tier"],
        territory_id=row["territory_id"],
        advisor=mask.advisor(row["advisor_email"], row["advisor_name"]),
        parent_client_id=row["parent_client_id"],
        aum_usd=_num(row["aum_usd"]),
        annual_revenue_usd=_num(row["annual_revenue_usd"]),
        updated_at=row["updated_at"],
    )


def visible_parent(principal: Principal) -> ColumnElement[Any]:
    """The parent id, or null when the parent lies outside the caller's regions."""
    if principal.region_scope is None:
        return c.c.parent_client_id.label("parent_client_id")
    parent = c.alias("parent")
    visible = scoped(select(parent.c.client_id), principal, parent.c.region).where(
        parent.c.client_id == c.c.parent_client_id
    )
    return case((visible.exists(), c.c.parent_client_id), else_=None).label("parent_client_id")


def summary_select(principal: Principal) -> Select[Any]:
    return select(
        c.c.client_id,
        c.c.name,
        c.c.region,
        c.c.segment,
        c.c.country,
        c.c.tier,
        c.c.territory_id,
        c.c.advisor_email,
        a.c.name.label("advisor_name"),
        visible_parent(principal),
        c.c.aum_usd,
        c.c.annual_revenue_usd,
        c.c.updated_at,
    ).select_from(c.outerjoin(a, a.c.advisor_email == c.c.advisor_email))


def _filters(f: ClientFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [c.c.retired.is_(False)]
    if f.region:
        conditions.append(c.c.region == f.region.upper())
    if f.segment:
        conditions.append(c.c.segment == f.segment)
    if f.tier:
        conditions.append(c.c.tier == f.tier)
    if f.territory_id:
        conditions.append(c.c.territory_id == f.territory_id)
    if f.advisor_email:
        conditions.append(c.c.advisor_email == f.advisor_email)
    if f.parent_client_id:
        conditions.append(c.c.parent_client_id == f.parent_client_id)
    if f.q:
        conditions.append(c.c.name.ilike(f"%{_escape_like(f.q)}%", escape="\\"))
    return conditions


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_clients(
    session: Session,
    principal: Principal,
    mask: Masker,
    filters: ClientFilters,
    page: Page,
    sort: str | None,
) -> tuple[list[ClientSummary], int]:
    conditions = _filters(filters)
    stmt = scoped(summary_select(principal).where(*conditions), principal, c.c.region)
    stmt = order_by(stmt, sort, CLIENT_SORTS, "name", c.c.client_id)
    count = scoped(select(c.c.client_id).where(*conditions), principal, c.c.region)
    rows, total = fetch_page(session, stmt, page, count)
    return [client_summary(r, mask) for r in rows], total


def _record_values(row: Any, mask: Masker) -> dict[str, Any]:
    """The golden record's descriptive fields (the contract's, `territory.shared.fields`),
    named for the API, masked for this caller."""
    values: dict[str, Any] = {}
    for field in fields.DESCRIPTIVE_FIELDS:
        value = row[fields.warehouse_name(field)]
        if field == fields.ADVISOR_HINT:
            value = mask.advisor(value, row["hint_advisor_name"])
        elif field == "tax_id":
            value = mask.tax_id(value)
        elif field in _MONEY:
            value = _num(value)
        values[fields.api_name(field)] = value
    return values


def _best_evidence(value: Any) -> dict[str, Any]:
    """The first (most confident) entry of CLIENT_SOURCE_MATCH.evidence ({}: none)."""
    if isinstance(value, str):  # JSON kept as text (Snowflake)
        value = json.loads(value)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return {}


def _source_match(row: Any, mask: Masker) -> SourceMatch | None:
    """Why this source record is in the client, scrubbed like every other evidence: the
    candidate id is dropped outside the caller's regions, reasons lose e-mails, tax ids and
    out-of-region ids."""
    if row["match_decision"] is None:
        return None
    best = _best_evidence(row["match_evidence"])
    scores = best.get("field_scores")
    candidate = best.get("candidate_client_id")
    return SourceMatch(
        decision=row["match_decision"],
        confidence=_num(row["match_confidence"]),
        candidate_client_id=mask.client(str(candidate)) if candidate else None,
        field_scores={
            str(k): float(v)
            for k, v in (scores.items() if isinstance(scores, dict) else [])
            if isinstance(v, int | float)
        },
        reasons=[mask.text(str(x)) or "" for x in best.get("reasons") or []],
        occurred_at=row["match_occurred_at"],
    )


def client_detail(
    session: Session, principal: Principal, mask: Masker, client_id: str
) -> ClientDetail | None:
    golden_stmt = scoped(
        select(c, a.c.name.label("hint_advisor_name"), visible_parent(principal).label("parent"))
        .select_from(c.outerjoin(a, a.c.advisor_email == c.c.advisor_email_hint))
        .where(c.c.client_id == client_id),
        principal,
        c.c.region,
    )
    row = session.execute(golden_stmt).mappings().first()
    if row is None:
        return None
    golden = GoldenRecord(
        client_id=row["client_id"],
        **_record_values(row, mask),
        parent_client_id=row["parent"],
        decision=row["decision"],
        version=row["version"],
    )
    src = wh.client_source_record
    stg = wh.clients_staging
    # Match rows only for source keys in the client's lineage: what the loader keeps, and
    # the join makes sure of it (a record that moved shows under its new client only).
    m = wh.client_source_match
    sources = (
        session.execute(
            select(
                src.c.source_key,
                src.c.source_system,
                src.c.source_id,
                src.c.updated_at,
                stg.c.name,
                stg.c.parent_source_id,
                stg.c.country,
                stg.c.tax_id,
                stg.c.lei,
                stg.c.advisor_email_hint,
                m.c.decision.label("match_decision"),
                m.c.confidence.label("match_confidence"),
                m.c.evidence.label("match_evidence"),
                m.c.occurred_at.label("match_occurred_at"),
            )
            .select_from(
                src.outerjoin(stg, stg.c.source_key == src.c.source_key).outerjoin(
                    m, and_(m.c.client_id == src.c.client_id, m.c.source_key == src.c.source_key)
                )
            )
            .where(src.c.client_id == client_id)
            .order_by(src.c.source_key)
            .limit(500)
        )
        .mappings()
        .all()
    )
    mask.forbid([row["tax_id"], *(s["tax_id"] for s in sources)])
    candidates = (_best_evidence(s["match_evidence"]).get("candidate_client_id") for s in sources)
    forbid_tax_ids(session, mask, [str(cid) for cid in candidates if cid and cid != client_id])
    source_records = [
        SourceRecord(
            source_key=s["source_key"],
            source_system=s["source_system"],
            source_id=s["source_id"],
            updated_at=s["updated_at"],
            name=s["name"],
            parent_source_id=s["parent_source_id"],
            country=s["country"],
            tax_id=mask.tax_id(s["tax_id"]),
            lei=s["lei"],
            advisor_hint=mask.advisor(s["advisor_email_hint"]),
            match=_source_match(s, mask),
        )
        for s in sources
    ]
    f = wh.assignments_fact
    history_rows = (
        session.execute(
            select(*assignment_columns())
            .select_from(f)
            .where(f.c.client_id == client_id)
            .order_by(f.c.effective_from.desc(), f.c.event_id)
            .limit(200)
        )
        .mappings()
        .all()
    )
    names = advisor_names(session, history_rows)
    history = [assignment_record(h, mask, names) for h in history_rows]
    current = next((h for h in history if h.is_current), None)
    return ClientDetail(
        golden=golden,
        source_records=source_records,
        current_assignment=current,
        history=history,
        masked=mask.masked_fields,
        field_issues=quality.client_issues(session, mask, client_id),
    )


def hierarchy(
    session: Session,
    principal: Principal,
    mask: Masker,
    *,
    parent_id: str | None,
    q: str | None,
    page: Page,
    region: str | None = None,
    segment: str | None = None,
) -> tuple[list[HierarchyNode], int] | None:
    """One level of the tree: the roots, the children of `parent_id`, or (with `q`) the
    clients whose name matches, each with its path from the root. A parent outside the
    caller's regions is not shown: its visible subsidiaries appear as roots instead.
    None: `parent_id` is not visible to the caller."""
    scope = in_scope(principal, c.c.region)
    visible = visible_clients(principal).where(c.c.retired.is_(False))
    child = c.alias("child")
    child_count = (
        select(func.count())
        .select_from(child)
        .where(child.c.parent_client_id == c.c.client_id, child.c.retired.is_(False))
    )
    if scope is not None:
        child_count = child_count.where(child.c.region.in_(sorted(principal.region_scope or ())))
    stmt = summary_select(principal).add_columns(child_count.scalar_subquery().label("child_count"))
    conditions: list[ColumnElement[bool]] = [c.c.retired.is_(False)]
    if scope is not None:
        conditions.append(scope)
    if region:
        conditions.append(c.c.region == region.upper())
    if segment:
        conditions.append(c.c.segment == segment)
    if q:
        conditions.append(c.c.name.ilike(f"%{_escape_like(q)}%", escape="\\"))
        if parent_id:
            conditions.append(c.c.parent_client_id == parent_id)
    elif parent_id:
        exists = session.scalar(visible.where(c.c.client_id == parent_id))
        if exists is None:
            return None
        conditions.append(c.c.parent_client_id == parent_id)
    elif scope is None:
        conditions.append(c.c.parent_client_id.is_(None))
    else:
        # A root for this caller: no parent, or a parent outside its regions (a primary
        # key lookup per candidate, not a scan of every visible client).
        parent = c.alias("parent")
        visible_parent_row = scoped(
            select(parent.c.client_id).where(parent.c.client_id == c.c.parent_client_id),
            principal,
            parent.c.region,
        )
        conditions.append(or_(c.c.parent_client_id.is_(None), ~visible_parent_row.exists()))
    stmt = stmt.where(and_(*conditions)).order_by(c.c.name, c.c.client_id)
    count = select(c.c.client_id).where(and_(*conditions))
    rows, total = fetch_page(session, stmt, page, count)
    nodes = []
    for r in rows:
        summary = client_summary(r, mask)
        path = _path(session, principal, r["parent_client_id"]) if q else []
        nodes.append(
            HierarchyNode(
                client_id=summary.client_id,
                name=summary.name,
                region=summary.region,
                segment=summary.segment,
                tier=summary.tier,
                territory_id=summary.territory_id,
                advisor=summary.advisor,
                parent_client_id=summary.parent_client_id,
                child_count=int(r["child_count"] or 0),
                path=path,
            )
        )
    return nodes, total


def _path(session: Session, principal: Principal, parent_id: str | None) -> list[str]:
    """Ancestors from the root down, stopping at the first one the caller may not see."""
    path: list[str] = []
    seen: set[str] = set()
    while parent_id and parent_id not in seen and len(path) < 50:
        seen.add(parent_id)
        row = session.execute(
            scoped(
                select(c.c.client_id, c.c.parent_client_id).where(c.c.client_id == parent_id),
                principal,
                c.c.region,
            )
        ).first()
        if row is None:
            break
        path.append(row.client_id)
        parent_id = row.parent_client_id
    return list(reversed(path))
