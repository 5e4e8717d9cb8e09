"""Reconciliation: does the warehouse account for every record that went in?

`reconcile(engine, ...)` reads the warehouse tables (never trusting constraints: Snowflake
enforces none) and returns a `Reconciliation`:

- in = loaded + rejected-with-reason (accepted records in RAW, ingestion rejections in
  REJECTED_RECORDS with a reason), lost = accepted − loaded = 0;
- acknowledged-but-missing: acknowledged source keys that never reached RAW;
- duplicate rows per table, counted with GROUP BY <business key> HAVING COUNT(*) > 1;
- every live golden client has exactly one current assignment; every staged source record
  belongs to a live golden client;
- a content checksum (business columns only, no load times or event ids), row counts;
- redeliveries observed on the topics (`redeliveries()`), recovery time per fault (given).

`to_markdown()` / `to_json()` render it; `problems()` lists what is wrong (empty: ok).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, Table, and_, func, select, true

from territory.shared.warehouse import schema as s

# Business keys per table: a row appearing twice under its key is a duplicate, whatever the
# database's constraints say.
BUSINESS_KEYS: dict[str, tuple[Table, tuple[str, ...]]] = {
    "raw.clients(event_id)": (s.raw_clients, ("event_id",)),
    "stage.clients_staging(source_key)": (s.clients_staging, ("source_key",)),
    "client_dim(client_id)": (s.client_dim, ("client_id",)),
    "client_source_record(client_id, source_key)": (
        s.client_source_record,
        ("client_id", "source_key"),
    ),
    "client_source_match(client_id, source_key)": (
        s.client_source_match,
        ("client_id", "source_key"),
    ),
    "assignments_fact(event_id)": (s.assignments_fact, ("event_id",)),
    "rejected_records(event_id)": (s.rejected_records, ("event_id",)),
    "dedupe_review(event_id)": (s.dedupe_review, ("event_id",)),
    "conflicts(conflict_id)": (s.conflicts, ("conflict_id",)),
    "territory_dim(territory_id)": (s.territory_dim, ("territory_id",)),
    "advisor_dim(advisor_email)": (s.advisor_dim, ("advisor_email",)),
    "ruleset_versions(version)": (s.ruleset_versions, ("version",)),
}

# Columns that make up the content checksum (what a user sees; no load times, no event ids).
CHECKSUM_COLUMNS: dict[str, tuple[Table, tuple[str, ...]]] = {
    "client_dim": (
        s.client_dim,
        (
            "client_id",
            "name",
            "segment",
            "region",
            "country",
            "parent_client_id",
            "retired",
            "merged_into_client_id",
            "territory_id",
            "advisor_email",
            "tier",
        ),
    ),
    "client_source_record": (s.client_source_record, ("client_id", "source_key")),
    "clients_staging": (s.clients_staging, ("source_key", "name", "updated_at")),
    "raw_clients": (s.raw_clients, ("event_id",)),
    "rejected_records": (s.rejected_records, ("event_id", "stage", "reason")),
}


@dataclass
class Fault:
    """One injected fault and how long the pipeline took to recover from it."""

    kind: str  # kill9, broker_restart, warehouse_outage, replay, …
    target: str
    at_progress: float | None = None  # fraction of the run done when it was injected
    recovery_seconds: float | None = None  # until the target answered /readyz again
    notes: str = ""


@dataclass
class Reconciliation:
    submitted: int  # records offered (rows uploaded / events published)
    accepted: int  # acknowledged by ingestion
    rejected_at_ingestion: int  # refused by ingestion (expected in REJECTED_RECORDS)
    loaded_raw: int
    rejected_recorded: int  # REJECTED_RECORDS rows with stage 'ingestion'
    rejected_without_reason: int
    rejected_by_stage_reason: dict[str, int]
    lost: int
    acknowledged_missing: int | None
    duplicates: dict[str, int]
    live_golden: int
    live_without_one_current_assignment: int
    current_assignments_on_retired: int
    source_keys_in_several_live_golden: int
    reused_source_keys_kept_apart: int
    staged_without_golden: int
    source_records_without_match_evidence: int
    row_counts: dict[str, int]
    checksum: str
    redeliveries: dict[str, int] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def problems(self) -> list[str]:
        out: list[str] = []
        if self.lost:
            out.append(f"lost {self.lost} accepted records (RAW {self.loaded_raw})")
        if self.acknowledged_missing:
            out.append(f"{self.acknowledged_missing} acknowledged records are not in RAW")
        if self.submitted != self.accepted + self.rejected_at_ingestion:
            out.append(
                f"in {self.submitted} != accepted {self.accepted} + rejected "
                f"{self.rejected_at_ingestion}"
            )
        if self.rejected_recorded < self.rejected_at_ingestion:
            out.append(
                f"{self.rejected_at_ingestion - self.rejected_recorded} ingestion rejections "
                "have no dead letter"
            )
        if self.rejected_without_reason:
            out.append(f"{self.rejected_without_reason} dead letters without a reason")
        for key, n in self.duplicates.items():
            if n:
                out.append(f"{n} duplicate keys in {key}")
        if self.live_without_one_current_assignment:
            out.append(
                f"{self.live_without_one_current_assignment} live golden clients without "
                "exactly one current assignment"
            )
        if self.current_assignments_on_retired:
            out.append(
                f"{self.current_assignments_on_retired} retired (merged) clients still hold "
                "a territory"
            )
        if self.source_keys_in_several_live_golden:
            out.append(
                f"{self.source_keys_in_several_live_golden} source records in more than one "
                "live golden client (not a reused source key in review)"
            )
        if self.staged_without_golden:
            out.append(f"{self.staged_without_golden} staged source records have no golden client")
        if self.source_records_without_match_evidence:
            out.append(
                f"{self.source_records_without_match_evidence} source records of live clients "
                "have no match evidence"
            )
        if self.live_golden == 0 and self.loaded_raw:
            out.append("no golden client at all")
        return out

    @property
    def ok(self) -> bool:
        return not self.problems()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        out["problems"] = self.problems()
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str)

    def to_markdown(self, title: str = "Reconciliation") -> str:
        load = os.getloadavg()
        lines = [
            f"### {title}",
            "",
            f"**{'OK' if self.ok else 'FAILED'}** — load average {load[0]:.2f} / {load[1]:.2f} / "
            f"{load[2]:.2f} on {os.cpu_count()} cores at the time of the report.",
            "",
            "| figure | value |",
            "|---|---:|",
            f"| in (records offered) | {self.submitted:,} |",
            f"| accepted by ingestion | {self.accepted:,} |",
            f"| rejected by ingestion (with reason) | {self.rejected_at_ingestion:,} |",
            f"| loaded into RAW | {self.loaded_raw:,} |",
            f"| ingestion dead letters in REJECTED_RECORDS | {self.rejected_recorded:,} |",
            f"| dead letters without a reason | {self.rejected_without_reason:,} |",
            f"| **lost** (accepted − loaded) | **{self.lost:,}** |",
            "| acknowledged but missing | "
            + ("n/a" if self.acknowledged_missing is None else f"{self.acknowledged_missing:,}")
            + " |",
            f"| duplicate rows (GROUP BY business key, all tables) | "
            f"{sum(self.duplicates.values()):,} |",
            f"| live golden clients | {self.live_golden:,} |",
            f"| live golden clients without exactly one current assignment | "
            f"{self.live_without_one_current_assignment:,} |",
            f"| retired clients still holding a territory | {self.current_assignments_on_retired:,} |",
            f"| source records in several live golden clients | "
            f"{self.source_keys_in_several_live_golden:,} |",
            f"| reused source keys kept apart (two live clients, in review) | "
            f"{self.reused_source_keys_kept_apart:,} |",
            f"| staged source records without a golden client | {self.staged_without_golden:,} |",
            f"| source records of live clients without match evidence | "
            f"{self.source_records_without_match_evidence:,} |",
            f"| content checksum | `{self.checksum[:16]}` |",
        ]
        if self.rejected_by_stage_reason:
            lines += ["", "Dead letters by stage and reason: "]
            lines.append(
                ", ".join(f"{k} {v:,}" for k, v in sorted(self.rejected_by_stage_reason.items()))
            )
        if self.redeliveries:
            lines += ["", "| redeliveries observed | count |", "|---|---:|"]
            lines += [f"| {k} | {v:,} |" for k, v in sorted(self.redeliveries.items())]
        if self.faults:
            lines += [
                "",
                "| fault | target | at progress | recovery (s) | notes |",
                "|---|---|---:|---:|---|",
            ]
            for f in self.faults:
                at = "" if f.at_progress is None else f"{100 * f.at_progress:.0f}%"
                rec = "" if f.recovery_seconds is None else f"{f.recovery_seconds:.1f}"
                lines.append(f"| {f.kind} | {f.target} | {at} | {rec} | {f.notes} |")
        if self.extra:
            lines += ["", "| measure | value |", "|---|---:|"]
            lines += [f"| {k} | {v} |" for k, v in sorted(self.extra.items())]
        problems = self.problems()
        if problems:
            lines += ["", "Problems:", *[f"- {p}" for p in problems]]
        return "\n".join(lines) + "\n"


def duplicate_keys(engine: Engine, table: Table, columns: Sequence[str]) -> int:
    """How many keys occur more than once (GROUP BY … HAVING COUNT(*) > 1)."""
    cols = [table.c[c] for c in columns]
    dup = select(*cols).group_by(*cols).having(func.count() > 1).subquery()
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(dup)).scalar_one())


def row_counts(engine: Engine) -> dict[str, int]:
    tables = (s.raw_clients, s.clients_staging, *s.CORE_TABLES)
    with engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in tables
        }


def content_checksum(engine: Engine) -> str:
    """SHA-256 of the business content, independent of row order, load times and event ids."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for name, (table, columns) in CHECKSUM_COLUMNS.items():
            rows = conn.execute(select(*[table.c[c] for c in columns])).all()
            digest.update(name.encode())
            for line in sorted(json.dumps([str(v) for v in row]) for row in rows):
                digest.update(line.encode())
        current = conn.execute(
            select(
                s.assignments_fact.c.client_id,
                s.assignments_fact.c.territory_id,
                s.assignments_fact.c.advisor_email,
                s.assignments_fact.c.tier,
                s.assignments_fact.c.ruleset_version,
            ).where(s.assignments_fact.c.is_current.is_(True))
        ).all()
        digest.update(b"current_assignments")
        for line in sorted(json.dumps([str(v) for v in row]) for row in current):
            digest.update(line.encode())
    return digest.hexdigest()


