"""Field-level quarantine end to end (issue 12), as separate processes over the real broker:
records whose only problems are optional values (a bad LEI, a bad tax id, an unknown
segment, a bad e-mail, a negative AUM, an unknown country) are accepted with the right
field issues, deduplicated, assigned a territory, and their issues land in the warehouse
(one row each, with the golden client) and in the API; only the unusable row is refused."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from harness.stack import Stack, StackError
from sqlalchemy import func, select

from territory.shared.warehouse import schema
from territory.shared.warehouse.engine import create_warehouse_engine

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

DIRTY_CSV = (
    "source_system,source_id,name,country,region,segment,lei,tax_id,advisor_email,aum_usd\n"
    "crm,q1,Quarry Pension Plan,CA,,Pension,5493001KJTIIGC8Y1R19,,,\n"
    "crm,q2,Quill Privatbank AG,DE,,Bank,,DE123,,\n"
    "crm,q3,Quasar Leisure Holdings,US,,Casino,,,,\n"
    "crm,q4,Quintet Charitable Trust,GB,,Foundation,,,not-an-email,\n"
    "crm,q5,Quokka University Endowment,JP,,Endowment,,,,-100\n"
    "crm,q6,Quorum Mutual Insurance,Atlantis,NA,Insurance,,,,\n"
    "crm,q7,,US,,,,,,\n"
)
EXPECTED_ISSUES = {
    "crm:q1": ("lei", "invalid_lei", "5493001KJTIIGC8Y1R19"),
    "crm:q2": ("tax_id", "invalid_tax_id", "DE123"),
    "crm:q3": ("segment", "unknown_segment", "Casino"),
    "crm:q4": ("advisor_email", "invalid_email", "not-an-email"),
    "crm:q5": ("aum_usd", "greater_than_equal", "-100"),
    "crm:q6": ("country", "invalid_country", "Atlantis"),
}


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory) -> Iterator[Stack]:
    running = Stack(
        tmp_path_factory.mktemp("e2e-quarantine"),
        bootstrap=kafka_bootstrap,
        prefix=f"e2e-q-{uuid.uuid4().hex[:8]}.",
    )
    running.prepare()
    try:
        try:
            running.start(timeout=120)
        except StackError as exc:
            pytest.fail(str(exc))
        yield running
    finally:
        running.stop()


def wait_for(check, *, timeout: float = 120.0, what: str) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what} (last: {last!r})")


def test_bad_optional_values_are_quarantined_and_every_client_is_placed(stack):
    report = stack.upload_csv(DIRTY_CSV.encode(), filename="dirty.csv")
    assert (report["accepted"], report["rejected"], report["quarantined"]) == (6, 1, 6)
    assert report["rejected_by_reason"] == {"missing_required_field": 1}
    assert report["quarantined_by_field"] == {
        "advisor_email": 1,
        "aum_usd": 1,
        "country": 1,
        "lei": 1,
        "segment": 1,
        "tax_id": 1,
    }

    engine = create_warehouse_engine(stack.env["TERRITORY_WAREHOUSE_URL"])
    cd, af, fi = schema.client_dim, schema.assignments_fact, schema.client_field_issues

    def placed() -> list[tuple[str, str | None, str | None]]:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    select(cd.c.client_id, cd.c.territory_id, cd.c.segment).where(
                        cd.c.retired.is_(False)
                    )
                ).tuples()
            )

    def linked_issues() -> list[tuple[str | None, str, str, str, str | None]]:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    select(fi.c.client_id, fi.c.source_key, fi.c.field, fi.c.code, fi.c.raw)
                ).tuples()
            )

    try:
        clients = wait_for(
            lambda: (rows := placed()) and len(rows) == 6 and all(r[1] for r in rows) and rows,
            what="six golden clients, each with a territory",
        )
    except pytest.fail.Exception:
        with engine.connect() as conn:
            dump = conn.execute(
                select(cd.c.client_id, cd.c.name, cd.c.region, cd.c.segment, cd.c.territory_id)
            ).all()
            facts = conn.execute(select(af.c.client_id, af.c.territory_id, af.c.reason)).all()
        pytest.fail(f"clients: {dump}; assignments: {facts}")
    issues = wait_for(
        lambda: (rows := linked_issues()) and all(r[0] for r in rows) and rows,
        what="field issues linked to their golden clients",
    )
    with engine.connect() as conn:
        current = conn.execute(
            select(func.count()).select_from(af).where(af.c.is_current.is_(True))
        ).scalar_one()
        rejected = conn.execute(
            select(func.count()).select_from(schema.rejected_records)
        ).scalar_one()
    assert len(clients) == 6
    assert current == 6
    assert rejected == 1
    assert {(key, field, code, raw) for _, key, field, code, raw in issues} == {
        (key, *issue) for key, issue in EXPECTED_ISSUES.items()
    }
    assert len(issues) == 6
    assert "Other" in {segment for *_, segment in clients}  # the unknown segment, mapped

    admin = stack.token("TERRITORY_ADMIN")
    summary = stack.api_get("data-quality", admin).json()
    assert summary["issues"] == 6
    assert summary["clients_with_issues"] == 6
    assert summary["by_field"] == report["quarantined_by_field"]
    leader = stack.token("SALES_LEADERSHIP", "EMEA")
    emea = stack.api_get("data-quality/issues", leader).json()
    # EMEA: the DE bank (tax id masked for leadership) and the GB trust (e-mail masked).
    assert sorted((i["field"], i["raw"]) for i in emea["items"]) == [
        ("advisor_email", None),
        ("tax_id", None),
    ]
    client_id = next(cid for cid, key, *_ in issues if key == "crm:q1")
    detail = stack.api_get(f"clients/{client_id}", admin).json()
    assert [(i["field"], i["raw"]) for i in detail["field_issues"]] == [
        ("lei", "5493001KJTIIGC8Y1R19")
    ]
    assert detail["golden"]["lei"] is None
    assert detail["current_assignment"]["territory_id"]
