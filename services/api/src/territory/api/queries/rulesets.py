"""Published ruleset versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from territory.api.deps import Page
from territory.api.masking import Masker
from territory.api.queries.common import fetch_page
from territory.api.schemas import RulesetVersionDetail, RulesetVersionSummary
from territory.shared.warehouse import schema as wh

v = wh.ruleset_versions


def active_version(session: Session) -> str | None:
    """The latest published version is the active one (the rules service loads each
    `ruleset.published` in order)."""
    row = session.execute(
        select(v.c.version).order_by(v.c.published_at.desc(), v.c.loaded_at.desc()).limit(1)
    ).first()
    return None if row is None else str(row.version)


def _summary(row: Any, active: str | None) -> dict[str, Any]:
    return {
        "version": row["version"],
        "published_by": row["published_by"],
        "comment": row["comment"],
        "published_at": row["published_at"],
        "active": row["version"] == active,
    }


def list_versions(session: Session, page: Page) -> tuple[list[RulesetVersionSummary], int]:
    active = active_version(session)
    stmt = select(v.c.version, v.c.published_by, v.c.comment, v.c.published_at).order_by(
        v.c.published_at.desc(), v.c.version
    )
    rows, total = fetch_page(session, stmt, page, select(v.c.version))
    return [RulesetVersionSummary(**_summary(r, active)) for r in rows], total


def version_detail(session: Session, mask: Masker, version: str) -> RulesetVersionDetail | None:
    row = session.execute(select(v).where(v.c.version == version)).mappings().first()
    if row is None:
        return None
    document = row["document"] if isinstance(row["document"], dict) else {}
    return RulesetVersionDetail(
        **_summary(row, active_version(session)), document=mask.json(document)
    )
