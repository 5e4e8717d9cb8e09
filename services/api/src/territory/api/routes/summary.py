"""Figures for the dashboard's home page."""

from __future__ import annotations

from fastapi import APIRouter

from territory.api.deps import Reader, SessionDep
from territory.api.errors import PROBLEM_RESPONSES
from territory.api.queries import summary as queries
from territory.api.schemas import Summary
from territory.api.security import Role

router = APIRouter(prefix="/api/summary", tags=["summary"], responses=PROBLEM_RESPONSES)

_DEDUPE_ROLES = (Role.ADMIN, Role.DATA_ENGINEER, Role.CRM_ANALYST)


@router.get("", summary="Home page figures within your regions")
def get_summary(session: SessionDep, principal: Reader) -> Summary:
    return queries.summary(session, principal, sees_dedupe=principal.may(_DEDUPE_ROLES))
