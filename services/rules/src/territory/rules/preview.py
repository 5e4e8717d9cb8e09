"""Preview: what a candidate ruleset would change, computed on a copy of the book.

The preview runs exactly the replay that publishing the candidate would run (same order,
same advisor selection, same churn guard), on a copy, and publishes nothing. The API
forwards `POST /v1/preview` here; the CLI calls `preview` directly.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from territory.rules.book import Book
from territory.rules.engine import Engine
from territory.rules.ruleset import Ruleset
from territory.shared.events import Conflict, ConflictAction
from territory.shared.rulesets import (
    AdvisorLoad,
    ConflictSummary,
    Move,
    PreviewDiff,
    TerritoryCount,
)


def _where(book: Book, client_id: str) -> tuple[str | None, str | None]:
    p = book.placements.get(client_id)
    return (p.territory_id, p.advisor_email) if p else (None, None)


def refusing_conflicts(book: Book, engine: Engine) -> list[Conflict]:
    """Open conflicts whose kind the engine's ruleset says must refuse the ruleset."""
    return [
        c.model_copy(
            update={
                "conflict_id": f"refused:{engine.version}:{c.conflict_id}",
                "action": ConflictAction.REFUSE_RULESET,
                "ruleset_version": engine.version,
            }
        )
        for c in book.open_conflicts.values()
        if engine.ruleset.conflict_policy(c.kind).action == ConflictAction.REFUSE_RULESET
    ]


def refusing(book: Book, engine: Engine) -> bool:
    return bool(refusing_conflicts(book, engine))


def _summary(c: Conflict) -> ConflictSummary:
    return ConflictSummary(
        conflict_id=c.conflict_id,
        kind=c.kind,
        severity=c.severity.value,
        action=c.action.value,
        client_id=c.client_id,
        detail=c.detail,
    )


def replay(
    book: Book, engine: Engine, *, changed_by: str, now: datetime | None = None
) -> tuple[list[str], list[Conflict], list[str]]:
    """Re-decide every client in replay order (used by preview; the service does the
    same in chunks). Returns (moved client ids, conflict events, held-back client ids)."""
    churn: Counter[str] = Counter()
    cap = engine.ruleset.churn.max_moves_per_advisor
    moved: list[str] = []
    conflicts: list[Conflict] = []
    held: list[str] = []
    for client_id in list(book.order()):
        out = book.apply(
            engine, client_id, changed_by=changed_by, now=now, churn=churn, churn_cap=cap
        )
        moved.extend(a.client_id for a in out.assignments)
        conflicts.extend(out.conflicts)
        held.extend(out.held_back)
    return moved, conflicts, held


def preview(
    book: Book, active: Engine, candidate: Ruleset | Engine, *, limit: int = 1000
) -> PreviewDiff:
    started = datetime.now(UTC)
    engine = candidate if isinstance(candidate, Engine) else Engine(candidate)
    after = book.copy()
    before_counts = book.territory_counts()
    before_open = dict(book.open_conflicts)
    moved, _, held = replay(after, engine, changed_by="preview", now=started)
    unique_moved = [c for c in sorted(set(moved)) if _where(book, c) != _where(after, c)]
    moves = []
    for client_id in unique_moved[:limit]:
        old = book.placements.get(client_id)
        new = after.placements.get(client_id)
        moves.append(
            Move(
                client_id=client_id,
                from_territory=old.territory_id if old else None,
                from_advisor=old.advisor_email if old else None,
                to_territory=new.territory_id if new else None,
                to_advisor=new.advisor_email if new else None,
                rule_id=new.rule_id if new else None,
                reason=f"rule {new.rule_id}" if new else "no territory",
            )
        )
    after_counts = after.territory_counts()
    territory_ids = sorted(set(before_counts) | set(after_counts) | set(engine.territories))
    advisors = sorted(set(book.loads) | set(after.loads) | set(engine.capacity))
    advisor_rows = []
    for email in advisors:
        b = {t: n for t, n in book.loads.get(email, Counter()).items() if n}
        a = {t: n for t, n in after.loads.get(email, Counter()).items() if n}
        cap_after = engine.capacity.get(email, {})
        advisor_rows.append(
            AdvisorLoad(
                advisor_email=email,
                before=b,
                after=a,
                capacity_before=active.capacity.get(email, {}),
                capacity_after=cap_after,
                over_capacity_after=sorted(t for t, n in a.items() if n > cap_after.get(t, 0)),
            )
        )
    new_conflicts = [c for cid, c in after.open_conflicts.items() if cid not in before_open]
    resolved = [c for cid, c in before_open.items() if cid not in after.open_conflicts]
    took = (datetime.now(UTC) - started).total_seconds()
    return PreviewDiff(
        active_version=active.version,
        candidate_version=engine.version,
        clients=len(book.clients),
        moved=len(unique_moved),
        moves=moves,
        moves_truncated=len(unique_moved) > limit,
        held_back=len(held),
        territories=[
            TerritoryCount(
                territory_id=t, before=before_counts.get(t, 0), after=after_counts.get(t, 0)
            )
            for t in territory_ids
        ],
        advisors=advisor_rows,
        new_conflicts=[
            _summary(c) for c in sorted(new_conflicts, key=lambda c: c.conflict_id)[:limit]
        ],
        resolved_conflicts=[
            _summary(c) for c in sorted(resolved, key=lambda c: c.conflict_id)[:limit]
        ],
        new_conflicts_by_kind=dict(Counter(c.kind.value for c in new_conflicts)),
        resolved_conflicts_by_kind=dict(Counter(c.kind.value for c in resolved)),
        refused=refusing(after, engine),
        took_seconds=round(took, 3),
    )
