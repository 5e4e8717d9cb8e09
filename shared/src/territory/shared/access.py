"""The role policy, in one table: who sees which regions and which PII.

The API enforces it on every response (`territory.api.security`, `territory.api.masking`)
and the Snowflake deploy script `deploy/snowflake/30_policies.sql` is generated from it
(`python -m territory.loader.snowflake_policies`; a test compares the file with the
output), so the warehouse and the API cannot disagree.

| role | regions | tax ids | e-mails (advisors, the upstream hint, in traces and texts) |
|---|---|---|---|
| TERRITORY_ADMIN | all | visible | visible |
| DATA_ENGINEER | all | visible | visible |
| CRM_ANALYST | all | masked | visible |
| SALES_LEADERSHIP | only those granted (token claim / REGION_ACCESS table) | masked | masked |

CRM_ANALYST sees e-mails in full, in the API and in Snowflake alike: analysts edit
whitelist entries (which pin an advisor by e-mail), acknowledge advisor conflicts and
rebalance workloads, all of which name advisors by e-mail. (Snowflake used to keep only
the domain for them, which made those tasks impossible there.) Tax ids are needed only by
the people who match and load records. SALES_LEADERSHIP manages people, not data: it sees
advisors by name and by an opaque id, never by e-mail. A caller with several roles gets the
widest of them.

The loader's service account (`LOADER_SERVICE`) exists only in the warehouse: it writes
every row, so the policies let it see everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Column

from territory.shared.warehouse import schema as s


class Role(StrEnum):
    ADMIN = "TERRITORY_ADMIN"
    DATA_ENGINEER = "DATA_ENGINEER"
    CRM_ANALYST = "CRM_ANALYST"
    SALES_LEADERSHIP = "SALES_LEADERSHIP"


class Pii(StrEnum):
    TAX_ID = "tax_id"
    EMAIL = "emails"


@dataclass(frozen=True, slots=True)
class RolePolicy:
    all_regions: bool
    sees: frozenset[Pii]


POLICY: dict[Role, RolePolicy] = {
    Role.ADMIN: RolePolicy(all_regions=True, sees=frozenset({Pii.TAX_ID, Pii.EMAIL})),
    Role.DATA_ENGINEER: RolePolicy(all_regions=True, sees=frozenset({Pii.TAX_ID, Pii.EMAIL})),
    Role.CRM_ANALYST: RolePolicy(all_regions=True, sees=frozenset({Pii.EMAIL})),
    Role.SALES_LEADERSHIP: RolePolicy(all_regions=False, sees=frozenset()),
}

# Warehouse-only roles that see every row and every value (they write them).
SERVICE_ROLES: tuple[str, ...] = ("LOADER_SERVICE",)

# The warehouse columns masked in Snowflake, by the kind of PII they hold. The raw payload
# holds every kind; it is masked as a tax id (every role that sees tax ids sees e-mails).
MASKED_COLUMNS: dict[Pii, tuple[Column[object], ...]] = {
    Pii.TAX_ID: (
        s.raw_clients.c.payload,
        s.clients_staging.c.tax_id,
        s.client_dim.c.tax_id,
        # A quarantined value as received: a tax id or an e-mail when field says so.
        s.client_field_issues.c.raw,
    ),
    Pii.EMAIL: (
        s.clients_staging.c.advisor_email_hint,
        s.client_dim.c.advisor_email_hint,
        s.client_dim.c.advisor_email,
        s.assignments_fact.c.advisor_email,
    ),
}

# Tables whose rows follow the region row policy (the column holding the region).
REGION_SCOPED: tuple[Column[object], ...] = (s.client_dim.c.region, s.territory_dim.c.region)

# Keys that name PII inside JSON written by other services (traces, evidence, documents):
# the API empties them for callers who may not see that kind.
PII_KEYS: dict[Pii, frozenset[str]] = {
    Pii.TAX_ID: frozenset({"tax_id"}),
    Pii.EMAIL: frozenset(
        {"email", "advisor", "advisor_email", "advisor_email_hint", "previous_advisor_email"}
    ),
}


def roles_seeing(kind: Pii) -> tuple[Role, ...]:
    return tuple(role for role, policy in POLICY.items() if kind in policy.sees)


def roles_with_all_regions() -> tuple[Role, ...]:
    return tuple(role for role, policy in POLICY.items() if policy.all_regions)
