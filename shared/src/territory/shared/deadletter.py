"""Dead letters: bad input never vanishes; it goes to `client.rejected` with a reason.

Every service uses `DeadLetters`: `rejection(...)` builds one, `reject(...)` publishes it.
Consumers get theirs from the kernel (`territory.shared.kernel.consumer`): contract
validation, bounded retries with capped exponential backoff, and a dead letter (with the
original bytes and the topic/partition/offset) when retries are exhausted.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import Any

from territory.shared.broker import EventPublisher
from territory.shared.events import (
    ClientRejected,
    FieldError,
    MessagePosition,
    Rejection,
    RejectReason,
)
from territory.shared.settings import RetrySettings

log = logging.getLogger(__name__)


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
