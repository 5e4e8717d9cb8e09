"""PII masking for callers who may not see it (policy: `territory.shared.access`).

Typed fields are masked where the response is built (tax ids, advisor e-mails, which
become an opaque `advisor_id`); free text and JSON (decision traces, conflict details,
match evidence) are scrubbed as a second line: e-mail addresses in any string are
replaced and keys that name PII are emptied, so an e-mail inside a sentence written by
another service cannot slip through.

Region-scoped callers (SALES_LEADERSHIP) get a third line: texts written by the rules
service name other clients and territories ("follows its parent gc-… into APAC-NORTH").
Any client id or territory id the warehouse places outside the caller's regions is
replaced by `another region`, in free text and in every string of JSON, so a row the
caller may see never reveals a row it may not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from territory.api.schemas import AdvisorRef
from territory.api.security import Principal, advisor_id
from territory.shared.access import PII_KEYS, Pii
from territory.shared.warehouse import schema as wh

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
MASK = "[masked]"
OTHER_REGION = "another region"
# Ids are tokens with at least one hyphen (`gc-3f…`, `c-na-1`, `APAC-NORTH`); which tokens
# are ids of hidden rows is the warehouse's answer, not the pattern's.
ID_TOKEN = re.compile(r"(?<![\w\-])[A-Za-z0-9][\w]*(?:-[\w]+)+(?![\w\-])")
_EMAIL_KEYS = PII_KEYS[Pii.EMAIL]
_TAX_KEYS = PII_KEYS[Pii.TAX_ID]


class Masker:
    def __init__(self, principal: Principal, secret: str) -> None:
        self.principal = principal
        self.secret = secret
        self.emails = principal.sees_emails
        self.tax_ids = principal.sees_tax_id
        self._forbidden: set[str] = set()
        self.regions: RegionRedactor | None = None

    def restrict_regions(self, session: Session) -> None:
        """Redact ids of clients and territories outside the caller's regions (only for
        region-scoped callers; a no-op for the others)."""
        if self.principal.region_scope is not None:
            self.regions = RegionRedactor(session, self.principal.region_scope)

    def territory(self, territory_id: str | None) -> str | None:
        """A structured territory reference: kept in region, `another region` outside."""
        if territory_id is None or self.regions is None:
            return territory_id
        return OTHER_REGION if self.regions.hidden(territory_id) else territory_id

    def client(self, client_id: str | None) -> str | None:
        """A structured client reference (match evidence): null outside the caller's regions,
        so it names no row the caller may not see (and links nowhere)."""
        if client_id is None or self.regions is None:
            return client_id
        return None if self.regions.hidden(client_id) else client_id

    def forbid(self, values: Iterable[str | None]) -> None:
        """Literal values (the tax ids of the clients in a response) to cut out of free text
        and JSON: a tax id has no shape a pattern could find, but the warehouse knows it."""
        if not self.tax_ids:
            self._forbidden.update(v for v in values if v and len(v) >= 4)

    def _cut(self, text: str) -> str:
        for value in self._forbidden:
            if value in text:
                text = text.replace(value, MASK)
        if not self.emails:
            text = EMAIL.sub(MASK, text)
        if self.regions is not None:
            text = self.regions.redact(text)
        return text

    def email(self, value: str | None) -> str | None:
        return value if self.emails else None

    def tax_id(self, value: str | None) -> str | None:
        return value if self.tax_ids else None

    def advisor(self, email: str | None, name: str | None = None) -> AdvisorRef | None:
        if not email:
            return None
        return AdvisorRef(
            advisor_id=advisor_id(email, self.secret), email=self.email(email), name=name
        )

    def text(self, value: str | None) -> str | None:
        if value is None or (self.emails and not self._forbidden and self.regions is None):
            return value
        return self._cut(value)

    def json(self, value: Any) -> Any:
        if self.emails and self.tax_ids and self.regions is None:
            return value
        return self._scrub(value)

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                lowered = str(key).lower()
                if isinstance(item, str) and (
                    (lowered in _TAX_KEYS and not self.tax_ids)
                    or (lowered in _EMAIL_KEYS and not self.emails)
                ):
                    out[key] = None
                else:
                    out[key] = self._scrub(item)
            return out
        if isinstance(value, list):
            return [self._scrub(v) for v in value]
        if isinstance(value, str):
            return self._cut(value)
        return value

    @property
    def masked_fields(self) -> list[str]:
        return [
            *([] if self.tax_ids else ["tax_id"]),
            *([] if self.emails else ["emails"]),
        ]


class RegionRedactor:
    """Which ids in a text belong to rows outside `scope`, answered by the warehouse.

    Territories are few and loaded once; client ids are looked up as they appear (one
    indexed query per text with new candidates, cached for the request)."""

    def __init__(self, session: Session, scope: frozenset[str]) -> None:
        self.session = session
        self.scope = scope
        t = wh.territory_dim
        self._known: dict[str, bool] = {
            str(tid): region not in scope
            for tid, region in session.execute(select(t.c.territory_id, t.c.region))
        }

    def hidden(self, identifier: str) -> bool:
        self._look_up([identifier])
        return self._known.get(identifier, False)

    def _look_up(self, tokens: Iterable[str]) -> None:
        new = sorted({t for t in tokens if t not in self._known})
        if not new:
            return
        c = wh.client_dim
        stmt = select(c.c.client_id, c.c.region).where(c.c.client_id.in_(new[:1000]))
        found = {str(cid): region for cid, region in self.session.execute(stmt)}
        for token in new:
            region = found.get(token)
            # Unknown tokens are ordinary words ("least-utilised"): kept.
            self._known[token] = region is not None and region not in self.scope

    def redact(self, text: str) -> str:
        tokens = ID_TOKEN.findall(text)
        if not tokens:
            return text
        self._look_up(tokens)
        return ID_TOKEN.sub(
            lambda m: OTHER_REGION if self._known.get(m.group(0), False) else m.group(0), text
        )
