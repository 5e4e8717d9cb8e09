"""Shapes every resource uses: pages, accepted actions, advisors as a caller sees them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Protocol, Self, TypeVar
from uuid import UUID

from pydantic import BaseModel, Field

T = TypeVar("T")


class Window(Protocol):
    @property
    def limit(self) -> int: ...

    @property
    def offset(self) -> int: ...


class Paged(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(..., description="Rows matching the filters (all pages).")
    limit: int = Field(..., description="The page size used (after capping).")
    offset: int

    @classmethod
    def of(cls, items: Sequence[T], total: int, page: Window) -> Self:
        """One page of `total` rows, as the caller asked for it (after capping)."""
        return cls(items=list(items), total=total, limit=page.limit, offset=page.offset)


class Accepted(BaseModel):
    """An action was published as an event; the owning service carries it out."""

    event_id: UUID
    event_type: str
    topic: str
    detail: str | None = None


class AdvisorRef(BaseModel):
    """An advisor as a caller may see them: `email` is null for roles that may not see
    e-mails; `advisor_id` is an opaque, stable key usable in every advisor route."""

    advisor_id: str
    email: str | None = None
    name: str | None = None
