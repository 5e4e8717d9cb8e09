"""Issue 13: `/docs` was missing on dedupe and the loader. Their ops port serves the
AsyncAPI viewer at /docs and the document at /docs.json (no broker needed to answer)."""

import httpx
import pytest

from territory.dedupe.service import create_app as dedupe_app
from territory.dedupe.settings import DedupeSettings
from territory.loader.app import create_app as loader_app
from territory.loader.settings import LoaderSettings
from territory.shared.settings import KafkaSettings


@pytest.mark.parametrize(
    ("build", "settings", "topic"),
    [
        (dedupe_app, DedupeSettings, "client.received"),
        (loader_app, LoaderSettings, "client.deduplicated"),
    ],
)
async def test_the_ops_port_serves_the_asyncapi_docs(build, settings, topic):
    app = build(settings(kafka=KafkaSettings(topic_prefix="docs.")))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        html = await client.get("/docs")
        assert html.status_code == 200
        assert "asyncapi" in html.text.lower()
        document = await client.get("/docs.json")
        assert document.status_code == 200
        spec = document.json()
        assert spec["asyncapi"].startswith(("2.", "3."))
        assert any(topic in name for name in spec["channels"]) or topic in document.text
