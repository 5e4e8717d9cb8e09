"""The loader: Kafka → micro-batches → warehouse, committing offsets only after a batch
is durable.

The loader is one kernel consumer (`territory.shared.kernel`) over every loaded topic: a
batch spans those topics and their partitions, the kernel commits its offsets together
once `on_batch` returned, after the warehouse transaction, and never while the warehouse
is down (`on_batch` waits the outage out; stopping meanwhile raises `Redeliver`).

Failures:
- warehouse (or S3) unreachable: the batch is retried forever with capped exponential
  backoff and nothing is committed; when it comes back the same batch is written (the
  writes are idempotent, so a transaction that did commit before the error is harmless);
- a record that is not a valid event (the kernel), or one the warehouse refuses (a data
  error, not an outage): it becomes a dead letter on client.rejected and the batch goes on
  without it;
- a `client.received` whose event_id RAW already holds for a different record (a reused
  id): a dead letter (`duplicate_event_id`), written to no layer — RAW, STAGE and CORE
  stay consistent (the same event again is a redelivery and is written idempotently).

Outage log lines are rate-limited (`RateLimitedLog`): one line per interval with the
count of the attempts it stands for.
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

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Connection, Engine, text

from territory.loader.decode import LOADED_TOPICS, Decoded, decoded_of
from territory.loader.outage import is_outage
from territory.loader.rows import Loaded, raw_client_row
from territory.loader.settings import LoaderSettings
from territory.loader.staging import RawStager
from territory.loader.writer import WarehouseWriter
from territory.shared.deadletter import DeadLetters
from territory.shared.events import (
    ClientReceived,
    ClientRejected,
    Event,
    FieldError,
    RejectReason,
)
from territory.shared.kernel import Batch, Redeliver, ServiceKernel, dead_letter_id
from territory.shared.log import RateLimitedLog

log = logging.getLogger(__name__)
limited = RateLimitedLog(log, interval=10.0)

Failed = tuple[Loaded, str, RejectReason]

EVENTS = Counter("territory_loader_events_total", "Events written to the warehouse", ["type"])
DEAD = Counter("territory_loader_dead_letters_total", "Records sent to client.rejected", ["why"])
BATCHES = Counter("territory_loader_batches_total", "Micro-batches made durable")
RETRIES = Counter("territory_loader_outage_retries_total", "Batch attempts failed by an outage")
BATCH_SECONDS = Histogram("territory_loader_batch_seconds", "Time to make one batch durable")
LAST_BATCH = Gauge("territory_loader_last_batch_timestamp", "Unix time of the last durable batch")
WAREHOUSE_UP = Gauge("territory_loader_warehouse_up", "1 when the last write succeeded")


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

    # -- the consumer ----------------------------------------------------------------

    def register(self, kernel: ServiceKernel) -> None:
        options = self.options
        kernel.consumer(
            *LOADED_TOPICS,
            group_id=options.group_id,
            max_records=options.batch_size,
            max_wait_ms=options.batch_max_wait_ms,
        )(self.on_batch)

    async def on_batch(self, batch: Batch[Event[Any]]) -> Sequence[Event[Any]]:
        """Make one batch durable; the dead letters of refused records are returned."""
        failed = await self.load(decoded_of(batch), rejected=batch.rejected)
        if failed is None:
            raise Redeliver("stopping during a warehouse outage: the batch is read again")
        return failed

    def stop(self) -> None:
        self._stopping.set()

    # -- one batch -----------------------------------------------------------------------

    async def load(self, decoded: Decoded, *, rejected: int = 0) -> list[ClientRejected] | None:
        """Make one batch durable; returns the dead letters of the records the warehouse
        refused. None: stopped during an outage (nothing written, nothing to commit).
        `rejected`: records of the batch already dead-lettered (counted on its row)."""
        batch_id = str(uuid.uuid4())
        started = datetime.now(UTC)
        delay = self.options.retry_initial_seconds
        attempt = 0
        failed: list[Failed] = []
        while True:
            attempt += 1
            t0 = time.perf_counter()
            try:
                failed = await self._write(decoded, batch_id, started, attempt, rejected)
                break
            except Exception as exc:
                if not is_outage(exc):
                    raise
                self._outage(exc)
                RETRIES.inc()
                limited.warning(
                    "warehouse unavailable; batch not committed, retrying",
                    key="outage",
                    attempt=attempt,
                    retry_in_s=delay,
                    error=repr(exc)[:500],
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                if self._stopping.is_set():
                    return None
                delay = min(delay * 2, self.options.retry_max_seconds)
        BATCH_SECONDS.observe(time.perf_counter() - t0)
        self._done(decoded, failed, rejected)
        # Published by the kernel before the offsets are committed: never lost.
        return [self._refused(item, error, why) for item, error, why in failed]

    async def _write(
        self, decoded: Decoded, batch_id: str, started: datetime, attempt: int, rejected: int
    ) -> list[Failed]:
        refused: list[Failed] = []
        reused = set(await asyncio.to_thread(self.writer.reused_event_ids, decoded.items))
        if reused:
            for i in sorted(reused):
                item = decoded.items[i]
                refused.append(
                    (
                        item,
                        f"event_id {item.event.event_id} is already stored for another record",
                        RejectReason.DUPLICATE_EVENT_ID,
                    )
                )
            decoded = Decoded(
                items=[it for i, it in enumerate(decoded.items) if i not in reused],
                raw_json=[raw for i, raw in enumerate(decoded.raw_json) if i not in reused],
            )
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

        try:
            await asyncio.to_thread(
                self.writer.write,
                decoded.items,
                raw_json=decoded.raw_json,
                batch_id=batch_id,
                started_at=started,
                attempts=attempt,
                dead_letters=rejected,
                load_raw=load_raw,
            )
            return refused
        except Exception as exc:
            if is_outage(exc):
                raise
            log.warning(
                "batch refused by the warehouse; isolating records",
                extra={"error": repr(exc)[:500]},
            )
        # A data error somewhere in the batch: write the events one by one, so only the
        # ones the warehouse refuses become dead letters.
        return refused + await asyncio.to_thread(
            self._write_one_by_one, decoded, batch_id, started, attempt
        )

    def _write_one_by_one(
        self, decoded: Decoded, batch_id: str, started: datetime, attempt: int
    ) -> list[Failed]:
        failed: list[Failed] = []
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
                failed.append(
                    (item, f"{type(exc).__name__}: {exc}"[:1000], RejectReason.PROCESSING_FAILED)
                )
        return failed

    def _refused(
        self, item: Loaded, error: str, reason: RejectReason = RejectReason.PROCESSING_FAILED
    ) -> ClientRejected:
        duplicate = reason == RejectReason.DUPLICATE_EVENT_ID
        DEAD.labels("duplicate_event_id" if duplicate else "warehouse").inc()
        event = self.dead_letters.rejection(
            reason=reason,
            errors=[
                FieldError(
                    field="event_id" if duplicate else None,
                    code="duplicate_event_id" if duplicate else "warehouse_refused",
                    message=error,
                )
            ],
            original=item.event.model_dump_json(),
            original_format="kafka",
            position=item.position,
            source_key=item.event.key().decode("utf-8", "replace") if duplicate else None,
            correlation_id=item.event.correlation_id,
        )
        # Re-reading the same record (redelivery, replay) gives the same dead letter.
        stable = dead_letter_id(self.dead_letters.stage, item.position)
        return event.model_copy(update={"event_id": stable})

    def _outage(self, exc: BaseException) -> None:
        self.state.outage_retries += 1
        self.state.warehouse_up = False
        self.state.last_error = repr(exc)[:500]
        WAREHOUSE_UP.set(0)

    def _done(self, decoded: Decoded, failed: list[Failed], rejected: int) -> None:
        st = self.state
        st.batches += 1
        st.events += len(decoded.items) - len(failed)
        st.dead_letters += rejected + len(failed)
        DEAD.labels("contract").inc(rejected)
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
