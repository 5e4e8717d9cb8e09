"""Wiring: the warehouse engine, the broker (dead letters), the S3 stager and the loader."""

from __future__ import annotations

import logging
import os
import socket

from faststream.kafka import KafkaBroker
from sqlalchemy import Engine

from territory.loader.service import Loader
from territory.loader.settings import LoaderSettings
from territory.loader.staging import RawStager
from territory.shared.broker import EventPublisher, make_broker
from territory.shared.deadletter import DeadLetters
from territory.shared.warehouse.engine import backend_of, create_warehouse_engine

SERVICE = "loader"
log = logging.getLogger(__name__)


def producer_name() -> str:
    return f"{SERVICE}@{socket.gethostname()}:{os.getpid()}"


def build_loader(
    settings: LoaderSettings, broker: KafkaBroker, engine: Engine | None = None
) -> Loader:
    """Nothing here touches the network: connections open when the loader starts."""
    engine = engine or create_warehouse_engine(settings.warehouse_url)
    publisher = EventPublisher(broker, settings.kafka.topics)
    dead_letters = DeadLetters(
        publisher, stage=SERVICE, producer=producer_name(), retry=settings.retry
    )
    staging = settings.loader.staging
    stager = RawStager(staging) if backend_of(engine) == "snowflake" and staging.s3_bucket else None
    return Loader(settings, engine, dead_letters, stager=stager)


def build_broker(settings: LoaderSettings) -> KafkaBroker:
    return make_broker(settings.kafka, client_id=SERVICE)
