"""The loader as it runs in production: `python -m territory.loader` with /healthz,
/readyz (broker + warehouse) and /metrics, loading events from the real broker, and
stopping cleanly on SIGTERM. Plus the `territory warehouse` commands."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from factories import received
from sqlalchemy import func, select
from typer.testing import CliRunner

from territory.loader.cli import warehouse_app
from territory.shared.broker import EventPublisher, make_broker
from territory.shared.warehouse import schema as s
from territory.shared.warehouse.engine import create_warehouse_engine
from territory.shared.warehouse.migrate import head_revision

pytestmark = pytest.mark.kafka


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def loader_process(kafka_settings, tmp_path):
    port = free_port()
    url = f"sqlite:///{tmp_path}/warehouse.db"
    env = {
        **os.environ,
        "TERRITORY_WAREHOUSE_URL": url,
        "TERRITORY_KAFKA__BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "TERRITORY_KAFKA__TOPIC_PREFIX": kafka_settings.topic_prefix,
        "TERRITORY_LOADER__PORT": str(port),
        "TERRITORY_LOADER__GROUP_ID": f"loader-{port}",
        "TERRITORY_LOADER__BATCH_MAX_WAIT_MS": "100",
    }
    log = tmp_path / "loader.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "territory.loader"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        yield proc, port, url, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_service_process_serves_ops_endpoints_and_loads(loader_process, kafka_settings):
    proc, port, url, log = loader_process
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            deadline = time.monotonic() + 60
            ready = None
            while time.monotonic() < deadline:
                assert proc.poll() is None, log.read_text()
                try:
                    ready = await client.get("/readyz")
                    if ready.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.3)
            assert ready is not None
            assert ready.status_code == 200
            assert ready.json() == {
                "broker": True,
                "warehouse": True,
                "loader": True,
                "progressing": True,
            }
            assert (await client.get("/healthz")).status_code == 200

            broker = make_broker(kafka_settings, client_id="test")
            await broker.connect()
            await EventPublisher(broker, kafka_settings.topics).publish_many(
                [received(f"p{i}") for i in range(5)]
            )
            await broker.stop()
            engine = create_warehouse_engine(url)
            for _ in range(150):
                with engine.connect() as conn:
                    n = conn.execute(select(func.count()).select_from(s.raw_clients)).scalar_one()
                if n == 5:
                    break
                await asyncio.sleep(0.2)
            engine.dispose()
            assert n == 5
            metrics = (await client.get("/metrics")).text
            assert 'territory_loader_events_total{type="client.received"} 5.0' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(proc.wait, 30)
    # uvicorn re-raises SIGTERM after its graceful shutdown, so -15 is a clean exit too.
    assert code in (0, -signal.SIGTERM)
    assert '"message": "loader stopped"' in log.read_text()


def test_warehouse_cli_migrates_and_reports(tmp_path, monkeypatch, kafka_bootstrap):
    monkeypatch.setenv("TERRITORY_WAREHOUSE_URL", f"sqlite:///{tmp_path}/w.db")
    monkeypatch.setenv("TERRITORY_KAFKA__BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("TERRITORY_KAFKA__TOPIC_PREFIX", f"cli-{tmp_path.name}.")
    runner = CliRunner()
    first = runner.invoke(warehouse_app, ["migrate"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(warehouse_app, ["migrate"])
    assert again.exit_code == 0
    status = runner.invoke(warehouse_app, ["status", "--json"])
    assert status.exit_code == 0, status.output
    report = json.loads(status.stdout)
    assert report["revision"] == report["head"] == head_revision()
    assert report["rows"]["core_hierarchy.client_dim"] == 0
    assert report["last_batch"] is None
    # Topics under a prefix nobody created: no lag to report, and no error.
    assert all(v is None for v in report["lag"].values())
