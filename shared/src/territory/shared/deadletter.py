"""Dead letters: bad input never vanishes; it goes to `client.rejected` with a reason.

Every service uses `DeadLetters`: `rejection(...)` builds one, `publish_many(...)` (or
`reject(...)`) publishes it. Consumers get theirs from the kernel
(`territory.shared.kernel.consumer`): contract validation, bounded retries with capped
exponential backoff, and a dead letter (with the original bytes and the
topic/partition/offset) when retries are exhausted.

A dead letter always fits on the broker: an original larger than
`dead_letters.max_original_bytes` is cut to that many bytes (`original_truncated`), its
whole size and SHA-256 are kept, and the whole original is archived (S3 or the local
archive, content-addressed by its hash) and referenced by `archive_uri`. The archive is
written before the dead letter is published (`publish_many`): a dead letter never points
at nothing. Every dead letter of one bad message carries the same `origin_id` (derived
from its topic/partition/offset, not from the stage), which ties together the dead
letters several consuming services write for it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from territory.shared.archive import RawArchive
from territory.shared.broker import EventPublisher
from territory.shared.events import (
    ClientRejected,
    Event,
    FieldError,
    MessagePosition,
    Rejection,
    RejectReason,
)
from territory.shared.settings import DeadLetterSettings, RetrySettings

log = logging.getLogger(__name__)

_ORIGIN_NS = uuid.UUID("0b6f3f7e-2d61-4a3c-9c0e-6a9d1f4e8b27")
MAX_ERROR_MESSAGE = 1_000


def encode_original(data: bytes | str) -> tuple[str, str]:
    """Keep the original exactly: text as is, undecodable bytes as base64."""
    if isinstance(data, str):
        return data, "utf-8"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64"


def origin_id(
    position: MessagePosition | None = None,
    *,
    upload_id: str | None = None,
    row_number: int | None = None,
) -> str | None:
    """The id of one bad message, the same for every stage that dead-letters it."""
    if position is not None:
        name = f"kafka:{position.topic}:{position.partition}:{position.offset}"
    elif upload_id is not None:
        name = f"upload:{upload_id}:{row_number or 0}"
    else:
        return None
    return str(uuid.uuid5(_ORIGIN_NS, name))


def _cut(data: bytes, limit: int) -> bytes:
    """The first `limit` bytes, without splitting a UTF-8 sequence of valid text."""
    head = data[:limit]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return head  # not text: kept as base64 anyway
    return head.decode("utf-8", "ignore").encode("utf-8")


class DeadLetters:
    def __init__(
        self,
        publisher: EventPublisher,
        *,
        stage: str,
        producer: str,
        retry: RetrySettings,
        archive: RawArchive | None = None,
        limits: DeadLetterSettings | None = None,
    ) -> None:
        self.publisher = publisher
        self.stage = stage
        self.producer = producer
        self.retry = retry
        self.archive = archive
        self.limits = limits or DeadLetterSettings()
        # archive URI → (name, the whole original), written by `publish_many` before the
        # dead letter that references it.
        self._pending: dict[str, tuple[str, bytes]] = {}

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
        data = original.encode("utf-8", "surrogatepass") if isinstance(original, str) else original
        limit = self.limits.max_original_bytes
        size = len(data)
        truncated = size > limit
        archive_uri: str | None = None
        digest = hashlib.sha256(data).hexdigest()
        if truncated:
            if self.archive is not None:
                name = f"{self.limits.archive_prefix}{digest[:2]}/{digest}"
                archive_uri = self.archive.uri_for(name)
                self._pending[archive_uri] = (name, data)
            data = _cut(data, limit)
        text, encoding = encode_original(data if truncated else original)
        kept = [
            e
            if len(e.message) <= MAX_ERROR_MESSAGE
            else e.model_copy(update={"message": e.message[:MAX_ERROR_MESSAGE]})
            for e in list(errors)[: self.limits.max_errors]
        ]
        extra: dict[str, Any] = {"correlation_id": correlation_id} if correlation_id else {}
        return ClientRejected(
            producer=self.producer,
            payload=Rejection(
                stage=self.stage,
                reason=reason,
                errors=kept,
                original=text,
                original_encoding=encoding,  # type: ignore[arg-type]
                original_format=original_format,  # type: ignore[arg-type]
                source_key=source_key[:500] if source_key else source_key,
                position=position,
                upload_id=upload_id,
                row_number=row_number,
                attempts=attempts,
                origin_id=origin_id(position, upload_id=upload_id, row_number=row_number),
                original_size=size,
                original_sha256=digest,
                original_truncated=truncated,
                archive_uri=archive_uri,
            ),
            **extra,
        )

    async def archive_originals(self, events: Sequence[Event[Any]]) -> None:
        """Write the whole originals the given dead letters reference (before publishing)."""
        if self.archive is None:
            return
        for event in events:
            if not isinstance(event, ClientRejected) or not event.payload.archive_uri:
                continue
            pending = self._pending.get(event.payload.archive_uri)
            if pending is not None:
                await self.archive.put_bytes(*pending)
                del self._pending[event.payload.archive_uri]

    async def publish_many(self, events: Sequence[Event[Any]]) -> None:
        """Archive what the dead letters among `events` reference, then publish them all."""
        await self.archive_originals(events)
        await self.publisher.publish_many(events)

    async def reject(self, **kwargs: Any) -> ClientRejected:
        event = self.rejection(**kwargs)
        await self.publish_many([event])
        log.warning(
            "rejected record",
            extra={"stage": self.stage, "reason": event.payload.reason.value},
        )
        return event
