"""kill -9 of dedupe, rules and the loader, three times each during one run, each after at
least 20% progress; then every topic replayed twice. Nothing lost, nothing duplicated, the
content unchanged (issue 13)."""

from __future__ import annotations

import time
from itertools import cycle, islice

import pytest
from harness.kafka import read_all, run_sync
from harness.reconcile import (
    Fault,
    content_checksum,
    progress,
    reconcile,
    redeliveries,
    row_counts,
    settled,
)
from harness.sampler import Sampler, load_average
from harness.sizes import RECORDS, TIMEOUT
from harness.stack import Stack
from harness.workload import make_from_rows, make_workload, wait_progress, wait_settled

from territory.shared.warehouse.engine import create_warehouse_engine

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(900)]

VICTIMS = ("dedupe", "rules", "loader")
KILLS_EACH = 3


@pytest.fixture(scope="module")
def run(kafka_bootstrap, tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("fault-kill"), bootstrap=kafka_bootstrap)
    stack.prepare()
    try:
        stack.start(["dedupe", "rules", "loader", "ingestion"])
        yield stack
    finally:
        stack.stop()


def test_kill9_each_consumer_three_times_loses_and_duplicates_nothing(run, reports):
    stack: Stack = run
    work = make_workload(RECORDS)
    # 30% of the records first, then one more slice just before each kill: every kill
    # finds work in flight (the slice just uploaded), each after >= 20% of the run is done.
    first = int(len(work.rows) * 0.3)
    slices = [work.rows[:first]]
    rest = work.rows[first:]
    step = -(-len(rest) // (len(VICTIMS) * KILLS_EACH))
    slices += [rest[i : i + step] for i in range(0, len(rest), step)]
    engine = create_warehouse_engine(stack.warehouse_url)
    sampler = Sampler(stack).start()
    started = time.monotonic()
    reports_ = [stack.upload_csv(make_from_rows(slices[0]).csv(), "part0.csv")]
    uploaded = len(slices[0])
    accepted_total = work.valid
    faults: list[Fault] = []
    for n, victim in enumerate(islice(cycle(VICTIMS), len(VICTIMS) * KILLS_EACH)):
        threshold = max(0.2, 0.9 * uploaded / len(work.rows))
        at = wait_progress(engine, accepted=accepted_total, at_least=threshold, timeout=TIMEOUT)
        if n + 1 < len(slices):
            reports_.append(
                stack.upload_csv(make_from_rows(slices[n + 1]).csv(), f"part{n + 1}.csv")
            )
            uploaded += len(slices[n + 1])
        finished = settled(engine, accepted=accepted_total)
        stack.kill9(victim)
        recovery = stack.restart(victim)
        faults.append(
            Fault(
                "kill9",
                victim,
                at_progress=at,
                recovery_seconds=recovery,
                notes="run already settled" if finished else "",
            )
        )
    accepted = sum(r["accepted"] for r in reports_)
    rejected = sum(r["rejected"] for r in reports_)
    assert accepted == work.valid
    drained = wait_settled(engine, accepted=accepted, timeout=TIMEOUT)
    took = time.monotonic() - started
    sampler.stop()
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
        faults=faults,
        extra={
            "run seconds": f"{took:.0f}",
            "drain after the last kill (s)": f"{drained:.0f}",
            "records/s end to end": f"{len(work.rows) / took:.1f}",
            "peak lag": sampler.peak_lag(),
            "load": load_average(),
        },
    )
    reports.write("kill9", report, {"processes": sampler.process_report()})
    assert report.problems() == [], report.to_markdown()
    assert report.reused_source_keys_kept_apart == len(work.reused_keys), report.to_markdown()
    assert [f.target for f in faults].count("dedupe") == KILLS_EACH
    assert all(f.at_progress is not None and f.at_progress >= 0.2 for f in faults)
    # The kills happened during the run, not after it.
    assert not any(f.notes for f in faults), faults
    assert all(stack[v].starts == KILLS_EACH + 1 for v in VICTIMS)
    engine.dispose()


def test_replaying_every_topic_twice_changes_nothing(run, reports):
    """Every consumer re-reads every topic from the beginning (a fresh consumer group),
    twice: row counts and the content checksum stay as they were."""
    stack: Stack = run
    engine = create_warehouse_engine(stack.warehouse_url)
    accepted = int(row_counts(engine)["clients"])
    assert accepted > 0, "runs after the kill test"
    assert settled(engine, accepted=accepted)
    before_counts, before_sum = row_counts(engine), content_checksum(engine)
    faults: list[Fault] = []
    for round_ in (1, 2):
        stack.stop(["loader", "rules", "dedupe"])
        for service in ("dedupe", "rules", "loader"):
            stack.regroup(service, f"{stack.prefix}{service}-replay{round_}")
        started = time.monotonic()
        stack.start(["dedupe", "rules", "loader"])
        # Done when every consumer has caught up with every topic again.
        from harness.kafka import group_lag
        from harness.sampler import CONSUMED

        def caught_up() -> bool:
            for service in ("dedupe", "rules", "loader"):
                lag = run_sync(
                    group_lag(
                        stack.bootstrap,
                        stack.groups[service],
                        [stack.topic(t) for t in CONSUMED[service]],
                    )
                )
                if sum(lag.values()):
                    return False
            return True

        deadline = time.monotonic() + TIMEOUT
        while not caught_up():
            assert time.monotonic() < deadline, f"replay {round_} did not catch up"
            time.sleep(1)
        time.sleep(3)  # anything a replay emitted is loaded too
        while not caught_up():
            assert time.monotonic() < deadline, f"replay {round_} did not catch up"
            time.sleep(1)
        faults.append(Fault("replay", "all topics", recovery_seconds=time.monotonic() - started))
        assert row_counts(engine) == before_counts, f"replay {round_}"
        assert content_checksum(engine) == before_sum, f"replay {round_}"
    report = reconcile(
        engine,
        submitted=accepted,
        accepted=accepted,
        rejected_at_ingestion=0,
        faults=faults,
        extra={
            "checksum before and after": before_sum[:16],
            "progress": progress(engine, accepted=accepted),
        },
    )
    reports.write("replay", report)
    assert [p for p in report.problems() if "ingestion rejections" not in p] == []
    engine.dispose()
