"""A reused event_id for another record (issue 13): refused as a dead letter, written to
no layer; the same event again is a redelivery and changes nothing."""

from datetime import UTC, datetime

from factories import loaded, received
from faststream.kafka import KafkaBroker
from sqlalchemy import select

from territory.loader.decode import Decoded
from territory.loader.service import Loader
from territory.loader.settings import LoaderSettings
from territory.shared.broker import EventPublisher
from territory.shared.deadletter import DeadLetters, origin_id
from territory.shared.events import RejectReason
from territory.shared.settings import RetrySettings
from territory.shared.topics import Topics
from territory.shared.warehouse import schema as s


def loader_for(engine) -> Loader:
    publisher = EventPublisher(KafkaBroker(), Topics())
    dead = DeadLetters(publisher, stage="loader", producer="test", retry=RetrySettings())
    return Loader(LoaderSettings(), engine, dead)


def keys(engine, table) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(table.c.source_key)).scalars())


async def test_a_reused_event_id_becomes_a_dead_letter_and_reaches_no_layer(warehouse):
    loader = loader_for(warehouse)
    first = received("201", "First Record")
    items, raw = loaded([first])
    assert await loader.load(Decoded(items=items, raw_json=raw)) == []
    other = received("202", "Another Record").model_copy(update={"event_id": first.event_id})
    fresh = received("203", "Fresh Record")
    items, raw = loaded([first, other, fresh])  # a redelivery, a reused id, a new record
    refused = await loader.load(Decoded(items=items, raw_json=raw))
    assert refused is not None
    assert len(refused) == 1
    dead = refused[0].payload
    assert dead.reason == RejectReason.DUPLICATE_EVENT_ID
    assert dead.source_key == "salesforce:202"
    assert dead.position == items[1].position
    assert dead.origin_id == origin_id(items[1].position)
    for table in (s.raw_clients, s.clients_staging):
        assert keys(warehouse, table) == {"salesforce:201", "salesforce:203"}
    with warehouse.connect() as conn:
        stored = conn.execute(
            select(s.raw_clients.c.payload).where(s.raw_clients.c.event_id == str(first.event_id))
        ).scalar_one()
    assert "First Record" in stored  # the first record keeps its id


def test_rejected_rows_keep_origin_size_hash_and_archive(warehouse):
    from territory.loader.rows import rejected_row

    dead = DeadLetters(
        EventPublisher(KafkaBroker(), Topics()), stage="x", producer="t", retry=RetrySettings()
    )
    event = dead.rejection(reason=RejectReason.INVALID_JSON, original=b"\xff" * 10)
    row = rejected_row(event, now=datetime.now(UTC))
    assert row["original_size"] == 10
    assert row["original_sha256"] == event.payload.original_sha256
    assert row["original_truncated"] is False
    assert set(row) <= {c.name for c in s.rejected_records.c}
