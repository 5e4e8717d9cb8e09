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
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from harness.stack import ROOT, Stack, StackError
from sqlalchemy import func, select

from territory.shared.warehouse import schema
from territory.shared.warehouse.engine import create_warehouse_engine

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SAMPLE_ROWS = 400


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
    """Every service as its own process (tests/harness/stack.py, as `make run` starts them)."""
    running = Stack(
        tmp_path_factory.mktemp("e2e"),
        bootstrap=kafka_bootstrap,
        prefix=f"e2e-{uuid.uuid4().hex[:8]}.",
    )
    running.prepare()
    try:
        try:
            running.start(timeout=120)
        except StackError as exc:
            pytest.fail(str(exc))
        token = {
            "TERRITORY_ADMIN": running.token("TERRITORY_ADMIN"),
            "SALES_LEADERSHIP": running.token("SALES_LEADERSHIP", "EMEA"),
        }
        yield {"ports": running.ports, "env": running.env, "tmp": running.workdir, "token": token}
    finally:
        running.stop()


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