def assignment_health(engine: Engine) -> dict[str, int]:
    """Live golden clients, those without exactly one current assignment, and the rest
    (`several`: source keys in more than one live golden client that no reused-key review
    explains; `reused`: those it does)."""
    af, cd = s.assignments_fact, s.client_dim
    current = (
        select(af.c.client_id, func.count().label("n"))
        .where(af.c.is_current.is_(True))
        .group_by(af.c.client_id)
        .subquery()
    )
    live = cd.c.retired.is_(False) | cd.c.retired.is_(None)
    with engine.connect() as conn:
        live_n = int(conn.execute(select(func.count()).select_from(cd).where(live)).scalar_one())
        wrong = int(
            conn.execute(
                select(func.count())
                .select_from(cd.outerjoin(current, current.c.client_id == cd.c.client_id))
                .where(live, func.coalesce(current.c.n, 0) != 1)
            ).scalar_one()
        )
        retired_current = int(
            conn.execute(
                select(func.count())
                .select_from(af.join(cd, cd.c.client_id == af.c.client_id))
                .where(
                    af.c.is_current.is_(True),
                    cd.c.retired.is_(True),
                    # A retired client's current row is its ending (no territory): only
                    # a territory still held is wrong.
                    af.c.territory_id.is_not(None),
                )
            ).scalar_one()
        )
        csr = s.client_source_record
        several = (
            select(csr.c.source_key)
            .select_from(csr.join(cd, cd.c.client_id == csr.c.client_id))
            .where(live)
            .group_by(csr.c.source_key)
            .having(func.count() > 1)
            .subquery()
        )
        shared = {k for (k,) in conn.execute(select(several.c.source_key)).all()}
        # A source system that reused a key for another organisation: dedupe keeps the held
        # client and founds a new one for review (evidence reason reused_source_key), so
        # that key is in two live golden clients by design, and the review row says why.
        dr = s.dedupe_review
        explained: set[str] = set()
        if shared:
            for key, evidence in conn.execute(
                select(dr.c.source_key, dr.c.evidence).where(dr.c.source_key.in_(sorted(shared)))
            ).all():
                text = evidence if isinstance(evidence, str) else json.dumps(evidence)
                if "reused_source_key" in text:
                    explained.add(key)
        mapped = (
            select(csr.c.source_key)
            .select_from(csr.join(cd, cd.c.client_id == csr.c.client_id))
            .where(live)
        )
        unmapped = int(
            conn.execute(
                select(func.count())
                .select_from(s.clients_staging)
                .where(s.clients_staging.c.source_key.not_in(mapped))
            ).scalar_one()
        )
        # Every source record of a live client says why it is there (dedupe's per-record
        # `matches`, loaded into CLIENT_SOURCE_MATCH): none left unexplained.
        m = s.client_source_match
        unexplained = int(
            conn.execute(
                select(func.count())
                .select_from(csr.join(cd, cd.c.client_id == csr.c.client_id))
                .outerjoin(
                    m, (m.c.client_id == csr.c.client_id) & (m.c.source_key == csr.c.source_key)
                )
                .where(live, m.c.source_key.is_(None))
            ).scalar_one()
        )
    return {
        "live": live_n,
        "wrong": wrong,
        "retired_current": retired_current,
        "unexplained": unexplained,
        "several": len(shared - explained),
        "reused": len(explained),
        "unmapped": unmapped,
    }


