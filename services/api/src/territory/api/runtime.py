"""Wiring: broker, publisher, warehouse engine, token verifier and rules client from settings."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from faststream.kafka import KafkaBroker
from sqlalchemy import Engine

from territory.api.counting import CountCache
from territory.api.rules_client import RulesClient
from territory.api.security import TokenVerifier
from territory.api.settings import ApiSettings
from territory.api.warehouse import make_engine
from territory.shared.broker import EventPublisher, ensure_topics, make_broker

SERVICE = "api"


def producer_name() -> str:
    return f"{SERVICE}@{socket.gethostname()}:{os.getpid()}"


@dataclass
class Runtime:
    settings: ApiSettings
    broker: KafkaBroker
    publisher: EventPublisher
    engine: Engine
    verifier: TokenVerifier
    rules: RulesClient
    producer: str
    counts: CountCache


@asynccontextmanager
async def running(settings: ApiSettings, engine: Engine | None = None) -> AsyncIterator[Runtime]:
    await ensure_topics(settings.kafka)
    broker = make_broker(settings.kafka, client_id=SERVICE)
    await broker.connect()
    rules = RulesClient(settings.api.rules_url, settings.api.rules_timeout_seconds)
    own_engine = engine is None
    engine = engine if engine is not None else make_engine(settings.warehouse_url, settings.api)
    try:
        yield Runtime(
            settings=settings,
            broker=broker,
            publisher=EventPublisher(broker, settings.kafka.topics),
            engine=engine,
            verifier=TokenVerifier(settings.auth),
            rules=rules,
            producer=producer_name(),
            counts=CountCache(settings.api.count_cache_seconds),
        )
    finally:
        await rules.close()
        await broker.stop()
        if own_engine:
            engine.dispose()
