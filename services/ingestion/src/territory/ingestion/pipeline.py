"""Validate parsed rows and publish them: usable records to `client.received` (with their
quarantined fields, if any), unusable ones to `client.rejected`. Accepted + rejected always
equals the records read; the report counts problems by reason (or code) *and* field, with
the first offending rows."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from prometheus_client import Counter as Metric
from pydantic import BaseModel, Field, ValidationError

from territory.ingestion.parsing import RawRow
from territory.shared.broker import EventPublisher
from territory.shared.deadletter import DeadLetters
from territory.shared.errors import field_errors, reason_for
from territory.shared.events import (
    SCHEMA_VERSION,
    ClientReceived,
    ClientRecord,
    Event,
    FieldError,
    FieldIssue,
)

log = logging.getLogger(__name__)

KNOWN_COLUMNS = frozenset(ClientRecord.model_fields)
# Offending rows shown per (outcome, reason, field): enough to find the pattern in a file.
MAX_EXAMPLES = 3
_EXAMPLE_CHARS = 120

LATE = Metric(
    "territory_ingestion_late_batches_total",
    "Batches whose caller was told the broker was unavailable, by what became of them",
    ["outcome"],
)


class RecordResult(BaseModel):
    index: int = Field(..., description="Position in the request (0-based) or file row (1-based).")
    status: str = Field(..., description="accepted or rejected")
    source_key: str | None = None
    event_id: str | None = None
    reason: str | None = None
    errors: list[FieldError] = Field(default_factory=list)
    field_issues: list[FieldIssue] = Field(
        default_factory=list,
        description="Accepted, but these optional values were quarantined (left empty).",
    )


class ProblemExample(BaseModel):
    row: int = Field(..., description="File row (1-based) or request position (0-based).")
    value: str | None = Field(None, description="The offending value (cut to 120 characters).")


class ProblemCount(BaseModel):
    """How many records had one kind of problem with one field, and the first few rows."""

    outcome: str = Field(..., description="`rejected` (record refused) or `quarantined`.")
    reason: str = Field(..., description="Reject reason, or the field issue's code.")
    field: str | None = Field(None, description="The field (None: the whole record).")
    count: int = 0
    examples: list[ProblemExample] = Field(default_factory=list)


class IngestionReport(BaseModel):
    upload_id: str
    accepted: int = Field(0, description="Records published (quarantined ones included).")
    rejected: int = Field(0, description="Unusable records, dead-lettered with a reason.")
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)
    quarantined: int = Field(0, description="Accepted records with at least one field issue.")
    quarantined_by_field: dict[str, int] = Field(
        default_factory=dict, description="Field issues per field, over accepted records."
    )
    problems: list[ProblemCount] = Field(
        default_factory=list,
        description="Counts by outcome, reason/code and field, with the first offending rows.",
    )
    blank_lines: int = 0
    ignored_columns: list[str] = Field(default_factory=list)
    archive_uri: str | None = None
    bytes: int | None = None
    sha256: str | None = None
    duration_seconds: float = 0.0
    records_per_second: float = 0.0
    results: list[RecordResult] | None = Field(
        None, description="Per-record outcome (JSON requests only; files report counts)."
    )

    @property
    def total(self) -> int:
        return self.accepted + self.rejected


class BrokerUnavailable(Exception):
    """The broker did not acknowledge a batch within the publish timeout (or refused it).

    What the caller can rely on: the first `acknowledged` records (in input order) are
    durably on Kafka; the others were not acknowledged. Those of the batch that was in
    flight when the timeout struck stay with the producer, which keeps retrying: when the
    broker comes back they may still be written, and this is logged and counted
    (`territory_ingestion_late_batches_total{outcome="published"}`), never silent. Once a
    timeout has happened, new records are only handed to the producer after the broker
    answers again, so a refused request publishes nothing later. Retrying the same
    records is safe: a record is its (source_key, updated_at), staging keeps one row per
    source key and dedupe emits no new golden version for unchanged content.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        detail: str,
        *,
        acknowledged: int,
        total: int,
        in_flight: int,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.detail = detail
        self.acknowledged = acknowledged
        self.total = total
        self.in_flight = in_flight
        super().__init__(
            f"Kafka broker at {bootstrap_servers} unavailable ({detail}): "
            f"{acknowledged:,} of {total:,} records read were published"
        )


