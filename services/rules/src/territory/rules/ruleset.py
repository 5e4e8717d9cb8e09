"""The ruleset as data: a YAML (or JSON) document validated on load.

Territories, advisors and whitelist / blacklist entries are read by the loader and the API
as well, so their models live in `territory.shared.rulesets`; everything else (tiers, rules, whitelist, blacklist, hierarchy, advisor selection,
conflict policy) belongs to the rules service. A condition is a tree of `all` / `any` /
`not` nodes over comparisons (`{field, op, value}`), validated as a discriminated union
with `Literal` operators, so a typo is refused with the path of the bad entry.
See `docs/rulesets.md` for every field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Self, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from territory.shared.events import ConflictAction, ConflictKind, Severity
from territory.shared.rulesets import Advisor, BlacklistEntry, Territory, WhitelistEntry

# Client fields a condition may test: fields of the contract's `ClientRecord` (a test
# checks each one is, with the matching kind), plus `tier`, the tier the client falls into
# (computed from `tiers`), and `source_system`, the system of its trigger record.
# `advisor_email` is the record's upstream advisor hint, not the assigned advisor.
StringField = Literal[
    "country",
    "region",
    "state",
    "city",
    "postal_code",
    "segment",
    "industry",
    "name",
    "lei",
    "advisor_email",
    "source_system",
    "tier",
]
NumberField = Literal["aum_usd", "annual_revenue_usd", "employee_count"]
ClientField = Literal[StringField, NumberField]
NUMBER_FIELDS: frozenset[str] = frozenset(get_args(NumberField))

Scalar = str | float | int


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Compare(_Strict):
    """`field op value`: equality on any field, order on numbers and strings."""

    field: ClientField
    op: Literal["eq", "ne", "lt", "le", "gt", "ge"]
    value: Scalar


class Membership(_Strict):
    """`field in [values]` / `field not_in [values]`."""

    field: ClientField
    op: Literal["in", "not_in"]
    value: list[Scalar] = Field(..., min_length=1)


class Between(_Strict):
    """Inclusive range `[low, high]`: numbers, or strings such as postal codes."""

    field: ClientField
    op: Literal["between"]
    value: tuple[Scalar, Scalar]

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        low, high = self.value
        if isinstance(low, str) != isinstance(high, str):
            raise ValueError("between needs two numbers or two strings")
        if low > high:  # type: ignore[operator]
            raise ValueError(f"between: low {low!r} is above high {high!r}")
        return self


class Prefix(_Strict):
    """The field starts with one of the prefixes (postal codes, industries, names)."""

    field: StringField
    op: Literal["prefix"]
    value: list[str] = Field(..., min_length=1)


class Exists(_Strict):
    """The field has a value (`exists`) or has none (`missing`)."""

    field: ClientField
    op: Literal["exists", "missing"]


Comparison = Annotated[Compare | Membership | Between | Prefix | Exists, Field(discriminator="op")]


class AllOf(_Strict):
    all: list[Condition] = Field(..., min_length=1)


class AnyOf(_Strict):
    any: list[Condition] = Field(..., min_length=1)


class NotOf(_Strict):
    not_: Condition = Field(..., alias="not")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        kinds: dict[type[BaseModel], str] = {AllOf: "all", AnyOf: "any", NotOf: "not"}
        return kinds.get(type(value), "compare")
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return key
        return "compare"
    return None


Condition = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")]
    | Annotated[Comparison, Tag("compare")],
    Discriminator(
        _condition_kind,
        custom_error_type="invalid_condition",
        custom_error_message="a condition is {all: [...]}, {any: [...]}, {not: ...} "
        "or {field, op, value}",
    ),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


class Tier(_Strict):
    """Clients fall into the first tier (in document order) whose condition holds."""

    id: str = Field(..., min_length=1, max_length=64)
    name: str | None = None
    when: Condition | None = Field(None, description="None: every client (a catch-all tier).")
    weight: float = Field(
        1.0, gt=0, description="Workload of one client of this tier in advisor utilisation."
    )


RuleLevel = Literal["tier", "segment", "region"]


class Rule(_Strict):
    id: str = Field(..., min_length=1, max_length=128)
    description: str | None = None
    level: RuleLevel
    priority: int = Field(0, description="Higher wins within a level.")
    when: Condition
    territory: str


class HierarchyPolicy(_Strict):
    subsidiaries: Literal["follow_parent", "independent"] = "independent"
    advisors_must_agree: bool = Field(
        False, description="Report a subsidiary whose advisor differs from its parent's."
    )


class AdvisorSelection(_Strict):
    strategy: Literal["least_utilised", "round_robin"] = "least_utilised"
    capacity: Literal["strict", "soft"] = Field(
        "strict",
        description="strict: never above capacity (the client waits without advisor); "
        "soft: the least utilised advisor takes it and the overload is reported.",
    )
    keep_current: bool = Field(
        True, description="A client keeps its advisor while still eligible (no needless moves)."
    )


class ConflictPolicy(_Strict):
    severity: Severity
    action: ConflictAction


DEFAULT_CONFLICT_POLICIES: dict[ConflictKind, ConflictPolicy] = {
    ConflictKind.MULTI_TERRITORY: ConflictPolicy(
        severity=Severity.WARNING, action=ConflictAction.FLAG
    ),
    ConflictKind.WHITELIST_BLACKLIST_CLASH: ConflictPolicy(
        severity=Severity.ERROR, action=ConflictAction.HOLD
    ),
    ConflictKind.NO_TERRITORY: ConflictPolicy(
        severity=Severity.WARNING, action=ConflictAction.FLAG
    ),
    ConflictKind.ADVISOR_OVER_CAPACITY: ConflictPolicy(
        severity=Severity.WARNING, action=ConflictAction.FLAG
    ),
    ConflictKind.ORPHANED_ASSIGNMENT: ConflictPolicy(
        severity=Severity.INFO, action=ConflictAction.FLAG
    ),
    ConflictKind.HIERARCHY_ADVISOR_MISMATCH: ConflictPolicy(
        severity=Severity.WARNING, action=ConflictAction.FLAG
    ),
}


class ChurnGuard(_Strict):
    max_moves_per_advisor: int | None = Field(
        None, ge=0, description="Per replay: moves away from one advisor; the rest are held."
    )


class Fallback(_Strict):
    """Where a client goes when no whitelist entry, parent or rule places it (a client
    whose quarantined country left it without a region, a segment no rule covers): a
    territory of the ruleset, so every client has a territory and an owner. The client
    still raises a `no_territory` conflict, so the gap in the rules is visible."""

    territory: str = Field(..., min_length=1)
    reason: str | None = Field(None, description="Why this territory catches the rest.")


class Ruleset(_Strict):
    version: str = Field(..., min_length=1, max_length=64)
    description: str | None = None
    territories: list[Territory]
    advisors: list[Advisor]
    tiers: list[Tier] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    whitelist: list[WhitelistEntry] = Field(default_factory=list)
    blacklist: list[BlacklistEntry] = Field(default_factory=list)
    hierarchy: HierarchyPolicy = HierarchyPolicy()
    advisor_selection: AdvisorSelection = AdvisorSelection()
    conflicts: dict[ConflictKind, ConflictPolicy] = Field(default_factory=dict)
    churn: ChurnGuard = ChurnGuard()
    fallback: Fallback | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        # YAML reads `version: 2026.11` as a float; a version is text.
        return str(value) if isinstance(value, int | float) else value

    @model_validator(mode="after")
    def _references(self) -> Self:
        problems: list[str] = []

        def unique(kind: str, ids: list[str]) -> None:
            seen: set[str] = set()
            for i, value in enumerate(ids):
                if value in seen:
                    problems.append(f"{kind}.{i}: duplicate id {value!r}")
                seen.add(value)

        unique("territories", [t.id for t in self.territories])
        unique("advisors", [a.email for a in self.advisors])
        unique("tiers", [t.id for t in self.tiers])
        unique("rules", [r.id for r in self.rules])
        territories = {t.id for t in self.territories}
        advisors = {a.email for a in self.advisors}
        tiers = {t.id for t in self.tiers}
        for i, t in enumerate(self.territories):
            for j, email in enumerate(t.advisors):
                if email not in advisors:
                    problems.append(f"territories.{i}.advisors.{j}: unknown advisor {email!r}")
            if t.tier is not None and t.tier not in tiers:
                problems.append(f"territories.{i}.tier: unknown tier {t.tier!r}")
        for i, a in enumerate(self.advisors):
            for tier_id in a.capacity:
                if tier_id not in tiers:
                    problems.append(f"advisors.{i}.capacity: unknown tier {tier_id!r}")
            for tier_id, n in a.capacity.items():
                if n < 0:
                    problems.append(f"advisors.{i}.capacity.{tier_id}: must be >= 0")
        for i, r in enumerate(self.rules):
            if r.territory not in territories:
                problems.append(f"rules.{i}.territory: unknown territory {r.territory!r}")
        for i, w in enumerate(self.whitelist):
            if w.territory not in territories:
                problems.append(f"whitelist.{i}.territory: unknown territory {w.territory!r}")
            elif w.advisor is not None:
                members = next(t.advisors for t in self.territories if t.id == w.territory)
                if w.advisor.lower() not in members:
                    problems.append(
                        f"whitelist.{i}.advisor: {w.advisor!r} is not in {w.territory!r}"
                    )
        if self.fallback is not None:
            caught = next((t for t in self.territories if t.id == self.fallback.territory), None)
            if caught is None:
                problems.append(
                    f"fallback.territory: unknown territory {self.fallback.territory!r}"
                )
            elif caught.tier is not None:
                problems.append(
                    f"fallback.territory: {caught.id!r} serves only tier {caught.tier!r}; "
                    "the fallback must take clients of every tier"
                )
        for i, b in enumerate(self.blacklist):
            for j, tid in enumerate(b.territories):
                if tid not in territories:
                    problems.append(f"blacklist.{i}.territories.{j}: unknown territory {tid!r}")
        for path, cond in [(f"tiers.{i}.when", t.when) for i, t in enumerate(self.tiers)]:
            if cond is not None and _mentions(cond, "tier"):
                problems.append(f"{path}: a tier condition cannot test the tier itself")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def conflict_policy(self, kind: ConflictKind) -> ConflictPolicy:
        return self.conflicts.get(kind, DEFAULT_CONFLICT_POLICIES[kind])


def _mentions(cond: Any, field: str) -> bool:
    if isinstance(cond, AllOf):
        return any(_mentions(c, field) for c in cond.all)
    if isinstance(cond, AnyOf):
        return any(_mentions(c, field) for c in cond.any)
    if isinstance(cond, NotOf):
        return _mentions(cond.not_, field)
    return bool(cond.field == field)


class RulesetError(ValueError):
    """A ruleset that cannot be loaded; `problems` are `(path, message)` pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__(
            "invalid ruleset:\n" + "\n".join(f"  {path}: {message}" for path, message in problems)
        )


