"""Consumer services: typed, batched handlers with dead letters built in.

A handler receives the valid events of one poll and returns the events to publish:

    @kernel.consumer(Topic.CLIENT_RECEIVED, group_id=..., publishes=[Topic.CLIENT_DEDUPLICATED])
    async def on_client_received(batch: Batch[ClientReceived]) -> Sequence[Event[Any]]:
        ...

Delivery (per poll of the topic's faststream batch subscriber):
1. the kernel's decoder validates every record as its topic's event model; a record that
   is not valid becomes a dead letter (`contract_violation`, with the original bytes and
   its topic/partition/offset) and the rest of the batch goes on;
2. the handler runs on the valid events; what it returns is published without waiting
   between sends, then every acknowledgement is awaited once (`publish_many`);
3. when the handler (or that publish) raises, the batch is retried with capped
   exponential backoff; when it still fails, its events are processed one at a time
   (with the same retries), so only the poison record becomes a dead letter
   (`processing_failed`);
4. the offsets of the batch are committed once the handler returned (`CONSUMER_ACK_POLICY`).
   When even a dead letter cannot be written, or the handler raises `Redeliver` (an
   outage it waited out until the service stopped), the kernel raises: nothing is
   committed and the batch is read again (at-least-once; every effect is idempotent).
A dead letter's `event_id` derives from the stage and the record's position, so reading
the same record again (redelivery, replay) gives the same dead letter, kept once; its
`origin_id` derives from the position alone, so the dead letters several services write
for one bad message are tied together. A dead letter always fits on the broker (the
original is cut to a bound and archived whole: `territory.shared.deadletter`).
A batch that stays in hand longer than `kafka.consumer_stall_seconds` (retrying, or read
again and again) makes `/readyz` answer 503 with the reason (`kernel.progress`), and the
retry / give-up log lines are rate-limited per handler (`RateLimitedLog`).
Per-key order holds: a key lives on one partition, a batch keeps the partition's order,
and the next poll of that subscriber starts only after this batch was committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, Union

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage as KafkaMessageParam
from faststream.kafka.message import KafkaMessage
from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from territory.shared import collector
from territory.shared.archive import archive_from_settings
from territory.shared.broker import (
    CONSUMER_ACK_POLICY,
    EventPublisher,
    ensure_topics,
    make_broker,
)
from territory.shared.deadletter import DeadLetters
from territory.shared.errors import field_errors
from territory.shared.events import (
    EVENT_TYPES,
    ClientRejected,
    Event,
    FieldError,
    MessagePosition,
    RejectReason,
)
from territory.shared.kernel.naming import producer_name
from territory.shared.kernel.progress import ConsumerProgress
from territory.shared.log import RateLimitedLog, correlation
from territory.shared.ops import ReadinessCheck, ops_routes
from territory.shared.settings import ServiceSettings
from territory.shared.topics import Topic

log = logging.getLogger(__name__)
limited = RateLimitedLog(log, interval=10.0)

EventT = TypeVar("EventT", bound=Event[Any])

RECORDS = Counter(
    "territory_consumer_records_total",
    "Records consumed, by outcome (processed, contract_violation, processing_failed)",
    ["service", "topic", "outcome"],
)
BATCH_SIZE = Histogram(
    "territory_consumer_batch_records",
    "Records per consumed batch",
    ["service"],
    buckets=(1, 2, 5, 10, 50, 100, 250, 500, 1000, 5000),
)
BATCH_SECONDS = Histogram(
    "territory_consumer_batch_seconds", "Time to process and publish one batch", ["service"]
)

_STASH = "_territory_batch"
_DEAD_LETTER_NS = uuid.UUID("5d1c6a4e-7f4b-4c1e-9a55-3e0f3c1b2a10")


class Redeliver(Exception):
    """Raised by a handler: commit nothing, no dead letter; the batch is read again."""


def dead_letter_id(stage: str, position: MessagePosition) -> uuid.UUID:
    return uuid.uuid5(
        _DEAD_LETTER_NS, f"{stage}:{position.topic}:{position.partition}:{position.offset}"
    )


@dataclass(frozen=True, slots=True)
class Batch(Generic[EventT]):
    """The valid events of one poll, in partition order, with where each one was read."""

    events: list[EventT]
    positions: list[MessagePosition]
    raw: list[bytes] = field(default_factory=list)
    rejected: int = 0  # records of the same poll that were not valid (already dead letters)

    def __iter__(self) -> Iterator[EventT]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def items(self) -> Iterator[tuple[EventT, MessagePosition]]:
        return zip(self.events, self.positions, strict=True)

    def singles(self) -> Iterator[Batch[EventT]]:
        for i in range(len(self.events)):
            yield Batch(
                [self.events[i]], [self.positions[i]], self.raw[i : i + 1] if self.raw else []
            )


Outputs = Sequence[Event[Any]] | None
Handler = Callable[[Batch[Any]], Awaitable[Outputs]]


@dataclass(slots=True)
class _Poison:
    value: bytes
    key: bytes | None
    position: MessagePosition
    errors: list[FieldError]


@dataclass(slots=True)
class _Decoded:
    batch: Batch[Any]
    poison: list[_Poison]


def _decoder(models: dict[str, type[Event[Any]]]) -> Callable[[KafkaMessage], Awaitable[Any]]:
    async def decode(message: KafkaMessage) -> list[Event[Any]]:
        raw = message.raw_message
        records = raw if isinstance(raw, tuple | list) else (raw,)
        events: list[Event[Any]] = []
        positions: list[MessagePosition] = []
        values: list[bytes] = []
        poison: list[_Poison] = []
        for record in records:
            value = record.value or b""
            position = MessagePosition(
                topic=record.topic, partition=record.partition, offset=record.offset
            )
            try:
                event = models[record.topic].model_validate_json(value)
            except ValidationError as exc:
                poison.append(_Poison(value, record.key, position, field_errors(exc)))
                continue
            events.append(event)
            positions.append(position)
            values.append(value)
        batch = Batch(events, positions, values, rejected=len(poison))
        setattr(message, _STASH, _Decoded(batch, poison))
        return events

    return decode


class ServiceKernel:
    """Broker, publisher, dead letters and consumers of one service process (an HTTP
    service that only publishes uses it without consumers)."""

    def __init__(self, settings: ServiceSettings, service: str) -> None:
        self.settings = settings
        self.service = service
        self.topics = settings.kafka.topics
        self.broker: KafkaBroker = make_broker(settings.kafka, client_id=service)
        self.publisher = EventPublisher(self.broker, self.topics)
        self.producer = producer_name(service)
        self.dead_letters = DeadLetters(
            self.publisher,
            stage=service,
            producer=self.producer,
            retry=settings.retry,
            archive=archive_from_settings(settings.archive),
            limits=settings.dead_letters,
        )
        self.progress = ConsumerProgress(settings.kafka.consumer_stall_seconds)
        # Handler name → faststream's call wrapper (`.mock` in TestKafkaBroker tests).
        self.subscribers: dict[str, Any] = {}
        self._consumers: list[Any] = []

    # -- consumers ------------------------------------------------------------------------

    def consumer(
        self,
        *topics: Topic,
        group_id: str,
        publishes: Sequence[Topic] = (),
        lock: asyncio.Lock | None = None,
        after_publish: Callable[[Sequence[Event[Any]]], None] | None = None,
        max_records: int | None = None,
        max_wait_ms: int | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register `handler` as the batched consumer of `topics` (see the module notes).

        `lock` is held around handler, publish and `after_publish` (the state a service
        shares between its consumers); `after_publish` runs once the outputs are durable.
        """
        kafka = self.settings.kafka
        names = [self.topics.name(t) for t in topics]
        models = {self.topics.name(t): EVENT_TYPES[t] for t in topics}

        def decorate(handler: Handler) -> Handler:
            run = _Delivery(self, handler, lock=lock, after_publish=after_publish)
            payload: Any = (
                models[names[0]] if len(names) == 1 else Union[tuple(models.values())]  # noqa: UP007
            )

            async def consume(events: Any, message: Any) -> None:
                await run(message)

            consume.__name__ = consume.__qualname__ = handler.__name__
            consume.__doc__ = handler.__doc__
            # The payload annotation is what the AsyncAPI document shows for the channel.
            consume.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
                [
                    inspect.Parameter(
                        "events", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=list[payload]
                    ),
                    inspect.Parameter(
                        "message",
                        inspect.Parameter.POSITIONAL_OR_KEYWORD,
                        annotation=KafkaMessageParam,
                    ),
                ],
                return_annotation=None,
            )
            consume.__annotations__ = {
                "events": list[payload],
                "message": KafkaMessageParam,
                "return": None,
            }
            subscriber = self.broker.subscriber(
                *names,
                group_id=group_id,
                batch=True,
                max_records=max_records or kafka.consumer_max_records,
                batch_timeout_ms=max_wait_ms or kafka.consumer_batch_timeout_ms,
                ack_policy=CONSUMER_ACK_POLICY,
                auto_offset_reset="earliest",
                decoder=_decoder(models),
                # A long outage (the loader's warehouse) keeps a handler from returning;
                # the group must not evict the consumer for it.
                max_poll_interval_ms=3_600_000,
            )
            wrapped = subscriber(consume)
            # Every consumer may dead-letter: client.rejected is always among its outputs.
            outputs = dict.fromkeys([*publishes, Topic.CLIENT_REJECTED])
            self.publishes(*outputs, by=handler.__name__)
            self.subscribers[handler.__name__] = wrapped
            self._consumers.append(subscriber)
            return handler

        return decorate

    def publishes(self, *topics: Topic, by: str | None = None) -> None:
        """Declare what the service publishes (the AsyncAPI document shows it)."""
        who = f"{self.service} ({by})" if by else self.service
        for topic in topics:
            name = self.topics.name(topic)
            self.broker.publisher(
                name,
                title=f"{name}:{self.service}.{by}" if by else f"{name}:{self.service}",
                schema=EVENT_TYPES[topic],
                description=f"Published by {who}.",
            )

    # -- lifecycle ------------------------------------------------------------------------

    async def consuming(self) -> bool:
        """Every registered consumer is running (a readiness check)."""
        return bool(self._consumers) and all(c.running for c in self._consumers)

    async def ensure_topics(self) -> None:
        await ensure_topics(self.settings.kafka)

    async def settle(self) -> None:
        """The last start-up step: what start-up built (the state rebuilt from the
        topics included) is frozen out of the cyclic collector (`territory.shared.collector`)."""
        collector.settle(self.settings.gc)

    def app(
        self,
        *,
        readiness: Sequence[tuple[str, ReadinessCheck]] = (),
        on_startup: Sequence[Callable[[], Awaitable[None]]] = (),
        after_startup: Sequence[Callable[[], Awaitable[None]]] = (),
        on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> AsgiFastStream:
        """The process: topics ensured, `on_startup` (state rebuilt), start-up state frozen
        out of the collector, the consumers started, `after_startup`; `/healthz`, `/readyz`
        (broker + `readiness`) and `/metrics`."""
        return AsgiFastStream(
            self.broker,
            asgi_routes=ops_routes(
                self.broker,
                [*readiness, ("progressing", self.progress.ready)],
                reasons=self.progress.stalled,
            ),
            on_startup=[self.ensure_topics, *on_startup, self.settle],
            after_startup=list(after_startup),
            on_shutdown=list(on_shutdown),
        )


class _Delivery:
    """One subscriber's batch: validation, retries, fallback, dead letters, publishing."""

    def __init__(
        self,
        kernel: ServiceKernel,
        handler: Handler,
        *,
        lock: asyncio.Lock | None,
        after_publish: Callable[[Sequence[Event[Any]]], None] | None,
    ) -> None:
        self.kernel = kernel
        self.handler = handler
        self.lock = lock
        self.after_publish = after_publish
        self.retry = kernel.settings.retry
        self.name = handler.__name__

    async def __call__(self, message: KafkaMessage) -> None:
        decoded: _Decoded = getattr(message, _STASH)
        positions = sorted(
            [*decoded.batch.positions, *(p.position for p in decoded.poison)],
            key=lambda p: (p.topic, p.partition, p.offset),
        )
        progress = self.kernel.progress
        progress.begin(self.name, positions)
        try:
            await self._deliver(decoded)
        except BaseException as exc:
            progress.failed(self.name, exc)
            raise
        progress.done(self.name, positions)

    async def _deliver(self, decoded: _Decoded) -> None:
        batch, service = decoded.batch, self.kernel.service
        BATCH_SIZE.labels(service).observe(len(batch) + len(decoded.poison))
        rejections = [self._contract_violation(p) for p in decoded.poison]
        failed: list[ClientRejected] = []
        with BATCH_SECONDS.labels(service).time():
            if batch.events:
                failed = await self._process(batch)
                rejections.extend(failed)
            if rejections:
                # Before the offsets are committed: a dead letter is never lost (and
                # the whole originals of the truncated ones are archived first).
                await self.kernel.dead_letters.publish_many(rejections)
                limited.warning(
                    "rejected records",
                    key=f"rejected:{self.name}",
                    stage=service,
                    handler=self.name,
                    count=len(rejections),
                )
        # Per topic: the batch's records minus those that became dead letters.
        done: dict[str, int] = {}
        for position in batch.positions:
            done[position.topic] = done.get(position.topic, 0) + 1
        for rejection in failed:
            if rejection.payload.position is not None:
                done[rejection.payload.position.topic] -= 1
        for topic, count in done.items():
            RECORDS.labels(service, topic, "processed").inc(count)

    async def _process(self, batch: Batch[Any]) -> list[ClientRejected]:
        try:
            await self._attempts(batch)
            return []
        except Redeliver:
            raise
        except Exception as exc:
            if len(batch) == 1:
                return [self._processing_failed(batch, exc)]
            limited.warning(
                "batch failed; processing its records one at a time",
                key=f"split:{self.name}",
                handler=self.name,
                records=len(batch),
                error=repr(exc)[:300],
            )
        rejections = []
        for one in batch.singles():
            try:
                await self._attempts(one)
            except Redeliver:
                raise
            except Exception as exc:
                rejections.append(self._processing_failed(one, exc))
        return rejections

    async def _attempts(self, batch: Batch[Any]) -> None:
        """The handler and its publish, with bounded retries; raises the last error."""
        delay = self.retry.backoff_seconds
        single = batch.events[0].correlation_id if len(batch) == 1 else None
        with correlation(single):
            for attempt in range(1, self.retry.attempts + 1):
                try:
                    await self._once(batch)
                    return
                except Redeliver:
                    raise
                except Exception as exc:
                    if attempt == self.retry.attempts:
                        limited.error(
                            "giving up",
                            key=f"give-up:{self.name}",
                            exc_info=True,
                            handler=self.name,
                            attempts=attempt,
                        )
                        raise
                    limited.warning(
                        "processing failed; retrying",
                        key=f"retry:{self.name}",
                        handler=self.name,
                        attempt=attempt,
                        error=repr(exc)[:300],
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry.max_backoff_seconds)

    async def _once(self, batch: Batch[Any]) -> None:
        async with self.lock or contextlib.nullcontext():
            outputs = list(await self.handler(batch) or ())
            # Through the dead letters: a handler's own dead letters archive their
            # truncated originals before they are published.
            await self.kernel.dead_letters.publish_many(outputs)
            if self.after_publish is not None:
                self.after_publish(outputs)

    def _contract_violation(self, poison: _Poison) -> ClientRejected:
        RECORDS.labels(self.kernel.service, poison.position.topic, "contract_violation").inc()
        return self._stable(
            self.kernel.dead_letters.rejection(
                reason=RejectReason.CONTRACT_VIOLATION,
                errors=poison.errors,
                original=poison.value,
                original_format="kafka",
                position=poison.position,
                source_key=poison.key.decode("utf-8", "replace") if poison.key else None,
            )
        )

    def _processing_failed(self, one: Batch[Any], exc: Exception) -> ClientRejected:
        event, position = one.events[0], one.positions[0]
        RECORDS.labels(self.kernel.service, position.topic, "processing_failed").inc()
        return self._stable(
            self.kernel.dead_letters.rejection(
                reason=RejectReason.PROCESSING_FAILED,
                errors=[FieldError(code=type(exc).__name__, message=str(exc)[:1000])],
                original=one.raw[0] if one.raw else event.model_dump_json(),
                original_format="kafka",
                position=position,
                source_key=event.key().decode("utf-8", "replace"),
                attempts=self.retry.attempts,
                correlation_id=event.correlation_id,
            )
        )

    def _stable(self, event: ClientRejected) -> ClientRejected:
        assert event.payload.position is not None
        stable = dead_letter_id(self.kernel.service, event.payload.position)
        return event.model_copy(update={"event_id": stable})
