"""Survivorship: which member record's value survives into the golden record, per field.

Rules (configurable per field, with a default):
- `most_recent`: the value of the member with the latest `updated_at`;
- `most_complete`: the value of the member record with the most filled fields;
- `source_priority`: the value from the most trusted source system (`source_priority`).
Members without a value never win (a blank never overwrites a value). Ties fall through to
the other rules in the order above and finally to the source key, so the golden record is
a pure function of its member set: the order in which records arrived does not matter.

Bound fields survive together, so the golden record is always one the contract accepts:
- the place (`address`, `postal_code`, `city`, `state`, `country`) comes from ONE member
  (the best by `address`, else by `city`, else by `country`) and `region` is that member's
  (derived from its country when it has none);
- the `tax_id` comes only from a member whose country is the golden record's country (a
  tax id is checked against the country it came with; a DE VAT number never sits beside
  `country=US`). Members of another country never contribute a tax id.

Quarantined field issues: the golden record carries the issues that explain a gap in it
(see `golden_field_issues`); every member's own issues stay on its source record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from territory.shared.events import ClientRecord, FieldIssue, Segment
from territory.shared.geo import region_for_country

Rule = Literal["most_recent", "most_complete", "source_priority"]

# Every field of the contract's record survives, except the ones that identify or order a
# source record (they belong to lineage, not to the golden client). Derived, so a field
# added to the contract reaches golden records without a second edit here.
NOT_SURVIVING = ("source_system", "source_id", "parent_source_id", "updated_at", "field_issues")
SURVIVING_FIELDS = [f for f in ClientRecord.model_fields if f not in NOT_SURVIVING]
# Fields that describe one place: they survive together from one member, so a golden
# record never pairs the city of one address with the postcode of another.
ADDRESS_FIELDS = ("country", "state", "city", "postal_code", "address", "region")
# Fields checked against the member's country: they survive only from members of the
# golden record's country.
COUNTRY_BOUND_FIELDS = ("tax_id",)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_DEFAULT_RULES: dict[str, Rule] = {
    "name": "source_priority",
    "lei": "source_priority",
    "tax_id": "source_priority",
    "address": "most_complete",
}


class SurvivorshipSettings(BaseModel):
    source_priority: list[str] = Field(
        default_factory=lambda: ["salesforce", "dynamics", "hubspot", "csv"],
        description="Most trusted source system first; unlisted systems come after.",
    )
    default_rule: Rule = "most_recent"
    rules: dict[str, Rule] = Field(default_factory=lambda: dict(_DEFAULT_RULES))


def completeness(record: ClientRecord) -> int:
    return sum(getattr(record, f) is not None for f in SURVIVING_FIELDS)


def golden_field_issues(
    members: Sequence[ClientRecord], values: Mapping[str, Any] | None = None
) -> list[FieldIssue]:
    """The quarantined values that explain a gap in the golden record: every member's
    issue (each once, in a member-order-free order) on a field for which no clean value
    survived (`segment`: the golden segment is `Other`). An issue on a field that survived
    clean from another member is superseded: it stays on that member's `client.received`
    record (and in the warehouse's source records), not on the golden client."""
    found = {i.identity: i for m in members for i in m.field_issues}
    if values is not None:
        found = {k: i for k, i in found.items() if _gap(values, i.field)}
    return [found[k] for k in sorted(found, key=lambda k: (k[0], k[1], k[2] or ""))]


def _quarantined(record: ClientRecord, field: str) -> bool:
    return any(issue.field == field for issue in record.field_issues)


def _gap(values: Mapping[str, Any], field: str) -> bool:
    if field not in values:
        return True  # not a surviving field (e.g. field_issues): always said
    value = values[field]
    return value is None or (field == "segment" and value == Segment.OTHER)


class Survivorship:
    def __init__(self, settings: SurvivorshipSettings | None = None) -> None:
        self.settings = settings or SurvivorshipSettings()
        self._priority = {s: i for i, s in enumerate(self.settings.source_priority)}

    def _facts(self, record: ClientRecord) -> tuple[float, int, int, str]:
        """What the rules rank by (smaller is better): recency, completeness, source
        priority, and the source key last (a total order)."""
        return (
            -(record.updated_at or _EPOCH).timestamp(),
            -completeness(record),
            self._priority.get(record.source_system, len(self._priority)),
            record.source_key,
        )

    def _rank(
        self, rule: Rule, record: ClientRecord, facts: dict[int, tuple[float, int, int, str]]
    ) -> tuple[Any, ...]:
        """Sort key: smaller is better. `facts`: `_facts` by record identity, filled here;
        the caller keeps every record it ranks alive while it uses `facts` (an identity is
        reused once its object is gone)."""
        held = facts.get(id(record))
        if held is None:
            held = facts[id(record)] = self._facts(record)
        recent, complete, priority, key = held
        if rule == "most_recent":
            return (recent, complete, priority, key)
        if rule == "most_complete":
            return (complete, recent, priority, key)
        return (priority, recent, complete, key)

    def best(
        self,
        members: Sequence[ClientRecord],
        field: str,
        facts: dict[int, tuple[float, int, int, str]] | None = None,
    ) -> ClientRecord | None:
        """The member whose `field` survives (`facts`: a cache the caller keeps while its
        members do not change)."""
        rule = self.settings.rules.get(field, self.settings.default_rule)
        having = [m for m in members if getattr(m, field) is not None]
        if len(having) <= 1:
            return having[0] if having else None
        cache = facts if facts is not None else {}
        return min(having, key=lambda m: self._rank(rule, m, cache))

    def golden_record(
        self, client_id: str, members: Sequence[ClientRecord], parent_client_id: str | None
    ) -> ClientRecord:
        """The golden record; its source key is `golden:<client_id>` and its parent is the
        parent golden client, so the golden hierarchy reads like any source's."""
        values: dict[str, Any] = {}
        facts: dict[int, tuple[float, int, int, str]] = {}
        place = self.best(members, "address", facts) or self.best(members, "city", facts)
        place = place or self.best(members, "country", facts) or self.best(members, "region", facts)
        for name in ADDRESS_FIELDS:
            values[name] = getattr(place, name) if place is not None else None
        if values["region"] is None and values["country"] is not None:
            values["region"] = region_for_country(values["country"])
        same_country = [m for m in members if m.country == values["country"]]
        for name in SURVIVING_FIELDS:
            if name in ADDRESS_FIELDS:
                continue
            pool = same_country if name in COUNTRY_BOUND_FIELDS else members
            if name == "segment":
                # A label mapped to `Other` by the quarantine loses to a clean segment.
                pool = [m for m in pool if not _quarantined(m, name)] or pool
            winner = self.best(pool, name, facts)
            values[name] = getattr(winner, name) if winner is not None else None
        times = [m.updated_at for m in members if m.updated_at is not None]
        values["field_issues"] = golden_field_issues(members, values)
        # Every value was validated in its member record, and the values checked against
        # each other (place; tax id ↔ country) come from one member or one country, so the
        # combination validates too (tests/test_golden_contract.py proves it on random member
        # sets) and needs no second validation on this hot path.
        return ClientRecord.model_construct(
            source_system="golden",
            source_id=client_id,
            parent_source_id=parent_client_id,
            updated_at=max(times) if times else None,
            **values,
        )
