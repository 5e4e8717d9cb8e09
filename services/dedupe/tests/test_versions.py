"""Issue 13 at the dedupe service: an older version of a source record is not applied
(metric + log), and an event id reused for another record becomes a dead letter."""

from datetime import UTC, datetime

from prometheus_client import REGISTRY

from territory.dedupe.service import DedupeService
from territory.dedupe.settings import DedupeSettings
from territory.shared.deadletter import origin_id
from territory.shared.events import (
    ClientDeduplicated,
    ClientReceived,
    ClientRecord,
    ClientRejected,
    MessagePosition,
    RejectReason,
)
from territory.shared.kernel import Batch


def received(source_id: str, name: str, updated: str | None) -> ClientReceived:
    record = ClientRecord(
        source_system="crm",
        source_id=source_id,
        name=name,
        country="CA",
        updated_at=datetime.fromisoformat(updated).replace(tzinfo=UTC) if updated else None,
    )
    return ClientReceived(producer="test", payload=record)


def batch(*events: ClientReceived, offset: int = 0) -> Batch[ClientReceived]:
    positions = [
        MessagePosition(topic="client.received", partition=0, offset=offset + i)
        for i in range(len(events))
    ]
    return Batch(list(events), positions, [e.model_dump_json().encode() for e in events])


def stale() -> float:
    return REGISTRY.get_sample_value("territory_dedupe_stale_skipped_total") or 0.0


async def test_an_older_version_of_a_record_is_skipped_and_counted():
    service = DedupeService(DedupeSettings())
    out = await service.on_client_received(batch(received("1", "Acme New", "2026-10-02")))
    service._emitted(out)
    before = stale()
    out = await service.on_client_received(batch(received("1", "Acme Old", "2026-10-01"), offset=1))
    assert out == []
    assert stale() - before == 1
    assert service.engine.records["crm:1"].record.name == "Acme New"
    # No updated_at on one side: arrival order decides, the newer arrival applies.
    out = await service.on_client_received(batch(received("1", "Acme Undated", None), offset=2))
    assert [e.payload.record.name for e in out if isinstance(e, ClientDeduplicated)] == [
        "Acme Undated"
    ]
    assert stale() - before == 1


async def test_an_event_id_reused_for_another_record_is_a_dead_letter():
    service = DedupeService(DedupeSettings())
    first = received("1", "Acme", "2026-10-02")
    other = received("2", "Other Fund", "2026-10-02").model_copy(
        update={"event_id": first.event_id}
    )
    out = await service.on_client_received(batch(first, first.model_copy(), other))
    dead = [e for e in out if isinstance(e, ClientRejected)]
    assert len(dead) == 1
    assert dead[0].payload.reason == RejectReason.DUPLICATE_EVENT_ID
    assert dead[0].payload.source_key == "crm:2"
    position = MessagePosition(topic="client.received", partition=0, offset=2)
    assert dead[0].payload.origin_id == origin_id(position)
    assert "crm:2" not in service.engine.records
    assert "crm:1" in service.engine.records
