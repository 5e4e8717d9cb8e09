"""The loader over the real broker: events → rows, offsets committed after the batch,
poison → client.rejected, replay → no new rows, warehouse outage → nothing committed,
then everything loaded once it is back."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from factories import assigned, golden, received, rejected, ruleset
from harness.proxy import TcpProxy  # the switchable proxy the fault suite uses too
from sqlalchemy import func, select

from territory.loader.runtime import build_kernel, build_loader
from territory.loader.service import Loader
from territory.loader.settings import LoaderOptions, LoaderSettings
from territory.loader.status import topic_lag
from territory.shared.broker import EventPublisher
from territory.shared.settings import RetrySettings
from territory.shared.testing import read_topic
from territory.shared.warehouse import schema as s
from territory.shared.warehouse.engine import create_warehouse_engine
from territory.shared.warehouse.migrate import migrate

pytestmark = pytest.mark.kafka


def settings_for(kafka_settings, url: str, **options) -> LoaderSettings:
    return LoaderSettings(
        kafka=kafka_settings,
        warehouse_url=url,
        retry=RetrySettings(attempts=2, backoff_seconds=0.01),
        loader=LoaderOptions(
            group_id=f"loader-{uuid.uuid4().hex[:8]}",
            batch_size=500,
            batch_max_wait_ms=200,
            retry_initial_seconds=0.05,
            retry_max_seconds=0.4,
            **options,
        ),
    )


@contextlib.asynccontextmanager
async def running_loader(settings: LoaderSettings) -> AsyncIterator[Loader]:
    kernel = build_kernel(settings)
    engine = create_warehouse_engine(settings.warehouse_url)
    await asyncio.to_thread(migrate, engine)  # off the loop: the outage proxy runs on it
    loader = build_loader(settings, kernel, engine)
    await kernel.broker.start()
    try:
        yield loader
    finally:
        loader.stop()
        await asyncio.wait_for(kernel.broker.stop(), 30)
        engine.dispose()


@contextlib.asynccontextmanager
async def publisher_for(settings: LoaderSettings) -> AsyncIterator[EventPublisher]:
    broker = build_kernel(settings).broker
    await broker.connect()
    try:
        yield EventPublisher(broker, settings.kafka.topics)
    finally:
        await broker.stop()


def count(engine, table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


async def eventually(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if value:
                return value
        except Exception:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.2)


def pipeline_events():
    return [
        ruleset("v1"),
        *[received(f"{i:03d}", f"Client {i}", minute=i) for i in range(20)],
        golden("parent", ["000"], name="Client Holdings"),
        *[golden(f"c{i}", [f"{i:03d}"], name=f"Client {i}", parent="parent") for i in range(1, 20)],
        *[assigned(f"c{i}", "na-east", "ann@example.com", minute=30) for i in range(1, 20)],
        assigned("c1", "emea-pension", "cleo@example.com", minute=40),
        rejected(),
    ]


async def test_events_become_rows_and_a_replay_adds_none(kafka_settings, tmp_path):
    url = f"sqlite:///{tmp_path}/warehouse.db"
    settings = settings_for(kafka_settings, url)
    events = pipeline_events()
    async with publisher_for(settings) as publisher:
        await publisher.publish_many(events)
        # A record that is not an event of its topic: the loader dead-letters it.
        await publisher.broker.publish(
            b'{"not": "an event"}', settings.kafka.topics.client_received, key=b"x:1"
        )

    engine = create_warehouse_engine(url)
    async with running_loader(settings) as loader:
        await eventually(
            lambda: (
                count(engine, s.assignments_fact) == 20 and count(engine, s.rejected_records) == 2
            )
        )
        await eventually(lambda: loader.state.events == len(events) + 1)
    counts = {t.name: count(engine, t) for t in (*s.CORE_TABLES, s.raw_clients, s.clients_staging)}
    assert counts["clients"] == 20
    assert counts["clients_staging"] == 20
    assert counts["client_dim"] == 20
    assert counts["assignments_fact"] == 20
    assert counts["territory_dim"] == 2
    # The poison record's dead letter came back through client.rejected and is a row too.
    with engine.connect() as conn:
        stages = sorted(conn.execute(select(s.rejected_records.c.stage)).scalars())
        c1 = conn.execute(
            select(s.client_dim.c.territory_id, s.client_dim.c.parent_client_id).where(
                s.client_dim.c.client_id == "c1"
            )
        ).one()
    assert stages == ["ingestion", "loader"]
    assert tuple(c1) == ("emea-pension", "parent")
    dead = await read_topic(
        kafka_settings.bootstrap_servers, settings.kafka.topics.client_rejected, expect=2
    )
    loader_dead = [d["payload"] for d in dead if d["payload"]["stage"] == "loader"]
    assert loader_dead[0]["reason"] == "contract_violation"
    assert loader_dead[0]["position"]["topic"] == settings.kafka.topics.client_received
    # Offsets were committed: nothing left to load.
    lag = await topic_lag(settings.kafka, settings.loader.group_id)
    assert all(v in (0, None) for v in lag.values()), lag

    # Replay: a new consumer group re-reads every topic from the beginning.
    replay = settings.model_copy(
        update={
            "loader": settings.loader.model_copy(
                update={"group_id": "replay-" + uuid.uuid4().hex[:6]}
            )
        }
    )
    async with running_loader(replay) as again:
        await eventually(lambda: again.state.events >= len(events) + 2)
    assert {
        t.name: count(engine, t) for t in (*s.CORE_TABLES, s.raw_clients, s.clients_staging)
    } == counts
    engine.dispose()


async def test_warehouse_outage_stops_commits_and_resumes_without_loss(
    kafka_settings, postgres_url
):
    from sqlalchemy.engine import make_url

    target = make_url(postgres_url)
    proxy = TcpProxy(target.port or 5432)
    await proxy.up()
    url = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = settings_for(kafka_settings, url)
    engine = create_warehouse_engine(postgres_url)  # direct, to look while the proxy is down
    async with publisher_for(settings) as publisher, running_loader(settings) as loader:
        await publisher.publish_many([received(f"a{i}", minute=i) for i in range(10)])
        await eventually(lambda: count(engine, s.raw_clients) == 10)

        await proxy.down()
        await publisher.publish_many([received(f"b{i}", minute=i) for i in range(15)])
        await eventually(lambda: loader.state.outage_retries >= 3)
        assert loader.state.warehouse_up is False
        assert count(engine, s.raw_clients) == 10
        lag = await topic_lag(settings.kafka, settings.loader.group_id)
        assert lag[settings.kafka.topics.client_received] == 15  # not committed
        assert not await loader.warehouse_ready()

        await proxy.up()  # same port: the warehouse is back
        await eventually(lambda: count(engine, s.raw_clients) == 25)
        await eventually(lambda: loader.state.warehouse_up)
        await eventually(lambda: asyncio.get_running_loop() and True)
    lag = await topic_lag(settings.kafka, settings.loader.group_id)
    assert lag[settings.kafka.topics.client_received] == 0
    assert count(engine, s.clients_staging) == 25
    await proxy.down()
    engine.dispose()
