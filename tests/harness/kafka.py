"""Kafka from the outside: lag per consumer group, topic sizes, raw publishing and reading,
and a broker of the harness's own (for restart tests; the shared broker is never touched).

Everything here talks to the broker with aiokafka or kcat only; nothing imports a service.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

ROOT = Path(__file__).resolve().parents[2]


def run_sync(coro: Any) -> Any:
    """Run a coroutine from synchronous code (tests and samplers run outside a loop)."""
    return asyncio.run(coro)


async def end_offsets(bootstrap: str, topics: Iterable[str]) -> dict[str, int]:
    """Messages ever written per topic (sum of the partitions' end offsets)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        await consumer.start()  # inside: a start that fails (broker down) still stops it
        out: dict[str, int] = {}
        for topic in topics:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in parts]
            ends = await consumer.end_offsets(tps) if tps else {}
            out[topic] = int(sum(ends.values()))
        return out
    finally:
        await consumer.stop()


async def group_lag(bootstrap: str, group: str, topics: Iterable[str]) -> dict[str, int]:
    """Lag of `group` per topic: end offsets minus committed (nothing committed: the end)."""
    topics = list(topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        await admin.start()
        await consumer.start()
        committed = await admin.list_consumer_group_offsets(group)
        out: dict[str, int] = {}
        for topic in topics:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in parts]
            ends = await consumer.end_offsets(tps) if tps else {}
            lag = 0
            for tp, end in ends.items():
                meta = committed.get(tp)
                done = meta.offset if meta is not None and meta.offset >= 0 else 0
                lag += max(0, end - done)
            out[topic] = lag
        return out
    finally:
        await consumer.stop()
        await admin.close()


async def committed_offsets(bootstrap: str, group: str) -> dict[str, int]:
    """Committed offsets of a group summed per topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    out: dict[str, int] = {}
    for tp, meta in committed.items():
        if meta.offset >= 0:
            out[tp.topic] = out.get(tp.topic, 0) + meta.offset
    return out


async def publish_raw(
    bootstrap: str,
    topic: str,
    messages: Sequence[tuple[bytes | None, bytes | None]],
    *,
    max_request_size: int = 16 * 1024 * 1024,
    partition: int | None = None,
) -> int:
    """Publish (key, value) byte pairs exactly as given (acks=all), to one partition when
    `partition` is set (poison and the good events behind it share it); returns how many."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        max_request_size=max_request_size,
    )
    try:
        await producer.start()
        futures = [
            await producer.send(topic, value=v, key=k, partition=partition) for k, v in messages
        ]
        for f in futures:
            await f
        return len(futures)
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str, *, idle: float = 1.5) -> list[dict[str, Any]]:
    """Every message of a topic from the beginning until its current end.

    Returns {'key', 'value' (bytes), 'partition', 'offset', 'timestamp' (epoch seconds,
    the record's CreateTime: when its producer sent it), 'json' (decoded or None)}.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        await consumer.start()  # inside: a start that fails (broker down) still stops it
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[dict[str, Any]] = []
        last = time.monotonic()
        while True:
            positions = {tp: await consumer.position(tp) for tp in tps}
            if all(positions[tp] >= ends[tp] for tp in tps):
                break
            batches = await consumer.getmany(timeout_ms=300, max_records=20_000)
            if batches:
                last = time.monotonic()
            elif time.monotonic() - last > idle * 10:
                break
            for tp, records in batches.items():
                for rec in records:
                    try:
                        decoded = json.loads(rec.value) if rec.value else None
                    except (ValueError, UnicodeDecodeError):
                        decoded = None
                    out.append(
                        {
                            "key": rec.key,
                            "value": rec.value,
                            "partition": tp.partition,
                            "offset": rec.offset,
                            "timestamp": rec.timestamp / 1000,
                            "json": decoded,
                        }
                    )
        return out
    finally:
        await consumer.stop()


def kcat() -> str:
    """Path of kcat (the project's scripts install it from Debian: apt-get install kcat)."""
    path = shutil.which("kcat") or shutil.which("kafkacat")
    if path is None:
        raise RuntimeError("kcat is not installed: run `apt-get install kcat` (Debian)")
    return path


def kcat_count(bootstrap: str, topic: str) -> int:
    """Messages in a topic counted by kcat, a client the team did not write."""
    done = subprocess.run(
        [kcat(), "-b", bootstrap, "-C", "-t", topic, "-e", "-q", "-f", "x\n"],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return done.stdout.count(b"x\n")


def kcat_produce(bootstrap: str, topic: str, lines: Iterable[bytes]) -> None:
    """Publish newline-free values with kcat (acks=all)."""
    subprocess.run(
        [kcat(), "-b", bootstrap, "-P", "-t", topic, "-X", "acks=all"],
        input=b"\n".join(lines) + b"\n",
        timeout=120,
        check=True,
    )


@dataclass
class Broker:
    """A Kafka broker of the harness's own, started with scripts/kafka.sh on its own ports.

    Restarting it never touches the shared broker on 9092: KAFKA_PORT, KAFKA_CONTROLLER_PORT
    and KAFKA_HOME give it its own pid file, log and data directory. The broker's jars are
    shared with `.cache/kafka/libs` (fetched once by scripts/kafka.sh).
    """

    home: Path
    port: int
    controller_port: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / f"kafka-{self.port}.log"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_HOME": str(self.home),
        }

    def _libs(self) -> None:
        shared = ROOT / ".cache" / "kafka" / "libs"
        if not (shared / ".complete").exists():
            shared.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    "mvn",
                    "-B",
                    "-q",
                    "-f",
                    str(ROOT / "deploy" / "kafka" / "pom.xml"),
                    "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={shared}",
                ],
                check=True,
                timeout=900,
            )
            (shared / ".complete").touch()
        self.home.mkdir(parents=True, exist_ok=True)
        link = self.home / "libs"
        if not link.exists():
            link.symlink_to(shared, target_is_directory=True)

    def up(self) -> float:
        """Start (or restart) the broker; seconds until it answers."""
        self._libs()
        started = time.monotonic()
        subprocess.run(
            [str(ROOT / "scripts" / "kafka.sh"), "up"],
            env=self._env(),
            check=True,
            capture_output=True,
            timeout=180,
        )
        return time.monotonic() - started

    def down(self) -> None:
        subprocess.run(
            [str(ROOT / "scripts" / "kafka.sh"), "down"],
            env=self._env(),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def pid(self) -> int | None:
        try:
            return int((self.home / f"kafka-{self.port}.pid").read_text().strip())
        except (OSError, ValueError):
            return None
