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
In production `client.received` keeps its history (retention by time off, or compaction by
source key, which keeps the latest version of every record: exactly what is needed).

Several instances
-----------------
Records are keyed by source key, so a consumer group spreads `client.received` partitions
over instances — but a record's duplicates can arrive on any partition: partitioning alone
would hide candidates. The design for scaling out:
- every instance keeps the *whole* master as a read replica: besides its own partitions of
  `client.received`, it reads every partition of `client.deduplicated` without a group
  (broadcast) and applies golden clients decided elsewhere to its index — the same code
  path as the rebuild above (`DedupeEngine.restore`), run continuously;
- a record is decided only by the instance owning its partition, so per-record order and
  the "update of a known source key" rule hold;
- two duplicates decided at the same moment on two instances can both found a golden
  client; each instance sees the other's event moments later and scores it like any
  record: above the merge threshold the pair is merged with the lexicographically smaller
  golden id as survivor — a choice both instances make alike, and the second identical
  emission is suppressed by the fingerprint check.
Today the service runs as one instance holding every partition (one instance decides
thousands of records per second, see docs/benchmarks.md); the broadcast replica above is
the step to take when one instance is not enough. Memory is the cost: each instance holds
the full master (see the benchmark's RSS per golden client).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import time
from collections import defaultdict
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from territory.dedupe.engine import DedupeEngine
from territory.dedupe.settings import DedupeSettings
from territory.shared.broker import (
    CONSUMER_ACK_POLICY,
    EventPublisher,
    ensure_topics,
    make_broker,
    read_until_end,
)
from territory.shared.deadletter import DeadLetters
from territory.shared.events import (
    ClientDeduplicated,
    ClientReceived,
    ClientRecord,
    DedupeCommanded,
    GoldenClient,
)
from territory.shared.log import configure_logging
from territory.shared.ops import ops_routes
from territory.shared.settings import load_settings

log = logging.getLogger(__name__)

SERVICE = "dedupe"

DECISIONS = Counter(
    "territory_dedupe_records_total", "Records placed, by decision", ["decision", "update"]
)
EMITTED = Counter("territory_dedupe_golden_events_total", "Golden client events published")
DECIDE_SECONDS = Histogram(
    "territory_dedupe_decide_seconds",
    "Time to decide one record (engine only)",
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1),
)


def producer_name() -> str:
    return f"{SERVICE}@{socket.gethostname()}:{os.getpid()}"


class DedupeService:
    def __init__(self, settings: DedupeSettings) -> None:
        self.settings = settings
        topics = settings.kafka.topics
        self.broker = make_broker(settings.kafka, client_id=SERVICE)
        self.publisher = EventPublisher(self.broker, topics)
        self.producer = producer_name()
        self.dead_letters = DeadLetters(
            self.publisher, stage=SERVICE, producer=self.producer, retry=settings.retry
        )
        self.engine = DedupeEngine(settings.dedupe.engine)
        self.lock = asyncio.Lock()
        self.rebuilt = False
        subscribe: dict[str, Any] = {
            "group_id": settings.dedupe.group_id,
            "ack_policy": CONSUMER_ACK_POLICY,
            "auto_offset_reset": "earliest",
        }

        @self.broker.subscriber(topics.client_received, **subscribe)  # type: ignore[untyped-decorator]
        async def on_client_received(message: KafkaMessage) -> None:
            await self.dead_letters.guard(
                message,
                ClientReceived,
                self.apply_record,
                source_key=lambda event: event.payload.source_key,
            )

        @self.broker.subscriber(topics.dedupe_command, **subscribe)  # type: ignore[untyped-decorator]
        async def on_dedupe_command(message: KafkaMessage) -> None:
            await self.dead_letters.guard(message, DedupeCommanded, self.apply_command)

        self.on_client_received = on_client_received
        self.on_dedupe_command = on_dedupe_command

    # ------------------------------------------------------------------ handlers

    async def apply_record(self, event: ClientReceived) -> None:
        async with self.lock:
            started = time.perf_counter()
            placement = self.engine.on_record(event.payload)
            DECIDE_SECONDS.observe(time.perf_counter() - started)
            DECISIONS.labels(placement.decision.value, str(placement.update).lower()).inc()
            await self._flush(event.correlation_id)

    async def apply_command(self, event: DedupeCommanded) -> None:
        async with self.lock:
            changed = self.engine.on_command(event.payload)
            log.info(
                "dedupe command applied",
                extra={
                    "action": event.payload.action,
                    "decided_by": event.payload.decided_by,
                    "changed": changed,
                },
            )
            await self._flush(event.correlation_id)

    async def _flush(self, correlation_id: str) -> None:
        pending = self.engine.pending()
        events = [
            ClientDeduplicated(producer=self.producer, correlation_id=correlation_id, payload=g)
            for g in pending
        ]
        # Usually one event per record; each is acknowledged (acks=all) before the offset
        # is committed.
        for event in events:
            await self.publisher.publish(event)
        # Only now: a failed publish leaves them pending, and the retry emits them.
        self.engine.mark_emitted(pending)
        EMITTED.inc(len(events))

    # ------------------------------------------------------------------ lifecycle

    async def rebuild(self) -> None:
        """Read the master back from the topics (see the module notes)."""
        kafka = self.settings.kafka
        await ensure_topics(kafka)
        started = time.perf_counter()
        last: dict[str, GoldenClient] = {}
        async for record in read_until_end(
            kafka, kafka.topics.client_deduplicated, client_id=SERVICE
        ):
            value = record.value
            if value is None:
                continue
            try:
                golden = ClientDeduplicated.model_validate_json(value).payload
            except ValidationError:
                continue
            seen = last.get(golden.client_id)
            if seen is None or golden.version >= seen.version:
                last[golden.client_id] = golden
        records: dict[str, list[ClientRecord]] = defaultdict(list)
        async for record in read_until_end(kafka, kafka.topics.client_received, client_id=SERVICE):
            value = record.value
            if value is None:
                continue
            try:
                record = ClientReceived.model_validate_json(value).payload
            except ValidationError:
                continue  # it became a dead letter when it was consumed
            records[record.source_key].append(record)
        async with self.lock:
            missing = self.engine.restore(last.values(), records)
        golden_clients = len(last)
        del records, last
        gc.collect()
        # The master lives as long as the process: keep it out of the cyclic collector's
        # generations, or a full collection over millions of objects stalls decisions.
        gc.freeze()
        self.rebuilt = True
        log.info(
            "master rebuilt",
            extra={
                "golden_clients": golden_clients,
                "source_records": len(self.engine.records),
                "missing_records": len(missing),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )

    async def start(self) -> None:
        await asyncio.wait_for(self.rebuild(), self.settings.dedupe.rebuild_timeout_seconds)
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()

    async def ready(self) -> bool:
        return self.rebuilt

    def asgi_app(self) -> AsgiFastStream:
        async def rebuild_on_start() -> None:
            await asyncio.wait_for(self.rebuild(), self.settings.dedupe.rebuild_timeout_seconds)

        return AsgiFastStream(
            self.broker,
            asgi_routes=ops_routes(self.broker, extra_checks=[("master", self.ready)]),
            on_startup=[rebuild_on_start],
        )


def main() -> None:
    import uvicorn

    settings = load_settings(DedupeSettings)
    configure_logging(SERVICE, level=settings.log_level, json_lines=settings.log_json)
    service = DedupeService(settings)
    uvicorn.run(
        service.asgi_app(),
        host=settings.dedupe.host,
        port=settings.dedupe.port,
        log_config=None,
        lifespan="on",
    )