def reconcile(
    engine: Engine,
    *,
    submitted: int,
    accepted: int,
    rejected_at_ingestion: int,
    acknowledged_source_keys: Iterable[str] | None = None,
    redeliveries: Mapping[str, int] | None = None,
    faults: Sequence[Fault] = (),
    extra: Mapping[str, Any] | None = None,
) -> Reconciliation:
    rr = s.rejected_records
    with engine.connect() as conn:
        raw = int(conn.execute(select(func.count()).select_from(s.raw_clients)).scalar_one())
        rejected_ingestion = int(
            conn.execute(
                select(func.count()).select_from(rr).where(rr.c.stage == "ingestion")
            ).scalar_one()
        )
        no_reason = int(
            conn.execute(
                select(func.count())
                .select_from(rr)
                .where((rr.c.reason.is_(None)) | (rr.c.reason == ""))
            ).scalar_one()
        )
        by_stage = {
            f"{stage}/{reason}": int(n)
            for stage, reason, n in conn.execute(
                select(rr.c.stage, rr.c.reason, func.count()).group_by(rr.c.stage, rr.c.reason)
            ).all()
        }
        missing: int | None = None
        if acknowledged_source_keys is not None:
            keys = set(acknowledged_source_keys)
            present = {k for (k,) in conn.execute(select(s.raw_clients.c.source_key)).all()}
            missing = len(keys - present)
    health = assignment_health(engine)
    return Reconciliation(
        submitted=submitted,
        accepted=accepted,
        rejected_at_ingestion=rejected_at_ingestion,
        loaded_raw=raw,
        rejected_recorded=rejected_ingestion,
        rejected_without_reason=no_reason,
        rejected_by_stage_reason=by_stage,
        lost=max(0, accepted - raw),
        acknowledged_missing=missing,
        duplicates={
            key: duplicate_keys(engine, table, cols) for key, (table, cols) in BUSINESS_KEYS.items()
        }
        | {
            "assignments_fact current per client_id": duplicate_keys_where(
                engine,
                s.assignments_fact,
                ("client_id",),
                s.assignments_fact.c.is_current.is_(True),
            )
        },
        live_golden=health["live"],
        live_without_one_current_assignment=health["wrong"],
        current_assignments_on_retired=health["retired_current"],
        source_keys_in_several_live_golden=health["several"],
        reused_source_keys_kept_apart=health["reused"],
        staged_without_golden=health["unmapped"],
        source_records_without_match_evidence=health["unexplained"],
        row_counts=row_counts(engine),
        checksum=content_checksum(engine),
        redeliveries=dict(redeliveries or {}),
        faults=list(faults),
        extra=dict(extra or {}),
    )


