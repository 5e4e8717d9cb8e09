"""Dead letters: bad input never vanishes; it goes to `client.rejected` with a reason.

Every service uses `DeadLetters`: `reject(...)` publishes one rejection, and `guard(...)`
wraps a consumer's work on one message with contract validation, bounded retries with
capped exponential backoff, and a dead letter (with the original bytes and the
topic/partition/offset) when retries are exhausted.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from faststream.kafka.message import KafkaMessage
from pydantic import ValidationError

from territory.shared.broker import EventPublisher
from territory.shared.errors import field_errors
from territory.shared.events import (
    ClientRejected,
    Event,
    FieldError,
    MessagePosition,
    Rejection,
    RejectReason,
)
from territory.shared.log import correlation
from territory.shared.settings import RetrySettings

log = logging.getLogger(__name__)

EventT = TypeVar("EventT", bound=Event[Any])


def encode_original(data: bytes | str) -> tuple[str, str]:
    """Keep the original exactly: text as is, undecodable bytes as base64."""
    if isinstance(data, str):
        return data, "utf-8"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64"


class DeadLetters:
    def __init__(
        self, publisher: EventPublisher, *, stage: str, producer: str, retry: RetrySettings
    ) -> None:
        self.publisher = publisher
        self.stage = stage
        self.producer = producer
        self.retry = retry

    def rejection(
        self,
        *,
        reason: RejectReason,
        original: bytes | str,
        errors: Sequence[FieldError] = (),
        original_format: str = "json",
        source_key: str | None = None,
        position: MessagePosition | None = None,
        upload_id: str | None = None,
        row_number: int | None = None,
        attempts: int = 1,
        correlation_id: str | None = None,
    ) -> ClientRejected:
        text, encoding = encode_original(original)
        extra: dict[str, Any] = {"correlation_id": correlation_id} if correlation_id else {}
        return ClientRejected(
            producer=self.producer,
            payload=Rejection(
                stage=self.stage,
                reason=reason,
                errors=list(errors),
                original=text,
                original_encoding=encoding,  # type: ignore[arg-type]
                original_format=original_format,  # type: ignore[arg-type]
                source_key=source_key,
                position=position,
                upload_id=upload_id,
                row_number=row_number,
                attempts=attempts,
            ),
            **extra,
        )

    async def reject(self, **kwargs: Any) -> ClientRejected:
        event = self.rejection(**kwargs)
        await self.publisher.publish(event)
        log.warning(
            "rejected record",
            extra={"stage": self.stage, "reason": event.payload.reason.value},
        )
        return event

    async def guard(
        self,
        message: KafkaMessage,
        model: type[EventT],
        process: Callable[[EventT], Awaitable[None]],
        *,
        source_key: Callable[[EventT], str | None] | None = None,
    ) -> EventT | None:
        """Validate `message` as `model` and run `process` with bounded retries.

        Returns the event when it was processed, None when it became a dead letter. Raises
        only when the dead letter itself cannot be written, so the message is redelivered.
        """
        raw = message.raw_message
        position = MessagePosition(
            topic=raw.topic,  # type: ignore[union-attr]
            partition=raw.partition,  # type: ignore[union-attr]
            offset=raw.offset,  # type: ignore[union-attr]
        )
        body: bytes = message.body
        try:
            event = model.model_validate_json(body)
        except ValidationError as exc:
            await self.reject(
                reason=RejectReason.CONTRACT_VIOLATION,
                errors=field_errors(exc),
                original=body,
                original_format="kafka",
                position=position,
                source_key=message.raw_message.key.decode("utf-8", "replace")  # type: ignore[union-attr]
                if message.raw_message.key  # type: ignore[union-attr]
                else None,
            )
            return None

        with correlation(event.correlation_id):
            delay = self.retry.backoff_seconds
            for attempt in range(1, self.retry.attempts + 1):
                try:
                    await process(event)
                    return event
                except Exception as exc:
                    if attempt == self.retry.attempts:
                        log.exception("giving up on message", extra={"attempts": attempt})
                        await self.reject(
                            reason=RejectReason.PROCESSING_FAILED,
                            errors=[FieldError(code=type(exc).__name__, message=str(exc)[:1000])],
                            original=body,
                            original_format="kafka",
                            position=position,
                            source_key=source_key(event) if source_key else None,
                            attempts=attempt,
                            correlation_id=event.correlation_id,
                        )
                        return None
                    log.warning(
                        "processing failed; retrying",
                        extra={"attempt": attempt, "error": repr(exc)},
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry.max_backoff_seconds)
        return None
