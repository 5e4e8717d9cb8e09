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


def sample_csv(rows: int) -> tuple[bytes, int, int, int, set[str]]:
    """The first `rows` sample records; how many the generator made usable and unusable
    (its truth file's `dirt` column, checked against the contract), how many carry a
    quarantined value, and the source keys of the usable ones."""
    sample = ROOT / "data" / "sample"
    with (sample / "clients.csv").open(encoding="utf-8") as fh:
        records = [r for _, r in zip(range(rows), csv.DictReader(fh), strict=False)]
    with (sample / "truth.csv").open(encoding="utf-8") as fh:
        truth = [t for _, t in zip(range(rows), csv.DictReader(fh), strict=False)]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]))
    writer.writeheader()
    writer.writerows(records)
    from territory.shared.events import ClientRecord

    unusable = sum(t["dirt"].startswith("unusable") for t in truth)
    valid = quarantined = 0
    keys: set[str] = set()
    for r in records:
        try:
            record = ClientRecord.model_validate(r)
        except ValueError:
            continue
        valid += 1
        quarantined += bool(record.field_issues)
        keys.add(record.source_key)
    assert valid + unusable == len(records), "the contract refuses exactly the unusable rows"
    return out.getvalue().encode(), valid, unusable, quarantined, keys


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
    body, valid, invalid, quarantined, keys = sample_csv(SAMPLE_ROWS)
    assert invalid > 0, "the sample should exercise the dead-letter path"
    assert quarantined > 0, "the sample should exercise the field-level quarantine"
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
    # Dead letters are exactly the unusable rows the generator made (no more, no fewer).
    wait_for(
        lambda: count(select(func.count()).select_from(schema.rejected_records)) >= invalid,
        what="rejected records",
    )
    # Duplicates collapse: fewer golden clients than valid records, every accepted source
    # record in the lineage of a live golden client, and every golden client with exactly
    # one current assignment.
    dim, lineage, fact = schema.client_dim, schema.client_source_record, schema.assignments_fact
    live = select(dim.c.client_id).where(dim.c.retired.is_(False))
    wait_for(
        lambda: (
            count(
                select(func.count(func.distinct(lineage.c.source_key))).where(
                    lineage.c.client_id.in_(live)
                )
            )
            == len(keys)
        ),
        timeout=120,
        what="every accepted source record in a live golden client",
    )
    current = fact.c.is_current.is_(True)

    def assigned() -> tuple[int, int, int]:
        golden = count(select(func.count()).select_from(live.subquery()))
        clients = count(
            select(func.count(func.distinct(fact.c.client_id))).where(
                current, fact.c.client_id.in_(live)
            )
        )
        rows = count(
            select(func.count()).select_from(fact).where(current, fact.c.client_id.in_(live))
        )
        return golden, clients, rows

    wait_for(
        lambda: (lambda g, c, r: g > 0 and g == c == r)(*assigned()),
        timeout=120,
        what="one current assignment per golden client",
    )
    golden, clients, rows = assigned()
    assert 0 < golden < valid
    assert golden == clients == rows
    assert count(select(func.count()).select_from(schema.rejected_records)) == invalid

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
