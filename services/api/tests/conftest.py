from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from territory.api.app import create_app
from territory.api.runtime import Runtime, running
from territory.api.settings import ApiOptions, ApiSettings
from territory.api.warehouse import make_engine
from territory.shared.broker import ensure_topics
from territory.shared.settings import KafkaSettings

from .utils.fake_rules import FakeRules, fake_rules_server
from .utils.publisher import RecordingPublisher
from .utils.tokens import auth_settings
from .utils.warehouse import fill


def make_settings(kafka: KafkaSettings, warehouse_url: str, **api: object) -> ApiSettings:
    options = {"rate_limit_per_second": 1e6, "rate_limit_burst": 1_000_000, **api}
    return ApiSettings(
        environment="test",
        kafka=kafka,
        auth=auth_settings(),
        warehouse_url=warehouse_url,
        api=ApiOptions(**options),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def fake_rules() -> Iterator[FakeRules]:
    with fake_rules_server() as server:
        yield server


@pytest.fixture(autouse=True)
def _reset_fake_rules(fake_rules: FakeRules) -> None:
    import copy

    from .utils.fake_rules import ACTIVE_RULESET

    fake_rules.active = copy.deepcopy(ACTIVE_RULESET)
    fake_rules.requests.clear()
    fake_rules.status = 200
    fake_rules.delay = 0.0


@pytest.fixture(scope="session")
def warehouse_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("warehouse") / "warehouse.db"


@pytest.fixture(scope="session")
def warehouse_engine(warehouse_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{warehouse_path}")
    fill(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
async def shared_kafka(kafka_bootstrap: str) -> KafkaSettings:
    """One topic namespace for the read-only tests (they publish nothing they read back)."""
    settings = KafkaSettings(
        bootstrap_servers=kafka_bootstrap, topic_prefix=f"test-api-{uuid.uuid4().hex[:8]}."
    )
    await ensure_topics(settings)
    return settings


@pytest.fixture(scope="session")
def settings(warehouse_path: Path, fake_rules: FakeRules) -> ApiSettings:
    # No broker: reads and role checks publish into memory (`runtime.publisher`).
    kafka = KafkaSettings(topic_prefix=f"test-api-{uuid.uuid4().hex[:8]}.")
    return make_settings(kafka, f"sqlite:///{warehouse_path}", rules_url=fake_rules.url)


@pytest.fixture(scope="session")
async def runtime(settings: ApiSettings, warehouse_engine: Engine) -> AsyncIterator[Runtime]:
    publisher = RecordingPublisher(settings.kafka.topics)
    async with running(settings, engine=warehouse_engine, publisher=publisher) as rt:
        yield rt


@pytest.fixture(scope="session")
async def client(settings: ApiSettings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, manage_runtime=False)
    app.state.runtime = runtime
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        yield c


@pytest.fixture
async def kafka_client(
    kafka_settings: KafkaSettings, warehouse_engine: Engine, fake_rules: FakeRules
) -> AsyncIterator[tuple[httpx.AsyncClient, KafkaSettings]]:
    """A client whose events land in a fresh topic namespace, to be read back."""
    settings = make_settings(kafka_settings, "sqlite://", rules_url=fake_rules.url)
    app = create_app(settings, manage_runtime=False)
    async with running(settings, engine=warehouse_engine) as rt:
        app.state.runtime = rt
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            yield c, kafka_settings
