"""The loader: Kafka → micro-batches → warehouse, committing offsets only after a batch
is durable.

Why a raw aiokafka consumer rather than a faststream subscriber: one batch spans every
loaded topic and partition, and its offsets must be committed together, after the
warehouse transaction, and never while the warehouse is down. faststream's batch
subscribers are per topic and ack per batch of that topic; aiokafka's `getmany` + manual
`commit(offsets)` says exactly what we need. faststream still provides the broker used to
publish dead letters and the ASGI ops routes.

Failures:
- warehouse (or S3) unreachable: the batch is retried forever with capped exponential
  backoff and nothing is committed; when it comes back the same batch is written (the
  writes are idempotent, so a transaction that did commit before the error is harmless);
- a record that is not a valid event, or one the warehouse refuses (a data error, not an
  outage): it becomes a dead letter on client.rejected and the batch goes on without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from territory.loader.decode import LOADED_TOPICS, Decoded, Poison, decode
from territory.loader.rows import Loaded, raw_client_row
from territory.loader.settings import LoaderSettings
from territory.loader.staging import RawStager
from territory.loader.writer import WarehouseWriter
from territory.shared.deadletter import DeadLetters
from territory.shared.events import ClientReceived, FieldError, RejectReason

log = logging.getLogger(__name__)
_DEAD_LETTER_NS = uuid.UUID("5d1c6a4e-7f4b-4c1e-9a55-3e0f3c1b2a10")

EVENTS = Counter("territory_loader_events_total", "Events written to the warehouse", ["type"])
DEAD = Counter("territory_loader_dead_letters_total", "Records sent to client.rejected", ["why"])
BATCHES = Counter("territory_loader_batches_total", "Micro-batches made durable")
RETRIES = Counter("territory_loader_outage_retries_total", "Batch attempts failed by an outage")
BATCH_SECONDS = Histogram("territory_loader_batch_seconds", "Time to make one batch durable")
LAST_BATCH = Gauge("territory_loader_last_batch_timestamp", "Unix time of the last durable batch")
WAREHOUSE_UP = Gauge("territory_loader_warehouse_up", "1 when the last write succeeded")


def is_outage(exc: BaseException) -> bool:
    """Infrastructure failures (retry the batch) as opposed to data errors (dead letter)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    name = type(exc).__name__
    # botocore / aiohttp connection and S3 errors, and plain network errors.
    return isinstance(exc, OSError | TimeoutError) or name in {
        "EndpointConnectionError",
        "ClientError",
        "NoCredentialsError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
    }


@dataclass
class LoaderState:
    batches: int = 0
    events: int = 0
    dead_letters: int = 0
    outage_retries: int = 0
    warehouse_up: bool = True
    last_batch_at: datetime | None = None
    last_error: str | None = None
    by_type: dict[str, int] = field(default_factory=dict)


