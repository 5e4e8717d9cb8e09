"""Pytest plugin for every service's tests (enabled by the root conftest.py).

Integration tests run against the real Kafka broker that `make kafka-up` starts. Each test
gets its own topic namespace (`kafka_settings.topic_prefix`), so tests never see each
other's events and several test runs can share one broker.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from territory.shared.broker import ensure_topics
from territory.shared.settings import KafkaSettings


def pytest_configure(config: pytest.Config) -> None:
    # A Kafka client left open by a failed test is finalised by the garbage collector,
    # which logs "Unclosed AIOKafka..." to a stream pytest already closed; logging then
    # prints its own traceback, and on CPython 3.11 that traceback's caret computation
    # calls ast.parse re-entrantly inside pytest's own ast.parse (the AST converter's
    # state is shared), which ends the whole run with "SystemError: AST constructor
    # recursion depth mismatch" (an INTERNALERROR that hides every result). The clients
    # are closed in `finally` blocks; this stops logging from printing tracebacks of its
    # own write errors, the one re-entrant path left.
    import logging

    logging.raiseExceptions = False


def bootstrap_servers() -> str:
    return os.environ.get("TERRITORY_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def _answers(servers: str) -> bool:
    host, _, port = servers.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    servers = bootstrap_servers()
    if not _answers(servers):
        pytest.fail(
            f"no Kafka broker answers on {servers}: run `make kafka-up` "
            "(integration tests need the real broker)",
            pytrace=False,
        )
    return servers


@pytest.fixture
async def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    """Kafka settings with a fresh topic namespace; the contract's topics exist."""
    settings = KafkaSettings(
        bootstrap_servers=kafka_bootstrap, topic_prefix=f"test-{uuid.uuid4().hex[:10]}."
    )
    await ensure_topics(settings)
    return settings


async def read_topic(
    servers: str,
    topic: str,
    *,
    expect: int,
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    """Read a topic from the beginning until `expect` messages arrived (or time runs out).

    Returns decoded JSON values with `_key`, `_partition` and `_offset` added.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or [])
        ]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or [])
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(out) < expect and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for tp, records in batches.items():
                for rec in records:
                    value = json.loads(rec.value) if rec.value else {}
                    value["_key"] = rec.key.decode() if rec.key else None
                    value["_partition"] = tp.partition
                    value["_offset"] = rec.offset
                    out.append(value)
        return out
    finally:
        await consumer.stop()


async def settle(seconds: float = 0.5) -> None:
    """Give a consumer a moment to (not) produce more; used before asserting 'nothing more'."""
    await asyncio.sleep(seconds)