class Ingestor:
    def __init__(
        self,
        publisher: EventPublisher,
        dead_letters: DeadLetters,
        *,
        producer: str,
        batch_size: int = 2_000,
        publish_timeout: float | None = None,
        bootstrap_servers: str = "",
    ) -> None:
        self.publisher = publisher
        self.dead_letters = dead_letters
        self.producer = producer
        self.batch_size = batch_size
        self.publish_timeout = publish_timeout
        self.bootstrap_servers = bootstrap_servers
        # Set after a timeout: the broker must answer before more records are handed over.
        self.degraded = False
        # Batches still waiting for acknowledgements after their caller was answered.
        self.late: set[asyncio.Task[None]] = set()

    async def _publish(
        self, batch: list[Event[Any]], upload_id: str, done: int, total: int
    ) -> None:
        """Publish one batch within the publish timeout, or raise `BrokerUnavailable`."""
        if not batch:
            return
        timeout = self.publish_timeout

        def unavailable(detail: str, in_flight: int) -> BrokerUnavailable:
            return BrokerUnavailable(
                self.bootstrap_servers, detail, acknowledged=done, total=total, in_flight=in_flight
            )

        if self.degraded:
            if not await self.publisher.ready(min(timeout or 2.0, 2.0)):
                raise unavailable("it does not answer", 0)
            self.degraded = False
        task = asyncio.ensure_future(self.publisher.publish_many(batch))
        try:
            finished, _ = await asyncio.wait({task}, timeout=timeout)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task in finished:
            try:
                task.result()
            except Exception as exc:
                self.degraded = True
                raise unavailable(f"{type(exc).__name__}: {exc}".rstrip(": "), 0) from exc
            return
        self.degraded = True
        self.late.add(task)
        task.add_done_callback(lambda t: self._landed_late(t, upload_id, len(batch)))
        log.warning(
            "publish timed out",
            extra={"upload_id": upload_id, "records": len(batch), "timeout_s": timeout},
        )
        raise unavailable(f"no acknowledgement within {timeout:g}s", len(batch))

    def _landed_late(self, task: asyncio.Task[None], upload_id: str, records: int) -> None:
        self.late.discard(task)
        failed = task.cancelled() or task.exception() is not None
        LATE.labels("failed" if failed else "published").inc()
        log.warning(
            "records of a request answered 'broker unavailable' were "
            + ("not published" if failed else "published after its timeout"),
            extra={"upload_id": upload_id, "records": records},
        )

    def _validate(
        self, data: Mapping[str, Any], defaults: Mapping[str, Any]
    ) -> ClientRecord | list[FieldError]:
        if defaults:
            data = {**defaults, **{k: v for k, v in data.items() if v not in ("", None)}}
        try:
            return ClientRecord.model_validate(data)
        except ValidationError as exc:
            return field_errors(exc)

    async def ingest(
        self,
        rows: Iterable[RawRow] | AsyncIterable[RawRow],
        *,
        upload_id: str,
        original_format: str,
        defaults: Mapping[str, Any] | None = None,
        progress: Callable[[int], None] | None = None,
        keep_results: bool = False,
    ) -> IngestionReport:
        """Publish every row; returns when all of them are acknowledged by the broker."""
        started = time.perf_counter()
        defaults = dict(defaults or {})
        report = IngestionReport(upload_id=upload_id)
        reasons: Counter[str] = Counter()
        tally = _ProblemTally()
        results: list[RecordResult] = []
        batch: list[Event[Any]] = []
        published = 0

        async for row in _each(rows):
            correlation_id = f"{upload_id}/{row.row_number}"
            if row.data is not None:
                outcome = self._validate(row.data, defaults)
                if isinstance(outcome, ClientRecord):
                    # Every value is already valid (the record was just validated), so the
                    # envelope is built without a second validation pass. All fields are
                    # given: for a missing one, model_construct inspects the default
                    # factory's signature, which costs more than validating.
                    event = ClientReceived.model_construct(
                        event_id=uuid4(),
                        event_type="client.received",
                        schema_version=SCHEMA_VERSION,
                        occurred_at=datetime.now(UTC),
                        producer=self.producer,
                        correlation_id=correlation_id,
                        payload=outcome,
                    )
                    batch.append(event)
                    report.accepted += 1
                    if outcome.field_issues:
                        report.quarantined += 1
                        for issue in outcome.field_issues:
                            tally.add(
                                "quarantined", issue.code, issue.field, row.row_number, issue.raw
                            )
                    if keep_results:
                        results.append(
                            RecordResult(
                                index=row.row_number,
                                status="accepted",
                                source_key=outcome.source_key,
                                event_id=str(event.event_id),
                                field_issues=outcome.field_issues,
                            )
                        )
                else:
                    row.errors = outcome
                    row.reason = reason_for(outcome)
            if row.reason is not None:
                source_key = _source_key(row.data, defaults)
                rejection = self.dead_letters.rejection(
                    reason=row.reason,
                    errors=row.errors,
                    original=row.original,
                    original_format=original_format,
                    source_key=source_key,
                    upload_id=upload_id,
                    row_number=row.row_number if original_format != "json" else None,
                    correlation_id=correlation_id,
                )
                batch.append(rejection)
                report.rejected += 1
                reasons[row.reason.value] += 1
                for error in row.errors or [FieldError(code=row.reason.value, message="")]:
                    value = _value_at(row.data, error.field)
                    tally.add("rejected", row.reason.value, error.field, row.row_number, value)
                if keep_results:
                    results.append(
                        RecordResult(
                            index=row.row_number,
                            status="rejected",
                            source_key=source_key,
                            event_id=str(rejection.event_id),
                            reason=row.reason.value,
                            errors=row.errors,
                        )
                    )
            if len(batch) >= self.batch_size:
                await self._publish(batch, upload_id, published, report.total)
                published += len(batch)
                batch = []
                if progress is not None:
                    progress(report.total)
        await self._publish(batch, upload_id, published, report.total)
        if progress is not None:
            progress(report.total)

        report.rejected_by_reason = dict(sorted(reasons.items()))
        report.problems = tally.counts()
        report.quarantined_by_field = tally.by_field("quarantined")
        report.duration_seconds = round(time.perf_counter() - started, 3)
        if report.duration_seconds > 0:
            report.records_per_second = round(report.total / report.duration_seconds, 1)
        if keep_results:
            report.results = results
        log.info(
            "ingested",
            extra={
                "upload_id": upload_id,
                "accepted": report.accepted,
                "rejected": report.rejected,
                "rejected_by_reason": report.rejected_by_reason,
                "quarantined": report.quarantined,
                "quarantined_by_field": report.quarantined_by_field,
            },
        )
        return report