class Loader:
    def __init__(
        self,
        settings: LoaderSettings,
        engine: Engine,
        dead_letters: DeadLetters,
        *,
        stager: RawStager | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.options = settings.loader
        self.topics = settings.kafka.topics
        self.writer = WarehouseWriter(engine)
        self.engine = engine
        self.dead_letters = dead_letters
        self.stager = stager
        self.sleep = sleep
        self.state = LoaderState()
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None

    # -- the loop ------------------------------------------------------------------------

    def consumer(self) -> AIOKafkaConsumer:
        kafka = self.settings.kafka
        return AIOKafkaConsumer(
            *[self.topics.name(t) for t in LOADED_TOPICS],
            bootstrap_servers=kafka.bootstrap_servers,
            client_id=f"{kafka.client_id}-loader",
            group_id=self.options.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.options.batch_size,
            # A long outage keeps the loop from polling; the group must not evict us for it.
            max_poll_interval_ms=3_600_000,
            isolation_level="read_committed",
        )

    async def run(self) -> None:
        """Consume until `stop()`; each batch is durable before its offsets are committed."""
        consumer = self.consumer()
        self._consumer = consumer
        await consumer.start()
        try:
            while not self._stopping.is_set():
                records = await self._collect(consumer)
                if not records:
                    continue
                if not await self.load(records):
                    break  # stopping during an outage: nothing committed, re-read later
                offsets: dict[TopicPartition, int] = {}
                for rec in records:
                    tp = TopicPartition(rec.topic, rec.partition)
                    offsets[tp] = max(offsets.get(tp, 0), rec.offset + 1)
                try:
                    await consumer.commit(offsets)
                except (CommitFailedError, KafkaError) as exc:
                    # A rebalance took the partitions: their next owner re-reads the batch,
                    # which the idempotent writes absorb.
                    log.warning(
                        "offset commit failed; batch will be re-read", extra={"error": repr(exc)}
                    )
        finally:
            self._consumer = None
            await consumer.stop()

    def stop(self) -> None:
        self._stopping.set()

    async def _collect(self, consumer: AIOKafkaConsumer) -> list[ConsumerRecord[bytes, bytes]]:
        """Up to batch_size records, waiting at most batch_max_wait_ms after the first one."""
        size, wait = self.options.batch_size, self.options.batch_max_wait_ms / 1000
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline: float | None = None
        while len(records) < size and not self._stopping.is_set():
            timeout = 0.2 if deadline is None else max(0.0, deadline - time.monotonic())
            got = await consumer.getmany(
                timeout_ms=int(timeout * 1000), max_records=size - len(records)
            )
            for part in got.values():
                records.extend(part)
            if records and deadline is None:
                deadline = time.monotonic() + wait
            if deadline is None:
                return records  # idle: let the caller check for stop
            if time.monotonic() >= deadline:
                break
        return records

    # -- one batch -----------------------------------------------------------------------

    async def load(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> bool:
        """Make one batch durable (dead letters included). False: stopped during an outage."""
        decoded = await asyncio.to_thread(decode, list(records), self.topics)
        batch_id = str(uuid.uuid4())
        started = datetime.now(UTC)
        delay = self.options.retry_initial_seconds
        attempt = 0
        failed: list[tuple[Loaded, str]] = []
        while True:
            attempt += 1
            t0 = time.perf_counter()
            try:
                failed = await self._write(decoded, batch_id, started, attempt)
                break
            except Exception as exc:
                if not is_outage(exc):
                    raise
                self._outage(exc)
                RETRIES.inc()
                log.warning(
                    "warehouse unavailable; batch not committed, retrying",
                    extra={"attempt": attempt, "retry_in_s": delay, "error": repr(exc)[:500]},
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                if self._stopping.is_set():
                    return False
                delay = min(delay * 2, self.options.retry_max_seconds)
        BATCH_SECONDS.observe(time.perf_counter() - t0)
        # Dead letters are published before the offsets are committed: never lost.
        for poison in decoded.poison:
            await self._reject_poison(poison)
        for item, error in failed:
            await self._reject_failed(item, error)
        self._done(decoded, failed)
        return True

    async def _write(
        self, decoded: Decoded, batch_id: str, started: datetime, attempt: int
    ) -> list[tuple[Loaded, str]]:
        load_raw: Callable[[Connection], object] | None = None
        if self.stager is not None:
            now = datetime.now(UTC)
            raw_rows = [
                raw_client_row(item, raw=raw, batch_id=batch_id, now=now)
                for item, raw in zip(decoded.items, decoded.raw_json, strict=True)
                if isinstance(item.event, ClientReceived)
            ]
            if raw_rows:
                url = await self.stager.stage(raw_rows, batch_id)
                stager = self.stager

                def load_raw(conn: Connection) -> object:
                    return stager.copy_into_raw(conn, url, batch_id)

        dead = len(decoded.poison)
        try:
            await asyncio.to_thread(
                self.writer.write,
                decoded.items,
                raw_json=decoded.raw_json,
                batch_id=batch_id,
                started_at=started,
                attempts=attempt,
                dead_letters=dead,
                load_raw=load_raw,
            )
            return []
        except Exception as exc:
            if is_outage(exc):
                raise
            log.warning(
                "batch refused by the warehouse; isolating records",
                extra={"error": repr(exc)[:500]},
            )
        # A data error somewhere in the batch: write the events one by one, so only the
        # ones the warehouse refuses become dead letters.
        return await asyncio.to_thread(self._write_one_by_one, decoded, batch_id, started, attempt)

    def _write_one_by_one(
        self, decoded: Decoded, batch_id: str, started: datetime, attempt: int
    ) -> list[tuple[Loaded, str]]:
        failed: list[tuple[Loaded, str]] = []
        for i, (item, raw) in enumerate(zip(decoded.items, decoded.raw_json, strict=True)):
            try:
                self.writer.write(
                    [item],
                    raw_json=[raw],
                    batch_id=f"{batch_id}/{i}",
                    started_at=started,
                    attempts=attempt,
                )
            except Exception as exc:
                if is_outage(exc):
                    raise
                failed.append((item, f"{type(exc).__name__}: {exc}"[:1000]))
        return failed

    async def _reject(self, **kwargs: Any) -> None:
        """Publish a dead letter whose event_id derives from the original's position, so
        re-reading the same record (redelivery, replay) gives the same dead letter, which
        the warehouse then keeps once."""
        event = self.dead_letters.rejection(**kwargs)
        position = kwargs["position"]
        stable = uuid.uuid5(
            _DEAD_LETTER_NS, f"{position.topic}:{position.partition}:{position.offset}"
        )
        await self.dead_letters.publisher.publish(event.model_copy(update={"event_id": stable}))
        log.warning("rejected record", extra={"reason": event.payload.reason.value})

    async def _reject_poison(self, poison: Poison) -> None:
        DEAD.labels("contract").inc()
        await self._reject(
            reason=RejectReason.CONTRACT_VIOLATION,
            errors=poison.errors,
            original=poison.value,
            original_format="kafka",
            position=poison.position,
            source_key=poison.key.decode("utf-8", "replace") if poison.key else None,
        )

    async def _reject_failed(self, item: Loaded, error: str) -> None:
        DEAD.labels("warehouse").inc()
        await self._reject(
            reason=RejectReason.PROCESSING_FAILED,
            errors=[FieldError(code="warehouse_refused", message=error)],
            original=item.event.model_dump_json(),
            original_format="kafka",
            position=item.position,
            correlation_id=item.event.correlation_id,
        )

    def _outage(self, exc: BaseException) -> None:
        self.state.outage_retries += 1
        self.state.warehouse_up = False
        self.state.last_error = repr(exc)[:500]
        WAREHOUSE_UP.set(0)

    def _done(self, decoded: Decoded, failed: list[tuple[Loaded, str]]) -> None:
        st = self.state
        st.batches += 1
        st.events += len(decoded.items) - len(failed)
        st.dead_letters += len(decoded.poison) + len(failed)
        st.warehouse_up = True
        st.last_batch_at = datetime.now(UTC)
        BATCHES.inc()
        LAST_BATCH.set(time.time())
        WAREHOUSE_UP.set(1)
        for item in decoded.items:
            st.by_type[item.event.event_type] = st.by_type.get(item.event.event_type, 0) + 1
            EVENTS.labels(item.event.event_type).inc()

    # -- readiness -----------------------------------------------------------------------

    async def warehouse_ready(self) -> bool:
        def ping() -> bool:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True

        try:
            return await asyncio.wait_for(asyncio.to_thread(ping), timeout=5)
        except Exception:
            return False