_OPS = frozenset(
    ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "between", "prefix", "exists", "missing")
)


def _path(loc: tuple[int | str, ...]) -> str:
    """The document path of an error: the union tags pydantic adds to `loc` are dropped."""
    parts: list[str] = []
    i = 0
    while i < len(loc):
        text = str(loc[i])
        if text in ("all", "any", "not") and i + 1 < len(loc) and str(loc[i + 1]) == text:
            i += 1  # the tag, followed by the key of the same name
            continue
        if text == "compare":
            i += 2 if i + 1 < len(loc) and str(loc[i + 1]) in _OPS else 1
            continue
        if not text.startswith(("literal[", "function-")):
            parts.append(text)
        i += 1
    return ".".join(parts) or "<root>"


def parse_ruleset(data: Any) -> Ruleset:
    """Validate a ruleset document (already parsed); raises RulesetError with paths."""
    if not isinstance(data, dict):
        raise RulesetError([("<root>", "a ruleset is a mapping with version, territories, …")])
    try:
        return Ruleset.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            path = _path(tuple(err["loc"]))
            message = err["msg"]
            if err["type"] == "value_error" and path == "<root>":
                for part in message.removeprefix("Value error, ").split("; "):
                    where, _, what = part.partition(": ")
                    problems.append((where, what))
                continue
            problems.append((path, message))
        raise RulesetError(problems) from None


def loads_ruleset(text: str | bytes) -> Ruleset:
    """Parse YAML (JSON is YAML too) and validate it."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesetError([("<document>", f"not YAML or JSON: {exc}")]) from None
    return parse_ruleset(data)


def load_ruleset(path: str | Path) -> Ruleset:
    return loads_ruleset(Path(path).read_bytes())


def ruleset_document(ruleset: Ruleset) -> dict[str, Any]:
    """The ruleset as a JSON object (the `document` of `ruleset.published`)."""
    data: dict[str, Any] = json.loads(ruleset.model_dump_json(by_alias=True, exclude_none=True))
    return data


def ruleset_fingerprint(ruleset: Ruleset) -> str:
    """Content identity: two rulesets with equal fingerprints decide identically."""
    import hashlib

    body = json.dumps(ruleset_document(ruleset), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:16]