class _ProblemTally:
    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, str | None], ProblemCount] = {}

    def add(self, outcome: str, reason: str, field: str | None, row: int, value: Any) -> None:
        key = (outcome, reason, field)
        count = self._counts.get(key)
        if count is None:
            count = self._counts[key] = ProblemCount(outcome=outcome, reason=reason, field=field)
        count.count += 1
        if len(count.examples) < MAX_EXAMPLES:
            text = None if value is None else str(value)[:_EXAMPLE_CHARS]
            count.examples.append(ProblemExample(row=row, value=text))

    def counts(self) -> list[ProblemCount]:
        return sorted(
            self._counts.values(), key=lambda c: (c.outcome, -c.count, c.reason, c.field or "")
        )

    def by_field(self, outcome: str) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (kind, _, field), count in self._counts.items():
            if kind == outcome:
                out[field or "(record)"] += count.count
        return dict(sorted(out.items()))


def _value_at(data: Mapping[str, Any] | None, field: str | None) -> Any:
    if not data or not field:
        return None
    return data.get(field.split(".")[0])


def _source_key(data: Mapping[str, Any] | None, defaults: Mapping[str, Any]) -> str | None:
    if not data:
        return None
    system = data.get("source_system") or defaults.get("source_system")
    source_id = data.get("source_id")
    if system and source_id:
        return f"{str(system).strip().lower()}:{str(source_id).strip()}"
    return None


async def _each(rows: Iterable[RawRow] | AsyncIterable[RawRow]) -> AsyncIterator[RawRow]:
    if isinstance(rows, AsyncIterable):
        async for row in rows:
            yield row
    else:
        for row in rows:
            yield row
