"""Region scope, sorting and paging, shared by the resource queries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, select
from sqlalchemy.orm import Session

from territory.api.counting import cached
from territory.api.deps import Page
from territory.api.masking import Masker
from territory.api.security import Principal
from territory.shared.warehouse import schema as wh


def in_scope(principal: Principal, region: ColumnElement[Any]) -> ColumnElement[bool] | None:
    """The SQL condition restricting `region` to the caller's regions (None: no limit)."""
    scope = principal.region_scope
    if scope is None:
        return None
    if not scope:
        return false()
    return region.in_(sorted(scope))


def scoped(stmt: Select[Any], principal: Principal, region: ColumnElement[Any]) -> Select[Any]:
    condition = in_scope(principal, region)
    return stmt if condition is None else stmt.where(condition)


def visible_clients(principal: Principal) -> Select[Any]:
    """Ids of the golden clients the caller may see (for joins from other tables)."""
    return scoped(select(wh.client_dim.c.client_id), principal, wh.client_dim.c.region)


def visible_advisor_emails(principal: Principal) -> Select[Any]:
    """Advisors serving a territory in the caller's regions."""
    t = wh.territory_dim
    ta = wh.territory_advisor
    stmt = select(ta.c.advisor_email).join(t, t.c.territory_id == ta.c.territory_id)
    return scoped(stmt, principal, t.c.region)


def sort_pattern(fields: Sequence[str]) -> str:
    return rf"^-?({'|'.join(fields)})$"


def order_by(
    stmt: Select[Any],
    sort: str | None,
    columns: Mapping[str, ColumnElement[Any]],
    default: str,
    tiebreak: ColumnElement[Any],
) -> Select[Any]:
    key = sort or default
    descending = key.startswith("-")
    column = columns[key.lstrip("-")]
    ordered = column.desc() if descending else column.asc()
    return stmt.order_by(ordered, tiebreak)


def fetch_page(
    session: Session, stmt: Select[Any], page: Page, count: Select[Any] | None = None
) -> tuple[list[Any], int]:
    """One page of rows and the total; `count` is the filtered statement without the joins
    that only decorate rows (cheaper to count)."""
    base = (count if count is not None else stmt).order_by(None).subquery()
    count_stmt = select(func.count()).select_from(base)

    def counted() -> int:
        return int(session.scalar(count_stmt) or 0)

    if session.info.get("count_cache") is not None and session.bind is not None:
        compiled = count_stmt.compile(dialect=session.bind.dialect)
        key = f"{compiled}|{sorted(compiled.params.items(), key=lambda kv: kv[0])!r}"
        total = cached(session, key, counted)
    else:
        total = counted()
    rows = list(session.execute(stmt.limit(page.limit).offset(page.offset)).mappings())
    return rows, int(total)


def forbid_tax_ids(session: Session, mask: Masker, client_ids: Iterable[str]) -> None:
    """Tell the masker the tax ids of these clients (golden and source records), so that a
    tax id quoted in a trace, a reason or match evidence is cut out for roles that may not
    see it. Costs one indexed query, and only for those roles."""
    if mask.tax_ids:
        return
    ids = sorted(set(client_ids))[:1000]
    if not ids:
        return
    c = wh.client_dim
    mask.forbid(session.scalars(select(c.c.tax_id).where(c.c.client_id.in_(ids))))
    src = wh.client_source_record
    stg = wh.clients_staging
    mask.forbid(
        session.scalars(
            select(stg.c.tax_id)
            .join(src, src.c.source_key == stg.c.source_key)
            .where(src.c.client_id.in_(ids))
        )
    )
