"""Assignment history (SCD2 rows of ASSIGNMENTS_FACT) and its trend over time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from territory.api.deps import Page
from territory.api.masking import Masker
from territory.api.queries.common import fetch_page, forbid_tax_ids, in_scope, order_by
from territory.api.schemas import AssignmentRecord, TrendPoint
from territory.api.security import Principal
from territory.shared.warehouse import schema as wh

f = wh.assignments_fact
c = wh.client_dim

ASSIGNMENT_SORTS = {
    "effective_from": f.c.effective_from,
    "territory_id": f.c.territory_id,
    "tier": f.c.tier,
    "ruleset_version": f.c.ruleset_version,
    "client_id": f.c.client_id,
}


def assignment_columns() -> list[ColumnElement[Any]]:
    return [
        f.c.event_id,
        f.c.client_id,
        f.c.territory_id,
        f.c.advisor_email,
        f.c.tier,
        f.c.previous_territory_id,
        f.c.previous_advisor_email,
        f.c.ruleset_version,
        f.c.rule_id,
        f.c.decision_level,
        f.c.reason,
        f.c.trace,
        f.c.changed_by,
        f.c.effective_from,
        f.c.effective_to,
        f.c.is_current,
    ]


def advisor_names(session: Session, rows: Iterable[Any]) -> dict[str, str]:
    """Advisors' names (ADVISOR_DIM, from the ruleset) for the advisors of these rows: the
    assignment event carries only the e-mail, so the read side joins the name."""
    emails = {r[col] for r in rows for col in ("advisor_email", "previous_advisor_email") if r[col]}
    if not emails:
        return {}
    a = wh.advisor_dim
    stmt = select(a.c.advisor_email, a.c.name).where(a.c.advisor_email.in_(sorted(emails)))
    return {email: name for email, name in session.execute(stmt) if name}


def assignment_record(
    row: Any, mask: Masker, names: Mapping[str, str] | None = None
) -> AssignmentRecord:
    trace = row["trace"]
    names = names or {}
    return AssignmentRecord(
        event_id=row["event_id"],
        client_id=row["client_id"],
        client_name=row.get("client_name"),
        territory_id=row["territory_id"],
        advisor=mask.advisor(row["advisor_email"], names.get(row["advisor_email"] or "")),
        tier=row["tier"],
        previous_territory_id=mask.territory(row["previous_territory_id"]),
        previous_advisor=mask.advisor(
            row["previous_advisor_email"], names.get(row["previous_advisor_email"] or "")
        ),
        ruleset_version=row["ruleset_version"],
        rule_id=row["rule_id"],
        decision_level=row["decision_level"],
        reason=mask.text(row["reason"]) or "",
        trace=mask.json(trace) if isinstance(trace, dict) else {"value": mask.json(trace)},
        changed_by=mask.text(row["changed_by"]) or "",
        effective_from=row["effective_from"],
        effective_to=row["effective_to"],
        is_current=bool(row["is_current"]),
    )


@dataclass(frozen=True, slots=True)
class AssignmentFilters:
    territory_id: str | None = None
    advisor_email: str | None = None
    client_id: str | None = None
    tier: str | None = None
    ruleset_version: str | None = None
    current_only: bool = True
    since: datetime | None = None


def _scoped_join(stmt: Select[Any], principal: Principal) -> Select[Any]:
    """Assignments carry no region: the client's region decides who may see them."""
    condition = in_scope(principal, c.c.region)
    return stmt if condition is None else stmt.where(condition)


def list_assignments(
    session: Session,
    principal: Principal,
    mask: Masker,
    filters: AssignmentFilters,
    page: Page,
    sort: str | None,
) -> tuple[list[AssignmentRecord], int]:
    conditions: list[ColumnElement[bool]] = []
    if filters.current_only:
        conditions.append(f.c.is_current.is_(True))
    if filters.territory_id:
        conditions.append(f.c.territory_id == filters.territory_id)
    if filters.advisor_email:
        conditions.append(f.c.advisor_email == filters.advisor_email)
    if filters.client_id:
        conditions.append(f.c.client_id == filters.client_id)
    if filters.tier:
        conditions.append(f.c.tier == filters.tier)
    if filters.ruleset_version:
        conditions.append(f.c.ruleset_version == filters.ruleset_version)
    if filters.since:
        conditions.append(f.c.effective_from >= filters.since)
    joined = f.join(c, c.c.client_id == f.c.client_id)
    stmt = select(*assignment_columns(), c.c.name.label("client_name")).select_from(joined)
    stmt = _scoped_join(stmt.where(*conditions), principal)
    stmt = order_by(stmt, sort, ASSIGNMENT_SORTS, "-effective_from", f.c.event_id)
    if principal.region_scope is None:
        count = select(f.c.event_id).where(*conditions)
    else:
        count = _scoped_join(select(f.c.event_id).select_from(joined).where(*conditions), principal)
    rows, total = fetch_page(session, stmt, page, count)
    forbid_tax_ids(session, mask, [r["client_id"] for r in rows])
    names = advisor_names(session, rows)
    return [assignment_record(r, mask, names) for r in rows], total


def trend(
    session: Session, principal: Principal, days: int, territory_id: str | None
) -> list[TrendPoint]:
    """Assignment changes per day over the last `days` days (for the trend chart)."""
    since = datetime.now(UTC) - timedelta(days=days)
    day = func.date(f.c.effective_from)
    stmt = select(day.label("day"), func.count().label("changes")).where(
        f.c.effective_from >= since
    )
    if territory_id:
        stmt = stmt.where(f.c.territory_id == territory_id)
    if principal.region_scope is not None:
        stmt = _scoped_join(stmt.join(c, c.c.client_id == f.c.client_id), principal)
    rows = session.execute(stmt.group_by(day).order_by(day)).all()
    return [TrendPoint(day=_as_date(r.day), changes=int(r.changes)) for r in rows]


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
