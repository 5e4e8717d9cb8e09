"""Data quality: field issues (field-level quarantine) per client, summed by field and code,
within the caller's regions; raw values of PII fields masked for roles that may not see
them (`territory.shared.access`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from territory.api.deps import Page
from territory.api.masking import MASK, Masker
from territory.api.queries.common import fetch_page, scoped
from territory.api.schemas import DataQualitySummary, FieldIssueCount, FieldIssueRecord
from territory.api.security import Principal
from territory.shared import fields
from territory.shared.warehouse import schema as wh

fi = wh.client_field_issues
c = wh.client_dim


def _visible(stmt: Select[Any], principal: Principal) -> Select[Any]:
    """Issues of live golden clients within the caller's regions. An issue not yet linked
    to a golden client has no region: only callers with every region see those."""
    stmt = stmt.where(c.c.retired.is_(False))
    return scoped(stmt, principal, c.c.region)


def issue_record(row: Any, mask: Masker) -> FieldIssueRecord:
    field = row["field"]
    raw = row["raw"]
    message = row["message"] or ""
    if field == "tax_id":
        raw = mask.tax_id(raw)
    elif field == fields.ADVISOR_HINT:
        raw = mask.email(raw)
    else:
        raw = mask.text(raw)
    if raw is None and row["raw"]:
        # A masked value may not reappear inside its message either.
        message = message.replace(row["raw"], MASK)
    return FieldIssueRecord(
        client_id=row["client_id"],
        client_name=row["client_name"],
        source_key=row["source_key"],
        field=field,
        code=row["code"],
        raw=raw,
        message=mask.text(message) or "",
        occurred_at=row["occurred_at"],
    )


def _columns() -> tuple[Any, ...]:
    return (
        fi.c.client_id,
        c.c.name.label("client_name"),
        fi.c.source_key,
        fi.c.field,
        fi.c.code,
        fi.c.raw,
        fi.c.message,
        fi.c.occurred_at,
    )


def client_issues(session: Session, mask: Masker, client_id: str) -> list[FieldIssueRecord]:
    """The field issues of one client (the caller may already see it)."""
    rows = session.execute(
        select(*_columns())
        .select_from(fi.outerjoin(c, c.c.client_id == fi.c.client_id))
        .where(fi.c.client_id == client_id)
        .order_by(fi.c.source_key, fi.c.issue_no)
        .limit(500)
    ).mappings()
    return [issue_record(r, mask) for r in rows]


def summary(
    session: Session, principal: Principal, mask: Masker, *, field: str | None = None
) -> DataQualitySummary:
    joined = fi.join(c, c.c.client_id == fi.c.client_id)
    stmt = select(
        fi.c.field,
        fi.c.code,
        func.count().label("issues"),
        func.count(func.distinct(fi.c.client_id)).label("clients"),
    ).select_from(joined)
    if field is not None:
        stmt = stmt.where(fi.c.field == field)
    stmt = _visible(stmt, principal).group_by(fi.c.field, fi.c.code)
    counts = [
        FieldIssueCount(field=r.field, code=r.code, issues=r.issues, clients=r.clients)
        for r in session.execute(stmt)
    ]
    counts.sort(key=lambda x: (-x.issues, x.field, x.code))
    clients_stmt = select(func.count(func.distinct(fi.c.client_id))).select_from(joined)
    if field is not None:
        clients_stmt = clients_stmt.where(fi.c.field == field)
    clients = session.scalar(_visible(clients_stmt, principal)) or 0
    by_field: dict[str, int] = {}
    for item in counts:
        by_field[item.field] = by_field.get(item.field, 0) + item.issues
    return DataQualitySummary(
        issues=sum(x.issues for x in counts),
        clients_with_issues=int(clients),
        by_field=dict(sorted(by_field.items())),
        by_field_and_code=counts,
        masked=mask.masked_fields,
    )


def list_issues(
    session: Session,
    principal: Principal,
    mask: Masker,
    page: Page,
    *,
    field: str | None = None,
    code: str | None = None,
) -> tuple[list[FieldIssueRecord], int]:
    conditions = []
    if field is not None:
        conditions.append(fi.c.field == field)
    if code is not None:
        conditions.append(fi.c.code == code)
    stmt = _visible(
        select(*_columns()).select_from(fi.join(c, c.c.client_id == fi.c.client_id)),
        principal,
    ).where(*conditions)
    stmt = stmt.order_by(fi.c.field, fi.c.code, fi.c.source_key, fi.c.issue_no)
    rows, total = fetch_page(session, stmt, page)
    return [issue_record(r, mask) for r in rows], total
