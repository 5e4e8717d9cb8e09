"""People's decisions, published as events for the owning service to carry out."""

from __future__ import annotations

import re
from typing import Any

from territory.api.runtime import Runtime
from territory.api.schemas import Accepted, BlacklistOverride, WhitelistOverride
from territory.api.security import Principal
from territory.shared.events import Event, RulesetPublished, RulesetRelease
from territory.shared.rulesets import BlacklistEntry, WhitelistEntry

_TRAILING_NUMBER = re.compile(r"^(.*?)(\d+)$")


def next_version(version: str) -> str:
    """`2026.11.3` → `2026.11.4`; `v7` → `v8`; `baseline` → `baseline.1`."""
    match = _TRAILING_NUMBER.match(version)
    if match:
        prefix, number = match.groups()
        return f"{prefix}{int(number) + 1:0{len(number)}d}"
    return f"{version}.1"


async def publish(runtime: Runtime, event: Event[Any], detail: str | None = None) -> Accepted:
    await runtime.publisher.publish(event)
    return Accepted(
        event_id=event.event_id,
        event_type=event.event_type,
        topic=runtime.publisher.topic_for(event),
        detail=detail,
    )


def with_whitelist(
    document: dict[str, Any], entry: WhitelistOverride, owner: str
) -> dict[str, Any]:
    """A copy of the ruleset with this client pinned to this territory (replacing any earlier
    pin of the same client, so the whitelist keeps one entry per client), in the rules
    service's own entry model."""
    doc = dict(document)
    kept = [w for w in doc.get("whitelist") or [] if w.get("client_id") != entry.client_id]
    pin = WhitelistEntry(
        client_id=entry.client_id,
        territory=entry.territory_id,
        reason=entry.reason,
        owner=owner,
        expires=entry.expires,
    )
    doc["whitelist"] = [*kept, _entry_document(pin)]
    return doc


def with_blacklist(
    document: dict[str, Any], entry: BlacklistOverride, owner: str
) -> dict[str, Any]:
    """A copy of the ruleset where this client may never land in these territories (merged
    with what the blacklist already says about the client)."""
    doc = dict(document)
    entries = list(doc.get("blacklist") or [])
    for i, existing in enumerate(entries):
        if existing.get("client_id") == entry.client_id:
            merged = sorted({*existing.get("territories", []), *entry.territory_ids})
            kept = BlacklistEntry.model_validate(
                {**existing, "territories": merged, "reason": entry.reason, "owner": owner}
            )
            entries[i] = _entry_document(kept)
            break
    else:
        added = BlacklistEntry(
            client_id=entry.client_id,
            territories=sorted(set(entry.territory_ids)),
            reason=entry.reason,
            owner=owner,
        )
        entries.append(_entry_document(added))
    doc["blacklist"] = entries
    return doc


def _entry_document(entry: WhitelistEntry | BlacklistEntry) -> dict[str, Any]:
    data: dict[str, Any] = entry.model_dump(mode="json", exclude_none=True)
    return data


def release_event(
    runtime: Runtime,
    principal: Principal,
    document: dict[str, Any],
    *,
    comment: str | None,
    replay: bool = True,
) -> RulesetPublished:
    return RulesetPublished(
        producer=runtime.producer,
        payload=RulesetRelease(
            version=str(document["version"]),
            document=document,
            published_by=principal.subject,
            comment=comment,
            replay=replay,
        ),
    )
