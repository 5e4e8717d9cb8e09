"""Adding and removing consumer instances mid-run loses and duplicates nothing (issue 13).

The loader is the consumer that scales out (deploy/k8s: dedupe and rules hold every client
in memory and run as one replica each). A second loader joins the group while records are
in flight, takes partitions, loads events, and then the first loader leaves (SIGTERM, as
a scale-down or a rolling update does): every accepted record still ends in RAW exactly
once, and the warehouse reconciles exactly as in an undisturbed run."""

from __future__ import annotations

import time

import pytest
from harness.kafka import read_all, run_sync
from harness.reconcile import Fault, reconcile, redeliveries
from harness.sampler import load_average
from harness.sizes import STREAM_RECORDS, TIMEOUT
from harness.stack import Stack
from harness.workload import make_from_rows, make_workload, wait_progress, wait_settled

from territory.shared.warehouse.engine import create_warehouse_engine

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(900)]

LOADED = "territory_loader_events_total"


def loaded(stack: Stack, instance: str) -> float:
    return sum(v for k, v in stack[instance].metrics().items() if k.startswith(LOADED))


def test_a_loader_joining_and_one_leaving_mid_run_lose_and_duplicate_nothing(
    tmp_path, kafka_bootstrap, reports
):
    work = make_workload(STREAM_RECORDS, seed=45)
    rows = work.rows
    cut1, cut2 = len(rows) // 3, 2 * len(rows) // 3
    parts = [rows[:cut1], rows[cut1:cut2], rows[cut2:]]
    stack = Stack(tmp_path / "rebalance", bootstrap=kafka_bootstrap)
    stack.prepare()
    engine = create_warehouse_engine(stack.warehouse_url)
    try:
        stack.start(["dedupe", "rules", "loader", "ingestion"])
        started = time.monotonic()
        r = [stack.upload_csv(make_from_rows(parts[0]).csv(), "part0.csv")]
        at_join = wait_progress(engine, accepted=work.valid, at_least=0.2, timeout=TIMEOUT)
        join_started = time.monotonic()
        second = stack.add_instance("loader")
        joined = time.monotonic() - join_started
        r.append(stack.upload_csv(make_from_rows(parts[1]).csv(), "part1.csv"))
        # The newcomer took partitions and loaded part of the run before the first leaves.
        deadline = time.monotonic() + TIMEOUT
        while loaded(stack, second.instance) == 0:
            assert time.monotonic() < deadline, "the second loader never loaded an event"
            time.sleep(1)
        at_leave = wait_progress(engine, accepted=work.valid, at_least=0.5, timeout=TIMEOUT)
        by_first = loaded(stack, "loader")
        stack.stop(["loader"])  # SIGTERM: the group rebalances onto the second instance
        r.append(stack.upload_csv(make_from_rows(parts[2]).csv(), "part2.csv"))
        accepted = sum(x["accepted"] for x in r)
        rejected = sum(x["rejected"] for x in r)
        assert accepted == work.valid
        drained = wait_settled(engine, accepted=accepted, timeout=TIMEOUT)
        took = time.monotonic() - started
        topics = {
            t: run_sync(read_all(stack.bootstrap, stack.topic(t)))
            for t in ("client.received", "client.deduplicated", "assignment.changed")
        }
        report = reconcile(
            engine,
            submitted=len(work.rows),
            accepted=accepted,
            rejected_at_ingestion=rejected,
            acknowledged_source_keys=work.valid_keys,
            redeliveries=redeliveries(topics),
            faults=[
                Fault("instance_added", "loader", at_progress=at_join, recovery_seconds=joined),
                Fault(
                    "instance_removed",
                    "loader",
                    at_progress=at_leave,
                    recovery_seconds=drained,
                    notes="SIGTERM; recovery = drain time after the last upload",
                ),
            ],
            extra={
                "events loaded by the first loader before it left": int(by_first),
                "events loaded by the second loader": int(loaded(stack, second.instance)),
                "run seconds": f"{took:.0f}",
                "load": load_average(),
            },
        )
        reports.write("rebalance", report)
        assert by_first > 0
        assert report.problems() == [], report.to_markdown()
        assert report.reused_source_keys_kept_apart == len(work.reused_keys), report.to_markdown()
    finally:
        stack.stop()
        engine.dispose()
