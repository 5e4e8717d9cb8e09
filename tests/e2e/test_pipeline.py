"""The whole product, end to end, as separate processes over the real broker.

Every service runs as its own process (`python -m territory.<service>`) with its own
ports, a topic namespace of its own and a fresh embedded warehouse file, exactly as
`make run` starts them. Sample records go in through the ingestion HTTP API; the test then
waits for golden clients, assignments with their traces and rejected rows to reach the
warehouse, and reads them back through the API with real tokens, including a
cross-region probe.
"""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from territory.shared.warehouse import schema
from territory.shared.warehouse.engine import create_warehouse_engine

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVICES = ("dedupe", "rules", "loader", "api", "ingestion")
SAMPLE_ROWS = 400


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sample_csv(rows: int) -> tuple[bytes, int, int]:
    """The first `rows` sample records; also how many are valid and how many are not."""
    with (ROOT / "data" / "sample" / "clients.csv").open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        records = [r for _, r in zip(range(rows), reader, strict=False)]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]))
    writer.writeheader()
    writer.writerows(records)
    from territory.shared.events import ClientRecord

    valid = 0
    for r in records:
        try:
            ClientRecord.model_validate(r)
            valid += 1
        except ValueError:
            pass
    return out.getvalue().encode(), valid, len(records) - valid


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory) -> Iterator[dict[str, object]]:
    tmp = tmp_path_factory.mktemp("e2e")
    ports = {name: free_port() for name in SERVICES}
    env = {
        **os.environ,
        "TERRITORY_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TERRITORY_KAFKA__TOPIC_PREFIX": f"e2e-{uuid.uuid4().hex[:8]}.",
        "TERRITORY_WAREHOUSE_URL": f"sqlite:///{tmp / 'warehouse.db'}",
        "TERRITORY_ARCHIVE__LOCAL_DIR": str(tmp / "archive"),
        "TERRITORY_API__RULES_URL": f"http://127.0.0.1:{ports['rules']}",
        "TERRITORY_LOG_JSON": "true",
        **{f"TERRITORY_{name.upper()}__PORT": str(port) for name, port in ports.items()},
    }
    subprocess.run(
        [str(BIN / "territory"), "topics", "create"], env=env, check=True, capture_output=True
    )
    subprocess.run(
        [str(BIN / "territory"), "warehouse", "migrate"],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = {name: (tmp / f"{name}.log").open("wb") for name in SERVICES}
    try:
        for name in SERVICES:
            procs[name] = subprocess.Popen(
                [str(BIN / "python"), "-m", f"territory.{name}"],
                env=env,
                cwd=ROOT,
                stdout=logs[name],
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120
        for name in SERVICES:
            url = f"http://127.0.0.1:{ports[name]}/readyz"
            while True:
                if procs[name].poll() is not None:
                    pytest.fail(f"{name} exited:\n{(tmp / f'{name}.log').read_text()[-3000:]}")
                try:
                    if httpx.get(url, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{name} not ready:\n{(tmp / f'{name}.log').read_text()[-3000:]}")
                time.sleep(0.3)
        token = {
            role: subprocess.run(
                [str(BIN / "territory"), "token", "--role", role, *extra],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            for role, extra in (("TERRITORY_ADMIN", []), ("SALES_LEADERSHIP", ["--region", "EMEA"]))
        }
        yield {"ports": ports, "env": env, "tmp": tmp, "token": token}
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for fh in logs.values():
            fh.close()


def wait_for(check, *, timeout: float = 90.0, what: str) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what} (last: {last!r})")


def test_records_flow_from_upload_to_the_api(stack):
    ports = stack["ports"]
    body, valid, invalid = sample_csv(SAMPLE_ROWS)
    assert invalid > 0, "the sample should exercise the dead-letter path"
    response = httpx.post(
        f"http://127.0.0.1:{ports['ingestion']}/v1/uploads?filename=sample.csv",
        content=body,
        headers={"content-type": "text/csv"},
        timeout=60,
    )
    assert response.status_code == 202, response.text
    report = response.json()
    assert (report["accepted"], report["rejected"]) == (valid, invalid)

    engine = create_warehouse_engine(stack["env"]["TERRITORY_WAREHOUSE_URL"])

    def count(stmt) -> int:
        with engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    # Every accepted record reaches RAW, every rejection is recorded with its reason.
    wait_for(
        lambda: count(select(func.count()).select_from(schema.raw_clients)) >= valid,
        what="raw clients",
    )
    wait_for(
        lambda: count(select(func.count()).select_from(schema.rejected_records)) >= invalid,
        what="rejected records",
    )
    # Duplicates collapse: fewer golden clients than valid records, but every one assigned.
    golden = wait_for(
        lambda: count(select(func.count()).select_from(schema.client_dim)), what="golden clients"
    )
    current = wait_for(
        lambda: (
            (
                n := count(
                    select(func.count())
                    .select_from(schema.assignments_fact)
                    .where(schema.assignments_fact.c.is_current.is_(True))
                )
            )
            >= 0.9 * golden
            and n
        ),
        what="current assignments",
    )
    assert 0 < golden < valid
    assert current <= golden

    api = f"http://127.0.0.1:{ports['api']}/api"
    admin = {"Authorization": f"Bearer {stack['token']['TERRITORY_ADMIN']}"}
    emea = {"Authorization": f"Bearer {stack['token']['SALES_LEADERSHIP']}"}
    clients = httpx.get(f"{api}/clients", params={"limit": 50}, headers=admin, timeout=30)
    assert clients.status_code == 200, clients.text
    items = clients.json()["items"]
    assert items
    assigned = next(c for c in items if c.get("territory_id"))
    detail = httpx.get(f"{api}/clients/{assigned['client_id']}", headers=admin, timeout=30).json()
    trace = detail["current_assignment"]["trace"]
    assert trace["ruleset_version"]
    assert trace["level"] in {"whitelist", "hierarchy", "tier", "segment", "region"}
    assert detail["source_records"], "lineage to the source records"

    # SALES_LEADERSHIP for EMEA sees EMEA clients only, by list and by id.
    seen = httpx.get(f"{api}/clients", params={"limit": 200}, headers=emea, timeout=30).json()
    assert seen["items"]
    assert {c["region"] for c in seen["items"]} == {"EMEA"}
    na = next((c for c in items if c.get("region") == "NA"), None)
    if na is not None:
        probe = httpx.get(f"{api}/clients/{na['client_id']}", headers=emea, timeout=30)
        assert probe.status_code == 404
