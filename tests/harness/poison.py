"""Poison and malformed input, as raw bytes for `kafka.publish_raw`.

Everything here builds messages by hand (JSON text or plain bytes), so a message can be
wrong in ways the product's own models would refuse to produce: oversize, invalid UTF-8,
lone surrogates, NUL, truncated JSON, wrong shapes, a naughty-strings corpus
(`corpus/naughty_strings.json`, after the Big List of Naughty Strings), reused event ids,
stale versions and out-of-order updates.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).with_name("corpus") / "naughty_strings.json"

Message = tuple[bytes | None, bytes | None]


def naughty_strings() -> list[str]:
    return list(json.loads(CORPUS.read_text(encoding="utf-8")))


def now_iso(offset_minutes: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(minutes=offset_minutes)).isoformat()


def client_record(source_id: str, **fields: Any) -> dict[str, Any]:
    """A valid client record (the contract's required fields plus a few optional ones)."""
    record: dict[str, Any] = {
        "source_system": "salesforce",
        "source_id": source_id,
        "name": f"Harness Probe {source_id} Capital",
        "segment": "Pension",
        "country": "CA",
        "city": "Toronto",
        "aum_usd": "1250000000",
        "updated_at": now_iso(),
    }
    record.update(fields)
    return record


def envelope(event_type: str, payload: Any, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": now_iso(),
        "producer": "fault-harness",
        "correlation_id": str(uuid.uuid4()),
        "payload": payload,
    }
    doc.update(fields)
    return doc


def received(record: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return envelope("client.received", record, **fields)


def encode(doc: Any, key: str | bytes | None = None) -> Message:
    value = json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
    k = key.encode() if isinstance(key, str) else key
    return k, value


def received_message(record: dict[str, Any], **fields: Any) -> Message:
    key = f"{record.get('source_system')}:{record.get('source_id')}"
    return encode(received(record, **fields), key)


# -- poison -------------------------------------------------------------------------------


def oversize_invalid_utf8(source_id: str, size: int = 800_000) -> Message:
    """A client.received of ~`size` bytes whose name is invalid UTF-8 (issue 13, defect 1)."""
    doc = received(client_record(source_id, name="PLACEHOLDER"))
    text = json.dumps(doc)
    filler = b"\xff\xfe" + b"A\xc3(" * (size // 3)
    head, tail = text.split("PLACEHOLDER")
    return f"salesforce:{source_id}".encode(), head.encode() + filler + tail.encode()


def invalid_utf8(source_id: str) -> Message:
    doc = received(client_record(source_id, name="PLACEHOLDER"))
    head, tail = json.dumps(doc).split("PLACEHOLDER")
    return f"salesforce:{source_id}".encode(), head.encode() + b"Caf\xe9 \xc3\x28" + tail.encode()


def lone_surrogate(source_id: str) -> Message:
    """JSON text with a lone surrogate escape (valid JSON syntax, not valid Unicode)."""
    doc = received(client_record(source_id, name="PLACEHOLDER"))
    return f"salesforce:{source_id}".encode(), json.dumps(doc).replace(
        "PLACEHOLDER", "Bad \\ud800 Surrogate"
    ).encode()


def nul_in_name(source_id: str) -> Message:
    return received_message(client_record(source_id, name="Nul\u0000Byte Holdings"))


def malformed_values() -> Iterator[Message]:
    """Bytes that are not an event at all: every consumer must dead-letter them. Every one
    has a key (compacted topics refuse keyless messages)."""
    yield b"k", b""
    yield b"k", b"{"
    yield b"k", b'{"event_id": "x", "payload": '  # truncated (EOF while parsing)
    yield b"k", b"[]"
    yield b"k", b"null"
    yield b"k", b'"just a string"'
    yield b"k", b"\x00\x01\x02\x03"
    yield b"k", b"\xff\xfe\xfd"
    yield b"k", json.dumps({"event_type": "client.received", "payload": {}}).encode()
    yield b"k", json.dumps(envelope("wrong.type", {"x": 1})).encode()
    yield b"k", json.dumps(envelope("client.received", "not an object")).encode()


def naughty_records(prefix: str) -> Iterator[tuple[str, Message]]:
    """One client.received per naughty string, in the name (and city): (source_key, msg)."""
    for i, text in enumerate(naughty_strings()):
        sid = f"{prefix}{i:03d}"
        record = client_record(sid, name=f"{text} {sid}" if text.strip() else text, city=text)
        yield f"salesforce:{sid}", received_message(record)


def reused_event_id(original: dict[str, Any], new_source_id: str) -> Message:
    """A different record carrying an event_id already used (issue 13, defect 4)."""
    doc = copy.deepcopy(original)
    doc["payload"]["source_id"] = new_source_id
    doc["payload"]["name"] = f"Different Record {new_source_id}"
    doc["correlation_id"] = str(uuid.uuid4())
    return encode(doc, f"{doc['payload']['source_system']}:{new_source_id}")


def stale_version(golden: dict[str, Any], *, country: str, region: str) -> Message:
    """An older version of a golden client moved to another country (issue 13, defect 3)."""
    doc = copy.deepcopy(golden)
    doc["event_id"] = str(uuid.uuid4())
    doc["occurred_at"] = now_iso()
    payload = doc["payload"]
    payload["version"] = 1
    payload["record"]["country"] = country
    payload["record"]["region"] = region
    payload["record"].pop("state", None)
    return encode(doc, payload["client_id"])


def out_of_order_updates(source_id: str) -> tuple[list[Message], dict[str, Any]]:
    """Two versions of one source record, the newer published first; returns the messages
    and the record the warehouse must keep (the newer one)."""
    newer = client_record(source_id, employee_count=500, updated_at=now_iso(60))
    older = client_record(source_id, employee_count=100, updated_at=now_iso(-60))
    return [received_message(newer), received_message(older)], newer


def malformed_assignment() -> Message:
    """A truncated assignment.changed (issue 13, defect 2: rules' start-up rebuild)."""
    return b"gc-malformed", b'{"event_id": "00000000-0000-0000-0000-000000000000", "payload": '