def duplicate_keys_where(engine: Engine, table: Table, columns: Sequence[str], where: Any) -> int:
    cols = [table.c[c] for c in columns]
    dup = select(*cols).where(where).group_by(*cols).having(func.count() > 1).subquery()
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(dup)).scalar_one())


def settled(engine: Engine, *, accepted: int) -> bool:
    """The run is complete: every accepted record in RAW, every staged source record in a
    live golden client, and every live golden client with exactly one current assignment."""
    with engine.connect() as conn:
        raw = int(conn.execute(select(func.count()).select_from(s.raw_clients)).scalar_one())
    if raw < accepted:
        return False
    health = assignment_health(engine)
    return health["live"] > 0 and health["wrong"] == 0 and health["unmapped"] == 0


def progress(engine: Engine, *, accepted: int) -> float:
    """Fraction of the run done: golden clients assigned over source records staged, scaled
    by how much of RAW arrived (0 … 1)."""
    cd, af = s.client_dim, s.assignments_fact
    with engine.connect() as conn:
        raw = int(conn.execute(select(func.count()).select_from(s.raw_clients)).scalar_one())
        mapped = int(
            conn.execute(
                select(func.count(func.distinct(s.client_source_record.c.source_key)))
            ).scalar_one()
        )
        assigned = int(
            conn.execute(
                select(func.count(func.distinct(af.c.client_id))).where(af.c.is_current.is_(True))
            ).scalar_one()
        )
        live = int(
            conn.execute(
                select(func.count()).select_from(cd).where(and_(cd.c.retired.is_not(true())))
            ).scalar_one()
        )
    if not accepted:
        return 1.0
    staged_share = min(1.0, mapped / accepted)
    assigned_share = min(1.0, assigned / live) if live else 0.0
    return min(1.0, raw / accepted) * 0.2 + staged_share * 0.5 + staged_share * assigned_share * 0.3


