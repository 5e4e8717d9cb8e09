"""Wiring: builds the broker, publisher, dead letters, archive and ingestor from settings."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from faststream.kafka import KafkaBroker

from territory.ingestion.archive import RawArchive, archive_from_settings
from territory.ingestion.pipeline import Ingestor
from territory.ingestion.settings import IngestionSettings
from territory.shared.broker import EventPublisher, ensure_topics, make_broker
from territory.shared.deadletter import DeadLetters

SERVICE = "ingestion"


def producer_name() -> str:
    return f"{SERVICE}@{socket.gethostname()}:{os.getpid()}"


@dataclass
class Runtime:
    settings: IngestionSettings
    broker: KafkaBroker
    publisher: EventPublisher
    ingestor: Ingestor
    archive: RawArchive


@asynccontextmanager
async def running(settings: IngestionSettings) -> AsyncIterator[Runtime]:
    await ensure_topics(settings.kafka)
    broker = make_broker(settings.kafka, client_id=SERVICE)
    await broker.connect()
    try:
        publisher = EventPublisher(broker, settings.kafka.topics)
        producer = producer_name()
        dead_letters = DeadLetters(
            publisher, stage=SERVICE, producer=producer, retry=settings.retry
        )
        ingestor = Ingestor(
            publisher,
            dead_letters,
            producer=producer,
            batch_size=settings.ingestion.publish_batch_size,
        )
        yield Runtime(
            settings=settings,
            broker=broker,
            publisher=publisher,
            ingestor=ingestor,
            archive=archive_from_settings(settings.archive),
        )
    finally:
        await broker.stop()
