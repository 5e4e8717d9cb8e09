"""The rules service: adapters around the book and the engine.

State is rebuilt on start from the topics (rulesets, golden clients, assignments,
conflicts), then a reconciliation pass re-decides every client. That pass is also what
makes a replay safe to interrupt: a replay cut short by a crash is finished by the next
start (or by the redelivered `ruleset.published`), and clients already moved are no-ops
because only changes are published.

Redelivery: offsets are committed after the handler (at-least-once). A redelivered
message older than what the rebuild already read is recognised by its offset (per client
key, hence per partition) and skipped, so state never goes back in time.

Stale versions: a golden client is applied only when its `version` is newer than the one
the book holds for that client id (live and in the rebuild). An older version published
again (a replayed or re-sent `client.deduplicated`) moves nothing and raises no conflict;
it is counted (`territory_rules_stale_skipped_total`) and logged (rate-limited).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter as PromCounter
from pydantic import BaseModel

from territory.rules.book import Book, Outcome
from territory.rules.engine import Engine, Placement
from territory.rules.facts import ClientFacts
from territory.rules.preview import preview, refusing_conflicts, replay
from territory.rules.ruleset import (
    Ruleset,
    RulesetError,
    load_ruleset,
    parse_ruleset,
    ruleset_document,
    ruleset_fingerprint,
)
from territory.rules.settings import RulesSettings
from territory.shared.broker import EventPublisher
from territory.shared.deadletter import DeadLetters
from territory.shared.events import (
    AssignmentChanged,
    ClientDeduplicated,
    Conflict,
    ConflictAction,
    ConflictDetected,
    ConflictKind,
    Event,
    FieldError,
    RejectReason,
    RulesCommanded,
    RulesetPublished,
    RulesetRelease,
)
from territory.shared.kernel import Batch, ServiceKernel, read_events
from territory.shared.log import RateLimitedLog
from territory.shared.rulesets import ActiveRuleset, PreviewDiff, ReplayReport
from territory.shared.topics import Topic

log = logging.getLogger(__name__)

ASSIGNMENTS = PromCounter("territory_rules_assignments_total", "assignment.changed published")
CONFLICTS = PromCounter("territory_rules_conflicts_total", "conflict.detected published", ["kind"])
REPLAYS = PromCounter("territory_rules_replays_total", "Replays run")
STALE = PromCounter(
    "territory_rules_stale_skipped_total",
    "Golden client versions not applied: not newer than the version held",
)
limited = RateLimitedLog(log, interval=10.0)
COMMANDS = PromCounter(
    "territory_rules_commands_total",
    "rules.command by action and whether it applied to something",
    ["action", "outcome"],
)


class _Placed(BaseModel):
    client_id: str
    territory_id: str | None = None
    advisor_email: str | None = None
    tier: str | None = None
    rule_id: str | None = None
    ruleset_version: str | None = None


class _PlacementRecord(BaseModel):
    """The part of an `assignment.changed` event the book is rebuilt from."""

    payload: _Placed


@dataclass
class RulesService:
    settings: RulesSettings
    publisher: EventPublisher
    dead_letters: DeadLetters
    producer: str
    book: Book = field(default_factory=Book)
    engine: Engine | None = None
    active: ActiveRuleset | None = None
    ruleset_offset: int = -1
    client_offsets: dict[str, int] = field(default_factory=dict)
    # Golden version held per client id: only a newer one is applied.
    client_versions: dict[str, int] = field(default_factory=dict)
    # Offsets applied by the batch being published; recorded once its events are durable.
    applying: dict[str, int] = field(default_factory=dict)
    # Events of a batch whose publish failed: the book already holds their decisions, so
    # deciding again finds nothing new; they go out with the retry instead of being lost.
    unpublished: list[Event[Any]] = field(default_factory=list)
    applying_versions: dict[str, int] = field(default_factory=dict)
    acknowledged: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ready: bool = False
    replaying: bool = False
    last_replay: ReplayReport | None = None

    # -- ruleset --------------------------------------------------------------------------

    def _activate(
        self,
        ruleset: Ruleset,
        *,
        source: str,
        published_by: str | None,
        engine: Engine | None = None,
    ) -> None:
        self.engine = engine or Engine(ruleset)
        self.active = ActiveRuleset(
            version=ruleset.version,
            fingerprint=ruleset_fingerprint(ruleset),
            source=source,
            published_by=published_by,
            activated_at=datetime.now(UTC),
            clients=0,
            assigned=0,
            open_conflicts=0,
            last_refusal=self.active.last_refusal if self.active else None,
            document=ruleset_document(ruleset),
        )
        log.info("ruleset active", extra={"version": ruleset.version, "source": source})

    def describe(self) -> ActiveRuleset:
        assert self.active is not None
        return self.active.model_copy(
            update={
                "clients": len(self.book.clients),
                "assigned": len(self.book.placements),
                "open_conflicts": len(self.book.open_conflicts),
                "last_replay": self.last_replay,
            }
        )

    # -- rebuild --------------------------------------------------------------------------

    async def rebuild(self) -> None:
        """Rebuild state from the topics, then reconcile every client with the rules."""
        kafka = self.settings.kafka
        topics = kafka.topics
        started = time.perf_counter()
        releases: list[tuple[int, RulesetRelease, Engine]] = []
        async for event, at in read_events(
            kafka, topics.ruleset_published, RulesetPublished, client_id="rules"
        ):
            try:
                engine = Engine(parse_ruleset(event.payload.document))
            except RulesetError:
                continue  # refused when it was published; the previous one stays active
            releases.append((at.offset, event.payload, engine))
            self.ruleset_offset = at.offset
        async for received, at in read_events(
            kafka, topics.client_deduplicated, ClientDeduplicated, client_id="rules"
        ):
            golden = received.payload
            self.client_offsets[golden.client_id] = at.offset
            held = self.client_versions.get(golden.client_id)
            if self._stale(golden.client_id, golden.version, held, at.offset):
                continue
            self.client_versions[golden.client_id] = golden.version
            if golden.retired:
                self.book.retire_client(golden.client_id)
            else:
                self.book.put_client(ClientFacts.of(golden))
        # Our own events: read back only what the book needs (re-validating every e-mail
        # of a million assignments would dominate the restart).
        async for record, _ in read_events(
            kafka, topics.assignment_changed, _PlacementRecord, client_id="rules"
        ):
            placed = record.payload
            self.book.place(
                placed.client_id,
                Placement(
                    placed.territory_id,
                    placed.advisor_email,
                    placed.tier,
                    placed.rule_id,
                    placed.ruleset_version,
                )
                if placed.territory_id
                else None,
            )
        async for detected, _ in read_events(
            kafka, topics.conflict_detected, ConflictDetected, client_id="rules"
        ):
            conflict = detected.payload
            if conflict.action != ConflictAction.REFUSE_RULESET:  # about a refused candidate
                self.book.note_conflict(conflict)
        # The active ruleset is the last valid one that its conflict policy does not
        # refuse on the current state (refusals are not recorded on the ruleset topic).
        for offset, payload, engine in reversed(releases):
            if await self._refusals(engine):
                log.warning("skipping refused ruleset", extra={"version": engine.version})
                continue
            self._activate(
                engine.ruleset,
                source=f"ruleset.published@{offset}",
                published_by=payload.published_by,
                engine=engine,
            )
            break
        if self.engine is None:
            path = self.settings.rules.initial_ruleset
            initial = load_ruleset(path)
            self._activate(initial, source=str(path), published_by=None)
            # Announce it: the warehouse (territory and advisor dimensions, ruleset
            # versions), the API and the audit trail only know rulesets from the topic.
            # Our own consumer reads it back as the same ruleset, without a replay.
            await self.publisher.publish(
                RulesetPublished(
                    producer=self.producer,
                    payload=RulesetRelease(
                        version=initial.version,
                        document=ruleset_document(initial),
                        published_by=f"rules-service (initial ruleset {path})",
                        comment="no ruleset had been published: the configured initial one",
                        replay=False,
                    ),
                )
            )
        log.info(
            "state rebuilt",
            extra={
                "clients": len(self.book.clients),
                "assignments": len(self.book.placements),
                "open_conflicts": len(self.book.open_conflicts),
                "seconds": round(time.perf_counter() - started, 2),
            },
        )
        # Placements of clients that no longer exist (retired) end now.
        assert self.engine is not None
        for client_id in [c for c in self.book.placements if c not in self.book.clients]:
            await self.publish(
                self.book.end(
                    self.engine, client_id, reason="client merged away", changed_by="rules-engine"
                )
            )
        await self.reassign(changed_by="replay:startup")
        self.ready = True

    # -- handlers -------------------------------------------------------------------------

    async def on_client_deduplicated(
        self, batch: Batch[ClientDeduplicated]
    ) -> Sequence[Event[Any]]:
        """Re-decide each golden client of the batch; the changes are published.

        Runs under `self.lock` (held by the kernel around handler and publish)."""
        assert self.engine is not None
        events: list[Event[Any]] = list(self.unpublished)
        self.applying.clear()
        self.applying_versions.clear()
        for event, at in batch.items():
            golden = event.payload
            seen = max(
                self.client_offsets.get(golden.client_id, -1),
                self.applying.get(golden.client_id, -1),
            )
            if at.offset <= seen:
                continue  # already applied (redelivery after a rebuild)
            held = self.applying_versions.get(
                golden.client_id, self.client_versions.get(golden.client_id)
            )
            if self._stale(golden.client_id, golden.version, held, at.offset):
                self.applying[golden.client_id] = at.offset
                continue
            self.applying_versions[golden.client_id] = golden.version
            out = Outcome()
            for merged in golden.merged_client_ids:
                if merged != golden.client_id:
                    out.extend(
                        self.book.end(
                            self.engine,
                            merged,
                            reason=f"merged into {golden.client_id}",
                            changed_by="rules-engine",
                        )
                    )
            if golden.retired:
                out.extend(
                    self.book.end(
                        self.engine,
                        golden.client_id,
                        reason="client merged into another golden client",
                        changed_by="rules-engine",
                    )
                )
            else:
                self.book.put_client(ClientFacts.of(golden))
                out.extend(
                    self.book.apply(self.engine, golden.client_id, changed_by="rules-engine")
                )
            events.extend(self.events_of(out, correlation_id=event.correlation_id))
            self.applying[golden.client_id] = at.offset
        self.unpublished = events
        return events

    def applied(self, events: Sequence[Event[Any]]) -> None:
        """The batch's events are durable: its clients count as applied."""
        self.client_offsets.update(self.applying)
        self.client_versions.update(self.applying_versions)
        self.applying.clear()
        self.unpublished = []
        self.applying_versions.clear()
        self._count(events)

    @staticmethod
    def _stale(client_id: str, version: int, known: int | None, offset: int) -> bool:
        """A version not newer than the one held: counted, logged, not applied."""
        if known is None or version > known:
            return False
        STALE.inc()
        limited.warning(
            "stale golden client version skipped",
            key="stale",
            client_id=client_id,
            version=version,
            held_version=known,
            offset=offset,
        )
        return True

    async def on_ruleset_published(self, batch: Batch[RulesetPublished]) -> None:
        """Rulesets in order; a replay publishes its own chunks as it goes."""
        for event, at in batch.items():
            await self.on_ruleset(event, at.offset)

    async def on_rules_command(self, batch: Batch[RulesCommanded]) -> None:
        for event in batch:
            await self.on_command(event)

    async def on_ruleset(self, event: RulesetPublished, offset: int) -> None:
        release = event.payload
        if offset <= self.ruleset_offset:
            return
        try:
            ruleset = parse_ruleset(release.document)
            engine = Engine(ruleset)
        except RulesetError as exc:
            self.ruleset_offset = offset
            await self._refuse(release.version, str(exc), exc.problems)
            return
        async with self.lock:
            refusals = await self._refusals(engine)
            if refusals:
                self.ruleset_offset = offset
                await self._publish_conflicts(refusals)
                await self._refuse(
                    ruleset.version,
                    f"{len(refusals)} conflict(s) whose action is refuse_ruleset",
                    [(c.conflict_id, c.detail) for c in refusals[:20]],
                )
                return
            self._activate(
                ruleset,
                source=f"ruleset.published@{offset}",
                published_by=release.published_by,
                engine=engine,
            )
        if release.replay:
            await self.reassign(changed_by=f"replay:{ruleset.version}")
        self.ruleset_offset = offset

    async def _refusals(self, engine: Engine) -> list[Conflict]:
        """Conflicts (ids prefixed) that make the engine's own policy refuse its ruleset
        on the current state; tried on a copy, only when such a policy exists."""
        if not any(
            engine.ruleset.conflict_policy(kind).action == ConflictAction.REFUSE_RULESET
            for kind in ConflictKind
        ):
            return []
        candidate = self.book.copy()
        await asyncio.to_thread(replay, candidate, engine, changed_by="check")
        return refusing_conflicts(candidate, engine)

    async def _refuse(self, version: str, why: str, problems: list[tuple[str, str]]) -> None:
        log.error("ruleset refused", extra={"version": version, "why": why})
        if self.active is not None:
            self.active = self.active.model_copy(update={"last_refusal": f"{version}: {why}"})
        await self.dead_letters.reject(
            reason=RejectReason.INVALID_VALUE,
            errors=[
                FieldError(field=path, code="ruleset_refused", message=msg)
                for path, msg in problems
            ],
            original=why,
            source_key=f"ruleset:{version}",
        )

    async def on_command(self, event: RulesCommanded) -> None:
        command = event.payload
        if command.action == "reassign":
            COMMANDS.labels(command.action, "applied").inc()
            await self.reassign(changed_by=f"replay:{command.requested_by}")
        elif command.conflict_id:
            self.acknowledged.add(command.conflict_id)
            if command.conflict_id not in self.book.open_conflicts:
                # The API checks the warehouse first; one that still names no open
                # conflict (resolved meanwhile, or sent by something else) is said out loud.
                COMMANDS.labels(command.action, "not_applied").inc()
                log.warning(
                    "acknowledged conflict is not open",
                    extra={"conflict_id": command.conflict_id, "by": command.requested_by},
                )
                return
            COMMANDS.labels(command.action, "applied").inc()
            log.info(
                "conflict acknowledged",
                extra={"conflict_id": command.conflict_id, "by": command.requested_by},
            )

    # -- replay ---------------------------------------------------------------------------

    async def reassign(self, *, changed_by: str) -> ReplayReport:
        """Re-decide every client with the active rules; publish only what changes.

        Works in chunks, publishing each chunk before the next, so an interruption loses
        nothing: what was published is in the rebuilt state, the rest is decided again.
        """
        assert self.engine is not None
        run_id = f"{changed_by}:{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        REPLAYS.inc()
        order = list(self.book.order())
        churn: Counter[str] = Counter()
        cap = self.engine.ruleset.churn.max_moves_per_advisor
        moved = conflicts = 0
        held: list[str] = []
        chunk = self.settings.rules.replay_chunk
        now = datetime.now(UTC)
        self.replaying = True
        try:
            for start in range(0, len(order), chunk):
                async with self.lock:
                    engine = self.engine
                    out = Outcome()
                    for client_id in order[start : start + chunk]:
                        out.extend(
                            self.book.apply(
                                engine,
                                client_id,
                                changed_by=changed_by,
                                now=now,
                                churn=churn,
                                churn_cap=cap,
                            )
                        )
                    await self.publish(out)
                moved += len(out.assignments)
                conflicts += len(out.conflicts)
                held.extend(out.held_back)
                await asyncio.sleep(0)
        finally:
            self.replaying = False
        report = ReplayReport(
            run_id=run_id,
            ruleset_version=self.engine.version,
            clients=len(order),
            moved=moved,
            conflicts=conflicts,
            held_back=len(held),
            held_back_clients=held[:1000],
            seconds=round(time.perf_counter() - started, 3),
        )
        self.last_replay = report
        log.info("replay done", extra=report.model_dump(exclude={"held_back_clients"}))
        if held:
            log.warning("churn guard held back moves", extra={"held_back": len(held)})
        return report

    async def preview(self, ruleset: Ruleset, *, limit: int) -> PreviewDiff:
        engine = Engine(ruleset)
        assert self.engine is not None
        async with self.lock:
            book = self.book.copy()
            active = self.engine
        return await asyncio.to_thread(preview, book, active, engine, limit=limit)

    # -- publishing -----------------------------------------------------------------------

    def events_of(self, out: Outcome, correlation_id: str | None = None) -> list[Event[Any]]:
        extra: dict[str, Any] = {"correlation_id": correlation_id} if correlation_id else {}
        events: list[Event[Any]] = [
            AssignmentChanged(producer=self.producer, payload=a, **extra) for a in out.assignments
        ]
        events.extend(
            ConflictDetected(producer=self.producer, payload=c, **extra) for c in out.conflicts
        )
        return events

    async def publish(self, out: Outcome, correlation_id: str | None = None) -> None:
        events = self.events_of(out, correlation_id)
        if len(events) == 1:
            # One event needs no pipelining (and faststream's TestKafkaBroker cannot
            # confirm the futures of `publish_many`).
            await self.publisher.publish(events[0])
        else:
            await self.publisher.publish_many(events)
        self._count(events)

    @staticmethod
    def _count(events: Sequence[Event[Any]]) -> None:
        for event in events:
            if isinstance(event, AssignmentChanged):
                ASSIGNMENTS.inc()
            elif isinstance(event, ConflictDetected):
                CONFLICTS.labels(event.payload.kind.value).inc()

    async def _publish_conflicts(self, conflicts: list[Conflict]) -> None:
        await self.publish(Outcome(conflicts=conflicts))


def register(kernel: ServiceKernel, service: RulesService) -> None:
    """Subscribe the service's handlers (before the broker starts)."""
    group = service.settings.rules.group_id
    consumer = kernel.consumer
    consumer(
        Topic.CLIENT_DEDUPLICATED,
        group_id=group,
        publishes=[Topic.ASSIGNMENT_CHANGED, Topic.CONFLICT_DETECTED],
        lock=service.lock,
        after_publish=service.applied,
    )(service.on_client_deduplicated)
    # These two take the lock themselves, chunk by chunk, while a replay runs.
    consumer(
        Topic.RULESET_PUBLISHED,
        group_id=group,
        publishes=[Topic.ASSIGNMENT_CHANGED, Topic.CONFLICT_DETECTED],
    )(service.on_ruleset_published)
    consumer(Topic.RULES_COMMAND, group_id=group)(service.on_rules_command)


ActiveRuleset.model_rebuild()