def redeliveries(messages_by_topic: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, int]:
    """Messages seen more than once on a topic, by the identity the product gives them:
    client.received by event_id, client.deduplicated by (client_id, version),
    assignment.changed by (client_id, territory, advisor, ruleset, previous territory)."""

    def ident(topic: str, doc: Mapping[str, Any]) -> Any:
        p = doc.get("payload") or {}
        if topic.endswith("client.deduplicated"):
            return (p.get("client_id"), p.get("version"))
        if topic.endswith("assignment.changed"):
            return (
                p.get("client_id"),
                p.get("territory_id"),
                p.get("advisor_email"),
                p.get("ruleset_version"),
                p.get("previous_territory_id"),
            )
        return doc.get("event_id")

    out: dict[str, int] = {}
    for topic, messages in messages_by_topic.items():
        seen = Counter(ident(topic, m["json"]) for m in messages if isinstance(m.get("json"), dict))
        out[topic.rsplit(".", 2)[-2] + "." + topic.rsplit(".", 1)[-1]] = sum(
            n - 1 for n in seen.values() if n > 1
        )
    return out


__all__ = [
    "BUSINESS_KEYS",
    "Fault",
    "Reconciliation",
    "assignment_health",
    "content_checksum",
    "duplicate_keys",
    "progress",
    "reconcile",
    "redeliveries",
    "row_counts",
    "settled",
]
