"""PII masking for callers who may not see it (policy: `territory.shared.access`).

Typed fields are masked where the response is built (tax ids, advisor e-mails, which
become an opaque `advisor_id`); free text and JSON (decision traces, conflict details,
match evidence) are scrubbed as a second line: e-mail addresses in any string are
replaced and keys that name PII are emptied, so an e-mail inside a sentence written by
another service cannot slip through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from territory.api.schemas import AdvisorRef
from territory.api.security import Principal, advisor_id
from territory.shared.access import PII_KEYS, Pii

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
MASK = "[masked]"
_EMAIL_KEYS = PII_KEYS[Pii.EMAIL]
_TAX_KEYS = PII_KEYS[Pii.TAX_ID]


class Masker:
    def __init__(self, principal: Principal, secret: str) -> None:
        self.principal = principal
        self.secret = secret
        self.emails = principal.sees_emails
        self.tax_ids = principal.sees_tax_id
        self._forbidden: set[str] = set()

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
        if value is None or (self.emails and not self._forbidden):
            return value
        return self._cut(value)

    def json(self, value: Any) -> Any:
        if self.emails and self.tax_ids:
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
