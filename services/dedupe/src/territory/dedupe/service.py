"""The dedupe service: Kafka adapter around the engine.

Consumes `client.received` (records) and `dedupe.command` (reviewers' merges and splits),
publishes golden clients on `client.deduplicated` (key: golden client id).

State and restarts
------------------
The master lives in memory and is rebuilt on start, before any subscriber runs:
1. `client.deduplicated` is read from the beginning: the last event of every golden client
   gives its members (lineage), version, retirement and the fingerprint of what was emitted;
2. `client.received` is read from the beginning: the member records themselves (the version
   each golden client was built from).
The consumer group then resumes from its committed offsets. Offsets are committed after
the golden clients were published (`CONSUMER_ACK_POLICY`), so a crash in between means the
message comes again; processing it again renders the same golden clients (deterministic
ids, survivorship a function of the member set) and `pending()` emits only what differs
from the last emitted fingerprint: a restart loses nothing and re-emits nothing.
Torn batches: a batch's golden clients go to their own partitions and are acknowledged
one by one, so a crash while they are in flight can leave some on the topic and not the
others: a merge's survivor without the retirement of the client it absorbed (one source
record then in two live clients), a split's remaining side without the new one (a record
in none). Re-reading the batch cannot mend that (its records are in the master already,
unchanged), so the rebuild does (`DedupeEngine.restore`: the client emitted last holds a
record claimed twice, a record claimed by none is placed again) and `publish_repairs`
publishes the result at start (`territory_dedupe_rebuild_repairs_total`).
Stale versions: a record older than the version held for its source key (`updated_at`
earlier than the held record's) changes nothing; it is counted
(`territory_dedupe_stale_skipped_total`) and logged (rate-limited). When either side has
no `updated_at`, arrival order decides (the newer arrival applies): a source key lives on
one partition, so arrival order is the order the source published in.
Reused event ids: a record whose `event_id` was already seen for a different record (its
payload differs) is not placed: it becomes a dead letter (`duplicate_event_id`), as the
loader refuses it for RAW and STAGE, so no layer keeps it (the dead letters share an
`origin_id`). The same event again (same payload) is a redelivery and is placed as usual.
Memory: one 64-bit hash per event id seen.
In production `client.received` keeps its history (retention by time off, or compaction by
source key, which keeps the latest version of every record: exactly what is needed).

Several instances
-----------------
Records are keyed by source key, so a consumer group spreads `client.received` partitions
over instances — but a record's duplicates can arrive on any partition: partitioning alone
would hide candidates. The broadcast read-replica design:
- every instance keeps the *whole* master as a read replica: besides its own partitions of
  `client.received`, it reads every partition of `client.deduplicated` without a group
  (broadcast) and applies golden clients decided elsewhere to its index — the same code
  path as the rebuild above (`DedupeEngine.restore`), run continuously;
- a record is decided only by the instance owning its partition, so per-record order and
  the "update of a known source key" rule hold.
Its open problem is a race: two duplicates decided at the same moment on two instances
each found a golden client, and whether the repair (each instance scores the other's
event when it arrives) merges them depends on timing, so the same records would no longer
always give the same golden clients. docs/architecture.md ("Scaling out") gives the exact
alternative (parallel scoring with a watermark, one decider) and why neither is built:
one instance's ceiling, one core ÷ its CPU per record, is within a few percent of the
whole 2-core machine's in the end-to-end benchmark's CPU budget (docs/benchmarks.md), so
a second instance cannot raise the rate there. The service runs as one instance holding
every partition; memory would be the cost of more (each holds the full master).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from faststream.asgi import AsgiFastStream
from prometheus_client import Counter, Histogram

from territory.dedupe.engine import DedupeEngine
from territory.dedupe.settings import DedupeSettings
from territory.shared import collector
from territory.shared.events import (
    ClientDeduplicated,
    ClientReceived,
    ClientRecord,
    DedupeCommanded,
    Event,
    FieldError,
    GoldenClient,
    MessagePosition,
    RejectReason,
)
from territory.shared.kernel import Batch, ServiceKernel, dead_letter_id, read_events
from territory.shared.log import RateLimitedLog, configure_logging
from territory.shared.ops import serve_docs
from territory.shared.settings import load_settings
from territory.shared.topics import Topic

log = logging.getLogger(__name__)

SERVICE = "dedupe"

DECISIONS = Counter(
    "territory_dedupe_records_total", "Records placed, by decision", ["decision", "update"]
)
COMMANDS = Counter(
    "territory_dedupe_commands_total",
    "Reviewers' commands, by action and whether anything changed",
    ["action", "outcome"],
)
EMITTED = Counter("territory_dedupe_golden_events_total", "Golden client events published")
REPAIRED = Counter(
    "territory_dedupe_rebuild_repairs_total",
    "Source keys the rebuild found torn by a crash (a batch's golden clients published in "
    "part): `lost` (held by a client emitted later), `dropped` (held by none)",
    ["kind"],
)
STALE = Counter(
    "territory_dedupe_stale_skipped_total",
    "Records not applied: older (updated_at) than the version held for their source key",
)
limited = RateLimitedLog(log, interval=10.0)
DECIDE_SECONDS = Histogram(
    "territory_dedupe_decide_seconds",
    "Time to decide one record (engine only)",
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1),
)


class DedupeService:
    """The master and the handlers that change it; the kernel delivers and publishes."""

    def __init__(self, settings: DedupeSettings, kernel: ServiceKernel | None = None) -> None:
        self.settings = settings
        self.kernel = kernel or ServiceKernel(settings, SERVICE)
        self.broker = self.kernel.broker
        self.producer = self.kernel.producer
        self.engine = DedupeEngine(settings.dedupe.engine)
        self.lock = asyncio.Lock()
        self.rebuilt = False
        # event id (as int) → hash of the payload it was first seen with.
        self.event_ids: dict[int, int] = {}
        consumer = self.kernel.consumer
        group = settings.dedupe.group_id
        # Both handlers change the master: one lock around decide, publish, mark emitted.
        options: dict[str, Any] = {
            "group_id": group,
            "publishes": [Topic.CLIENT_DEDUPLICATED],
            "lock": self.lock,
            "after_publish": self._emitted,
        }
        consumer(Topic.CLIENT_RECEIVED, **options)(self.on_client_received)
        consumer(Topic.DEDUPE_COMMAND, **options)(self.on_dedupe_command)

    # ------------------------------------------------------------------ handlers

    async def on_client_received(self, batch: Batch[ClientReceived]) -> Sequence[Event[Any]]:
        """Place every record of the batch; the golden clients that changed are published."""
        origin: dict[str, str] = {}
        refused: list[Event[Any]] = []
        for event, position in batch.items():
            if self._reused(event):
                refused.append(self._duplicate_event_id(event, position))
                continue
            if self._stale(event.payload):
                continue
            started = time.perf_counter()
            placement = self.engine.on_record(event.payload)
            DECIDE_SECONDS.observe(time.perf_counter() - started)
            DECISIONS.labels(placement.decision.value, str(placement.update).lower()).inc()
            origin[placement.client_id] = event.correlation_id
        return [*refused, *self._rendered(origin, batch.events[-1].correlation_id)]

    def _reused(self, event: ClientReceived) -> bool:
        """The event id was first seen with another payload (see the module notes)."""
        digest = _payload_hash(event)
        first = self.event_ids.setdefault(event.event_id.int, digest)
        return first != digest

    def _duplicate_event_id(self, event: ClientReceived, position: MessagePosition) -> Event[Any]:
        log.warning(
            "event id reused for another record: refused",
            extra={"event_id": str(event.event_id), "source_key": event.payload.source_key},
        )
        rejection = self.kernel.dead_letters.rejection(
            reason=RejectReason.DUPLICATE_EVENT_ID,
            errors=[
                FieldError(
                    field="event_id",
                    code="duplicate_event_id",
                    message=f"event_id {event.event_id} was already used for another record",
                )
            ],
            original=event.model_dump_json(),
            original_format="kafka",
            position=position,
            source_key=event.payload.source_key,
            correlation_id=event.correlation_id,
        )
        stable = dead_letter_id(self.kernel.service, position)
        return rejection.model_copy(update={"event_id": stable})

    def _stale(self, record: ClientRecord) -> bool:
        """Older than the version held for its source key (see the module notes)."""
        known = self.engine.records.get(record.source_key)
        if (
            known is None
            or known.record.updated_at is None
            or record.updated_at is None
            or record.updated_at >= known.record.updated_at
        ):
            return False
        STALE.inc()
        limited.warning(
            "stale record version skipped",
            key="stale",
            source_key=record.source_key,
            updated_at=record.updated_at.isoformat(),
            held_updated_at=known.record.updated_at.isoformat(),
        )
        return True

    async def on_dedupe_command(self, batch: Batch[DedupeCommanded]) -> Sequence[Event[Any]]:
        """A reviewer's merges and splits, applied in order."""
        origin: dict[str, str] = {}
        for event in batch:
            changed = self.engine.on_command(event.payload)
            origin.update(dict.fromkeys(changed, event.correlation_id))
            COMMANDS.labels(event.payload.action, "applied" if changed else "not_applied").inc()
            if not changed:
                # The API checks ids before publishing; one that still changes nothing
                # (a race with another decision, a command from elsewhere) is said out loud.
                log.warning(
                    "dedupe command changed nothing",
                    extra={
                        "action": event.payload.action,
                        "decided_by": event.payload.decided_by,
                        "client_ids": event.payload.client_ids,
                        "source_keys": event.payload.source_keys,
                    },
                )
                continue
            log.info(
                "dedupe command applied",
                extra={
                    "action": event.payload.action,
                    "decided_by": event.payload.decided_by,
                    "changed": changed,
                },
            )
        return self._rendered(origin, batch.events[-1].correlation_id)

    def _rendered(self, origin: dict[str, str], last: str) -> list[ClientDeduplicated]:
        """The changed golden clients, each with the correlation id of the record (or
        command) that last changed it; one changed on the side (a parent resolved) gets the
        batch's last. They stay pending until `_emitted` ran (after every ack): a failed
        publish leaves them pending, and the retry emits them."""
        return [
            ClientDeduplicated(
                producer=self.producer,
                correlation_id=origin.get(g.client_id, last),
                payload=g,
            )
            for g in self.engine.pending()
        ]

    def _emitted(self, events: Sequence[Event[Any]]) -> None:
        self.engine.mark_emitted(e.payload for e in events if isinstance(e, ClientDeduplicated))
        EMITTED.inc(sum(isinstance(e, ClientDeduplicated) for e in events))

    # ------------------------------------------------------------------ lifecycle

    async def rebuild(self) -> None:
        """Read the master back from the topics (see the module notes)."""
        kafka = self.settings.kafka
        await self.kernel.ensure_topics()
        started = time.perf_counter()
        last: dict[str, GoldenClient] = {}
        emitted_at: dict[str, datetime] = {}
        listed: set[str] = set()
        topics = kafka.topics
        async for event, _ in read_events(
            kafka, topics.client_deduplicated, ClientDeduplicated, client_id=SERVICE
        ):
            golden = event.payload
            listed.update(ref.source_key for ref in golden.source_records)
            seen = last.get(golden.client_id)
            if seen is None or golden.version >= seen.version:
                last[golden.client_id] = golden
                emitted_at[golden.client_id] = event.occurred_at
        records: dict[str, list[ClientRecord]] = defaultdict(list)
        async for received, _ in read_events(
            kafka, topics.client_received, ClientReceived, client_id=SERVICE
        ):
            if self._reused(received):
                continue  # refused when it was consumed
            records[received.payload.source_key].append(received.payload)
        async with self.lock:
            restored = self.engine.restore(
                last.values(), records, emitted_at=emitted_at, listed=listed
            )
        golden_clients = len(last)
        # The kernel's last start-up step freezes the master out of the cyclic collector
        # (a full collection over millions of objects stalled decisions).
        del records, last, emitted_at, listed
        REPAIRED.labels("lost").inc(sum(len(v) for v in restored.lost.values()))
        REPAIRED.labels("dropped").inc(len(restored.dropped))
        self.rebuilt = True
        log.info(
            "master rebuilt",
            extra={
                "golden_clients": golden_clients,
                "source_records": len(self.engine.records),
                "missing_records": len(restored.missing),
                "torn_batch_repairs": sum(map(len, restored.lost.values())) + len(restored.dropped),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )

    async def rebuild_on_start(self) -> None:
        await asyncio.wait_for(self.rebuild(), self.settings.dedupe.rebuild_timeout_seconds)

    async def publish_repairs(self) -> None:
        """What the rebuild repaired (a batch torn by a crash: `DedupeEngine.restore`) is
        published as soon as the service runs, under the lock the handlers take (a batch
        decided first publishes the repairs with its own golden clients). If the broker
        refuses, the repairs stay pending and go out with the next batch."""
        correlation_id = str(uuid.uuid4())  # one per rebuild: the log line names it
        async with self.lock:
            events = self._rendered({}, correlation_id)
            if not events:
                return
            try:
                await self.kernel.publisher.publish_many(events)
            except Exception:
                log.exception(
                    "repaired golden clients not published yet", extra={"count": len(events)}
                )
                return
            self._emitted(events)
        log.warning(
            "golden clients of a batch torn by a crash published again",
            extra={
                "count": len(events),
                "correlation_id": correlation_id,
                "client_ids": [e.payload.client_id for e in events[:10]],
            },
        )

    async def start(self) -> None:
        await self.rebuild_on_start()
        await self.broker.start()
        await self.publish_repairs()

    async def stop(self) -> None:
        await self.broker.stop()

    async def ready(self) -> bool:
        return self.rebuilt

    def app(self) -> AsgiFastStream:
        app = self.kernel.app(
            readiness=[("master", self.ready)],
            on_startup=[self.rebuild_on_start],
            after_startup=[self.publish_repairs],
        )
        return serve_docs(app)


def _payload_hash(event: ClientReceived) -> int:
    return int.from_bytes(
        hashlib.blake2b(event.payload.model_dump_json().encode(), digest_size=8).digest()
    )


def create_app(settings: DedupeSettings) -> AsgiFastStream:
    """Settings → kernel → the service's handlers registered → the ASGI app."""
    kernel = ServiceKernel(settings, SERVICE)
    return DedupeService(settings, kernel).app()


def main() -> None:
    import uvicorn

    settings = load_settings(DedupeSettings)
    configure_logging(SERVICE, level=settings.log_level, json_lines=settings.log_json)
    collector.tune(settings.gc)
    uvicorn.run(
        create_app(settings),
        host=settings.dedupe.host,
        port=settings.dedupe.port,
        log_config=None,
        lifespan="on",
    )
