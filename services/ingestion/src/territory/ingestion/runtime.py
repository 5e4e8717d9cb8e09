"""Wiring: the kernel (broker, publisher, dead letters), archive and ingestor from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from faststream.kafka import KafkaBroker

from territory.ingestion.archive import RawArchive, archive_from_settings
from territory.ingestion.pipeline import Ingestor
from territory.ingestion.settings import IngestionSettings
from territory.shared.broker import EventPublisher
from territory.shared.kernel import ServiceKernel
from territory.shared.topics import Topic

SERVICE = "ingestion"


@dataclass
class Runtime:
    settings: IngestionSettings
    broker: KafkaBroker
    publisher: EventPublisher
    ingestor: Ingestor
    archive: RawArchive


def build_kernel(settings: IngestionSettings) -> ServiceKernel:
    kernel = ServiceKernel(settings, SERVICE)
    kernel.publishes(Topic.CLIENT_RECEIVED, Topic.CLIENT_REJECTED)
    return kernel


@asynccontextmanager
async def running(settings: IngestionSettings) -> AsyncIterator[Runtime]:
    kernel = build_kernel(settings)
    await kernel.ensure_topics()
    await kernel.broker.connect()
    try:
        ingestor = Ingestor(
            kernel.publisher,
            kernel.dead_letters,
            producer=kernel.producer,
            batch_size=settings.ingestion.publish_batch_size,
            publish_timeout=settings.ingestion.publish_timeout_seconds,
            bootstrap_servers=settings.kafka.bootstrap_servers,
        )
        yield Runtime(
            settings=settings,
            broker=kernel.broker,
            publisher=kernel.publisher,
            ingestor=ingestor,
            archive=archive_from_settings(settings.archive),
        )
    finally:
        await kernel.broker.stop()
