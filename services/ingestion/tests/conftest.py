from collections.abc import AsyncIterator

import httpx
import pytest

from territory.ingestion.app import create_app
from territory.ingestion.runtime import running
from territory.ingestion.settings import IngestionOptions, IngestionSettings
from territory.shared.settings import ArchiveSettings, KafkaSettings


@pytest.fixture
def ingestion_settings(kafka_settings: KafkaSettings, tmp_path) -> IngestionSettings:
    return IngestionSettings(
        kafka=kafka_settings,
        archive=ArchiveSettings(local_dir=tmp_path / "archive"),
        ingestion=IngestionOptions(
            max_request_bytes=256 * 1024, max_records_per_request=50, spool_dir=str(tmp_path)
        ),
    )


@pytest.fixture
async def client(ingestion_settings: IngestionSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ingestion_settings)
    async with running(ingestion_settings) as runtime:
        app.state.runtime = runtime
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingestion") as c:
            yield c
