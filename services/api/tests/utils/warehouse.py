"""Test data in the warehouse, written through the shared schema (never the loader).

A small, deterministic world with every shape the API must handle: clients in three
regions, a hierarchy that crosses regions (an NA parent with an EMEA subsidiary), an
advisor serving both NA and EMEA, assignment history with decision traces that mention
advisor e-mails in free text, conflicts with and without a client, a dedupe review queue
and two ruleset versions. Ids say their region (`c-na-3`, `c-emea-1`) and tax ids are
unmistakable (`TAXID-…`), so a leak is easy to see in any response text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from sqlalchemy import Engine, insert

from territory.shared.warehouse import schema as wh
from territory.shared.warehouse.engine import create_all

NOW = datetime.now(UTC).replace(microsecond=0)
LOADED = NOW
# When the fixture's match decisions were taken (hours before NOW, so a test that assumed
# "the same day" would fail in the first hours after midnight UTC).
MATCHED_AT = NOW - timedelta(hours=3)

TERRITORIES = [
    ("na-east", "NA East", "NA", "Pension", "t1", ["ann@na.example", "sam@global.example"]),
    ("na-west", "NA West", "NA", None, None, ["nick@na.example"]),
    ("emea-uk", "United Kingdom", "EMEA", None, "t1", ["bob@emea.example", "sam@global.example"]),
    ("apac-sg", "Singapore", "APAC", None, None, ["amy@apac.example"]),
    ("emea-old", "Old EMEA", "EMEA", None, None, []),
]
ADVISORS = [
    ("ann@na.example", "Ann Northam", {"t1": 3, "t2": 10}),
    ("nick@na.example", "Nick Westley", {"t1": 5}),
    ("bob@emea.example", "Bob Europa", {"t1": 4, "t2": 4}),
    ("sam@global.example", "Sam Global", {"t1": 2}),
    ("amy@apac.example", "Amy Asia", {"t2": 5}),
]
REGION_ADVISORS = {
    "NA": ["ann@na.example", "nick@na.example", "sam@global.example"],
    "EMEA": ["bob@emea.example", "sam@global.example"],
    "APAC": ["amy@apac.example"],
}
REGION_TERRITORIES = {"NA": ["na-east", "na-west"], "EMEA": ["emea-uk"], "APAC": ["apac-sg"]}
CLIENTS_PER_REGION = {"NA": 6, "EMEA": 4, "APAC": 2}
NA_ONLY_ADVISOR = "nick@na.example"


def eid(name: str) -> str:
    """A deterministic event id (UUID text, as the loader writes them)."""
    return str(uuid5(NAMESPACE_URL, name))


def tax_id(client_id: str) -> str:
    return f"TAXID-{client_id.upper()}"


def _client_rows() -> list[dict[str, Any]]:
    rows = []
    for region, n in CLIENTS_PER_REGION.items():
        for i in range(1, n + 1):
            cid = f"c-{region.lower()}-{i}"
            territories = REGION_TERRITORIES[region]
            advisors = REGION_ADVISORS[region]
            rows.append(
                {
                    "client_id": cid,
                    "name": f"{region} Pension Fund {i}" if i % 2 else f"{region} Endowment {i}",
                    "segment": "Pension" if i % 2 else "Endowment",
                    "region": region,
                    "country": {"NA": "US", "EMEA": "GB", "APAC": "SG"}[region],
                    "city": "Somewhere",
                    "aum_usd": 1_000_000 * i,
                    "annual_revenue_usd": 10_000 * i,
                    "employee_count": 10 * i,
                    "lei": None,
                    "tax_id": tax_id(cid),
                    "advisor_email_hint": advisors[-1],
                    "updated_at": NOW - timedelta(days=i),
                    "parent_client_id": None,
                    "decision": "new",
                    "version": 1,
                    "retired": False,
                    "merged_into_client_id": None,
                    "territory_id": territories[i % len(territories)] if i != 2 else None,
                    "advisor_email": advisors[i % len(advisors)] if i != 2 else None,
                    "tier": "t1" if i <= 2 else "t2",
                    "last_event_id": eid(f"ev-{cid}"),
                    "occurred_at": NOW,
                    "loaded_at": LOADED,
                }
            )
    by_id = {r["client_id"]: r for r in rows}
    # Hierarchy: c-na-1 → c-na-3 (same region) and c-na-1 → c-emea-3 (crosses regions);
    # c-emea-3 → c-emea-4 (a grandchild visible to EMEA under a parent it cannot see).
    by_id["c-na-3"]["parent_client_id"] = "c-na-1"
    by_id["c-emea-3"]["parent_client_id"] = "c-na-1"
    by_id["c-emea-4"]["parent_client_id"] = "c-emea-3"
    # A retired client (merged into c-na-1) never shows.
    rows.append(
        {
            **by_id["c-na-1"],
            "client_id": "c-na-retired",
            "name": "NA Pension Fund 1 (dup)",
            "retired": True,
            "merged_into_client_id": "c-na-1",
            "parent_client_id": None,
            "tax_id": tax_id("c-na-retired"),
        }
    )
    return rows


# Quarantined values (field-level quarantine): (client_id, source_key, field, code, raw).
FIELD_ISSUES = [
    ("c-na-1", "salesforce:c-na-1", "lei", "invalid_lei", "5493001KJTIIGC8Y1R19"),
    ("c-na-1", "hubspot:c-na-1", "tax_id", "invalid_tax_id", "98-7654321X"),
    ("c-na-3", "salesforce:c-na-3", "segment", "unknown_segment", "Casino"),
    ("c-emea-1", "salesforce:c-emea-1", "segment", "unknown_segment", "Sovereign Wealthy"),
    ("c-emea-1", "hubspot:c-emea-1", "advisor_email", "invalid_email", "ann.at.example"),
    ("c-apac-1", "salesforce:c-apac-1", "aum_usd", "greater_than_equal", "-5"),
    ("c-na-retired", "salesforce:c-na-retired", "lei", "invalid_lei", "X"),  # never counts
    (None, "csv:not-yet-deduped", "lei", "invalid_lei", "Y"),  # no client yet: never counts
]


def _field_issue_rows() -> list[dict[str, Any]]:
    return [
        {
            "source_key": key,
            "issue_no": 0,
            "client_id": cid,
            "source_system": key.split(":")[0],
            "source_id": key.split(":")[1],
            "field": field,
            "code": code,
            "raw": raw,
            "message": f"'{raw}' is refused ({code})",
            "last_event_id": eid(f"ev-fi-{key}"),
            "occurred_at": NOW,
            "loaded_at": LOADED,
        }
        for cid, key, field, code, raw in FIELD_ISSUES
    ]


# Match evidence per source record (CLIENT_SOURCE_MATCH): c-emea-3's salesforce record was
# merged on evidence that names NA rows (a candidate in NA, its parent, an NA advisor, the
# candidate's tax id); c-emea-1's hubspot record names an EMEA candidate; c-na-1's salesforce
# record founded its client (no evidence). Every other source record has no row.
MATCHES: list[tuple[str, str, str, list[dict[str, Any]]]] = [
    (
        "c-emea-3",
        "salesforce:c-emea-3",
        "merged",
        [
            {
                "candidate_client_id": "c-na-2",
                "confidence": 0.91,
                "field_scores": {"name": 0.95, "tax_id": 1.0, "postal_code": 0.0},
                "reasons": [
                    "matched source record hubspot:c-na-2",
                    f"same tax id {tax_id('c-na-2')}",
                    "shares a parent with c-na-1",
                    "advisor ann@na.example on both",
                ],
            },
            {"candidate_client_id": "c-na-4", "confidence": 0.4, "field_scores": {}, "reasons": []},
        ],
    ),
    (
        "c-emea-1",
        "hubspot:c-emea-1",
        "possible_duplicate",
        [
            {
                "candidate_client_id": "c-emea-2",
                "confidence": 0.78,
                "field_scores": {"name": 0.8},
                "reasons": ["similar name to c-emea-2"],
            }
        ],
    ),
    ("c-na-1", "salesforce:c-na-1", "new", []),
]


def _match_rows() -> list[dict[str, Any]]:
    return [
        {
            "client_id": cid,
            "source_key": key,
            "decision": decision,
            "confidence": max((e["confidence"] for e in evidence), default=None),
            "evidence": evidence,
            "version": 2,
            "last_event_id": eid(f"ev-match-{cid}-{key}"),
            "occurred_at": MATCHED_AT,
            "loaded_at": LOADED,
        }
        for cid, key, decision, evidence in MATCHES
    ]


def fill(engine: Engine) -> None:
    create_all(engine)
    clients = _client_rows()
    with engine.begin() as conn:
        conn.execute(
            insert(wh.territory_dim),
            [
                {
                    "territory_id": tid,
                    "name": name,
                    "region": region,
                    "segment": segment,
                    "tier": tier,
                    "advisor_emails": advisors,
                    "ruleset_version": "2026.11.2",
                    "active": tid != "emea-old",
                    "loaded_at": LOADED,
                }
                for tid, name, region, segment, tier, advisors in TERRITORIES
            ],
        )
        conn.execute(
            insert(wh.territory_advisor),
            [
                {"territory_id": tid, "advisor_email": email}
                for tid, *_, advisors in TERRITORIES
                for email in advisors
            ],
        )
        conn.execute(
            insert(wh.advisor_dim),
            [
                {
                    "advisor_email": email,
                    "name": name,
                    "capacity": capacity,
                    "total_capacity": sum(capacity.values()),
                    "ruleset_version": "2026.11.2",
                    "active": True,
                    "loaded_at": LOADED,
                }
                for email, name, capacity in ADVISORS
            ],
        )
        conn.execute(insert(wh.client_dim), clients)
        sources = []
        staging = []
        for row in clients:
            for system in ("salesforce", "hubspot"):
                key = f"{system}:{row['client_id']}"
                sources.append(
                    {
                        "client_id": row["client_id"],
                        "source_key": key,
                        "source_system": system,
                        "source_id": row["client_id"],
                        "updated_at": row["updated_at"],
                    }
                )
                staging.append(
                    {
                        "source_key": key,
                        "source_system": system,
                        "source_id": row["client_id"],
                        "parent_source_id": None,
                        "name": row["name"],
                        "region": row["region"],
                        "country": row["country"],
                        "tax_id": row["tax_id"],
                        "advisor_email_hint": row["advisor_email_hint"],
                        "last_event_id": eid(f"ev-stg-{key}"),
                        "occurred_at": NOW,
                        "loaded_at": LOADED,
                    }
                )
        conn.execute(insert(wh.client_source_record), sources)
        conn.execute(insert(wh.clients_staging), staging)
        conn.execute(insert(wh.client_field_issues), _field_issue_rows())
        conn.execute(insert(wh.client_source_match), _match_rows())
        facts = []
        for row in clients:
            if row["retired"] or row["territory_id"] is None:
                continue
            cid = row["client_id"]
            first = NOW - timedelta(days=20)
            second = NOW - timedelta(days=2)
            pair = [
                _fact(eid(f"a1-{cid}"), row, None, first, second, False, "2026.11.1"),
                _fact(eid(f"a2-{cid}"), row, row["advisor_email"], second, None, True, "2026.11.2"),
            ]
            facts.extend(_cross_region(f) if cid == "c-emea-3" else f for f in pair)
        conn.execute(insert(wh.assignments_fact), facts)
        conn.execute(
            insert(wh.conflicts),
            [
                _conflict(
                    "multi_territory:c-na-4",
                    "multi_territory",
                    "c-na-4",
                    None,
                    ["na-east", "na-west"],
                ),
                {
                    **_conflict(
                        "multi_territory:c-emea-1", "multi_territory", "c-emea-1", None, ["emea-uk"]
                    ),
                    "detail": "c-emea-1 matches emea-uk and na-west (shares a parent with c-na-2)",
                },
                _conflict(
                    "advisor_over_capacity:nick@na.example",
                    "advisor_over_capacity",
                    None,
                    NA_ONLY_ADVISOR,
                    ["na-west"],
                ),
                _conflict(
                    "advisor_over_capacity:sam@global.example",
                    "advisor_over_capacity",
                    None,
                    "sam@global.example",
                    ["na-east", "emea-uk"],
                ),
            ],
        )
        conn.execute(
            insert(wh.dedupe_review),
            [
                {
                    "event_id": eid(f"rev-{cid}"),
                    "client_id": cid,
                    "source_key": f"csv:{cid}",
                    "client_name": f"Maybe {cid}",
                    "candidate_client_ids": [cid, f"{cid}-twin"],
                    "best_confidence": 0.87,
                    "evidence": [
                        {
                            "candidate_client_id": f"{cid}-twin",
                            "confidence": 0.87,
                            "field_scores": {"name": 0.9, "tax_id": 1.0},
                            "reasons": [
                                f"same tax id {tax_id(cid)}",
                                "advisor ann@na.example on both",
                            ],
                        }
                    ],
                    "status": "open",
                    "occurred_at": NOW - timedelta(hours=1),
                    "loaded_at": LOADED,
                }
                for cid in ("c-na-5", "c-emea-2")
            ],
        )
        conn.execute(
            insert(wh.ruleset_versions),
            [
                {
                    "version": version,
                    "document": {
                        "version": version,
                        "territories": [
                            {"id": t[0], "name": t[1], "region": t[2], "advisors": t[5]}
                            for t in TERRITORIES
                        ],
                        "advisors": [
                            {"email": e, "name": n, "capacity": cap} for e, n, cap in ADVISORS
                        ],
                    },
                    "published_by": "ada@territory.test",
                    "comment": f"release {version}",
                    "published_at": NOW - timedelta(days=days),
                    "event_id": eid(f"ev-rs-{version}"),
                    "loaded_at": LOADED,
                }
                for version, days in (("2026.11.1", 20), ("2026.11.2", 2))
            ],
        )


def _fact(
    event_id: str,
    row: dict[str, Any],
    previous_advisor: str | None,
    start: datetime,
    end: datetime | None,
    current: bool,
    version: str,
) -> dict[str, Any]:
    advisor = row["advisor_email"]
    return {
        "event_id": event_id,
        "client_id": row["client_id"],
        "territory_id": row["territory_id"],
        "advisor_email": advisor,
        "tier": row["tier"],
        "previous_territory_id": None if not current else row["territory_id"],
        "previous_advisor_email": previous_advisor,
        "ruleset_version": version,
        "rule_id": f"region-{row['region'].lower()}",
        "decision_level": "region",
        "reason": f"region {row['region']} → {row['territory_id']}, advisor {advisor}",
        "trace": {
            "ruleset_version": version,
            "level": "region",
            "rule_id": f"region-{row['region'].lower()}",
            "matched_conditions": [f"region eq {row['region']}"],
            "rejected_candidates": [],
            "advisor_selection": f"least utilised: {advisor}",
            "notes": [],
        },
        "changed_by": "rules-engine",
        "effective_from": start,
        "effective_to": end,
        "is_current": current,
        "correlation_id": None,
        "loaded_at": LOADED,
    }


def _cross_region(fact: dict[str, Any]) -> dict[str, Any]:
    """c-emea-3 follows its NA parent: its texts name NA rows (what the rules service
    writes for a hierarchy decision), which an EMEA-only reader must not receive."""
    trace = dict(fact["trace"])
    trace["level"] = fact["decision_level"] = "hierarchy"
    trace["rejected_candidates"] = [
        {"territory_id": "na-east", "reason": "parent c-na-1 is assigned to na-east"}
    ]
    trace["notes"] = ["follows its parent c-na-1 (na-east)", "kept c-emea-3 in region"]
    return {
        **fact,
        "reason": f"c-emea-3 follows its parent c-na-1 into na-east, then {fact['territory_id']}",
        "trace": trace,
        "previous_territory_id": "na-west" if fact["is_current"] else None,
    }


def _conflict(
    conflict_id: str, kind: str, client_id: str | None, advisor: str | None, territories: list[str]
) -> dict[str, Any]:
    return {
        "conflict_id": conflict_id,
        "kind": kind,
        "severity": "warning",
        "action": "flag",
        "client_id": client_id,
        "territory_ids": territories,
        "advisor_email": advisor,
        "ruleset_version": "2026.11.2",
        "detail": f"{kind} for {client_id or advisor}",
        "resolved": False,
        "first_seen_at": NOW - timedelta(days=1),
        "last_seen_at": NOW,
        "last_event_id": eid(f"ev-{conflict_id}"),
        "loaded_at": LOADED,
    }
