"""Dead letters always fit on the broker (issue 13): the original is cut to a bound, its
size and hash kept, the whole of it archived and referenced; one origin per bad message."""

import base64
import hashlib
import logging
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from faststream.kafka import KafkaBroker

from territory.shared.archive import LocalArchive
from territory.shared.broker import EventPublisher
from territory.shared.deadletter import DeadLetters, origin_id
from territory.shared.events import FieldError, MessagePosition, RejectReason
from territory.shared.kernel import ConsumerProgress
from territory.shared.log import RateLimitedLog
from territory.shared.settings import DeadLetterSettings, RetrySettings
from territory.shared.topics import Topics

BROKER_MAX = 1024 * 1024  # Kafka's default message.max.bytes


class Collecting(EventPublisher):
    def __init__(self) -> None:
        super().__init__(KafkaBroker(), Topics())
        self.sent: list[Any] = []

    async def publish_many(self, events):  # type: ignore[no-untyped-def]
        self.sent.extend(events)


def dead_letters(tmp_path, stage: str = "dedupe", **limits: Any) -> tuple[DeadLetters, Collecting]:
    publisher = Collecting()
    return (
        DeadLetters(
            publisher,
            stage=stage,
            producer="test",
            retry=RetrySettings(),
            archive=LocalArchive(tmp_path),
            limits=DeadLetterSettings(**limits),
        ),
        publisher,
    )


def oversized() -> bytes:
    # What stalled a partition: an 800 KB client.received whose name is invalid UTF-8.
    return b'{"payload": {"name": "' + b"\xff\xfe" * 400_000 + b'"}}'


POSITION = MessagePosition(topic="t.client.received", partition=0, offset=7)


async def test_an_oversized_original_is_cut_hashed_archived_and_fits_the_broker(tmp_path):
    dead, publisher = dead_letters(tmp_path)
    data = oversized()
    event = dead.rejection(
        reason=RejectReason.CONTRACT_VIOLATION,
        original=data,
        original_format="kafka",
        position=POSITION,
        errors=[FieldError(code="json_invalid", message="x" * 50_000)] * 500,
    )
    r = event.payload
    assert len(event.model_dump_json().encode()) < BROKER_MAX // 4
    assert r.original_truncated is True
    assert r.original_size == len(data)
    assert r.original_sha256 == hashlib.sha256(data).hexdigest()
    assert r.original_encoding == "base64"
    assert base64.b64decode(r.original) == data[: 64 * 1024]
    assert len(r.errors) == 50
    assert all(len(e.message) <= 1000 for e in r.errors)
    assert r.archive_uri is not None
    assert r.archive_uri.startswith("file://")
    path = url2pathname(urlparse(r.archive_uri).path)
    await dead.publish_many([event])
    assert publisher.sent == [event]
    with open(path, "rb") as archived:
        assert archived.read() == data  # the whole original, byte for byte


async def test_a_small_original_is_kept_whole_and_not_archived(tmp_path):
    dead, _ = dead_letters(tmp_path)
    event = dead.rejection(reason=RejectReason.INVALID_JSON, original='{"a": "é"}')
    r = event.payload
    assert (r.original, r.original_truncated, r.archive_uri) == ('{"a": "é"}', False, None)
    assert r.original_size == len('{"a": "é"}'.encode())
    assert not any(tmp_path.iterdir())


def test_the_bound_is_configurable_and_text_is_cut_on_a_character(tmp_path):
    dead, _ = dead_letters(tmp_path, max_original_bytes=1024)
    text = "é" * 5000
    r = dead.rejection(reason=RejectReason.INVALID_VALUE, original=text).payload
    assert r.original_truncated
    assert r.original_encoding == "utf-8"
    assert r.original == "é" * 512
    assert r.original_size == 10_000


def test_every_stage_gives_one_bad_message_the_same_origin(tmp_path):
    dedupe, _ = dead_letters(tmp_path, stage="dedupe")
    loader, _ = dead_letters(tmp_path, stage="loader")
    a = dedupe.rejection(reason=RejectReason.CONTRACT_VIOLATION, original=b"x", position=POSITION)
    b = loader.rejection(reason=RejectReason.CONTRACT_VIOLATION, original=b"x", position=POSITION)
    other = POSITION.model_copy(update={"offset": 8})
    c = loader.rejection(reason=RejectReason.CONTRACT_VIOLATION, original=b"x", position=other)
    assert a.payload.origin_id == b.payload.origin_id == origin_id(POSITION)
    assert c.payload.origin_id != a.payload.origin_id
    row = dedupe.rejection(
        reason=RejectReason.INVALID_VALUE, original="", upload_id="u", row_number=3
    )
    assert row.payload.origin_id == origin_id(upload_id="u", row_number=3)


def test_a_stuck_consumer_is_not_ready_and_says_where(tmp_path):
    now = [0.0]
    progress = ConsumerProgress(30.0, clock=lambda: now[0])
    progress.begin("on_received", [POSITION])
    now[0] = 29.0
    assert progress.stalled() == {}
    progress.failed("on_received", RuntimeError("MessageSizeTooLargeError"))
    progress.begin("on_received", [POSITION])  # read again: keeps the first time
    now[0] = 31.0
    why = progress.stalled()["on_received"]
    assert "t.client.received[0]@7" in why
    assert "MessageSizeTooLargeError" in why
    progress.done("on_received", [POSITION])
    assert progress.stalled() == {}
    assert progress.processed[("t.client.received", 0)] == 7


def test_repeated_errors_are_logged_once_per_interval(caplog, monkeypatch):
    now = [100.0]
    monkeypatch.setattr("territory.shared.log.time.monotonic", lambda: now[0])
    limited = RateLimitedLog(logging.getLogger("test.limited"), interval=10.0)
    with caplog.at_level(logging.WARNING, logger="test.limited"):
        for _ in range(10_000):
            limited.warning("warehouse unavailable", key="outage")
        limited.warning("another error", key="other")
        now[0] = 111.0
        limited.warning("warehouse unavailable", key="outage")
    lines = [r for r in caplog.records if r.name == "test.limited"]
    assert [r.getMessage() for r in lines] == [
        "warehouse unavailable",
        "another error",
        "warehouse unavailable",
    ]
    assert lines[-1].suppressed_since_last == 9_999
