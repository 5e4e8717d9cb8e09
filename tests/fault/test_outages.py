"""Outages: the broker restarted mid-stream (a broker of the suite's own, never the shared
one) and the warehouse unreachable behind a TCP proxy (issue 13)."""

from __future__ import annotations

import time
from itertools import pairwise

import pytest
from harness.kafka import Broker, committed_offsets, kcat_count, read_all, run_sync
from harness.proxy import ThreadedTcpProxy
from harness.reconcile import Fault, reconcile, redeliveries
from harness.sampler import Sampler, load_average
from harness.sizes import BROKER_DOWN_SECONDS, OUTAGE_SECONDS, STREAM_RECORDS, TIMEOUT
from harness.stack import Stack, free_port
from harness.workload import make_workload, wait_progress, wait_settled, wait_until
from sqlalchemy.engine import make_url

from territory.loader.settings import LoaderOptions
from territory.shared.warehouse.engine import create_warehouse_engine

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(900)]

CONSUMERS = ["dedupe", "rules", "loader", "ingestion"]
RETRIES = "territory_loader_outage_retries_total"
# The loader's own backoff cap, as the stack runs it (its default).
MAX_BACKOFF = LoaderOptions.model_fields["retry_max_seconds"].default


def test_broker_restart_mid_stream_loses_no_acknowledged_record(tmp_path, reports):
    broker = Broker(tmp_path / "kafka", free_port(), free_port())
    broker.up()
    stack = Stack(tmp_path / "stack", bootstrap=broker.bootstrap)
    try:
        stack.prepare()
        stack.start(CONSUMERS)
        work = make_workload(STREAM_RECORDS, seed=21)
        first, second = work.split(2)
        engine = create_warehouse_engine(stack.warehouse_url)
        sampler = Sampler(stack, extra_pids=lambda: {"broker": broker.pid()}).start()
        r1 = stack.upload_csv(first.csv(), "before.csv")
        at = wait_progress(engine, accepted=r1["accepted"], at_least=0.25, timeout=TIMEOUT)
        broker.down()
        time.sleep(BROKER_DOWN_SECONDS)
        broker.up()
        back = time.monotonic()
        # Every service heals by itself: ready again without being restarted.
        wait_until(
            lambda: all(stack[s].ready() for s in CONSUMERS),
            timeout=TIMEOUT,
            what="services ready after the broker restart",
        )
        healed = time.monotonic() - back
        assert all(stack[s].starts == 1 for s in CONSUMERS), "no service was restarted"
        r2 = stack.upload_csv(second.csv(), "after.csv")
        accepted = r1["accepted"] + r2["accepted"]
        drained = wait_settled(engine, accepted=accepted, timeout=TIMEOUT)
        sampler.stop()
        on_topic = kcat_count(broker.bootstrap, stack.topic("client.received"))
        topics = {
            t: run_sync(read_all(broker.bootstrap, stack.topic(t)))
            for t in ("client.received", "client.deduplicated", "assignment.changed")
        }
        report = reconcile(
            engine,
            submitted=len(work.rows),
            accepted=accepted,
            rejected_at_ingestion=r1["rejected"] + r2["rejected"],
            acknowledged_source_keys=work.valid_keys,
            redeliveries=redeliveries(topics),
            faults=[
                Fault(
                    "broker_restart",
                    "kafka",
                    at_progress=at,
                    recovery_seconds=healed,
                    notes=f"down {BROKER_DOWN_SECONDS} s; drained {drained:.0f} s after",
                )
            ],
            extra={"client.received on the topic (kcat)": on_topic, "load": load_average()},
        )
        reports.write("broker_restart", report, {"processes": sampler.process_report()})
        assert report.acknowledged_missing == 0
        assert on_topic >= accepted
        assert report.problems() == [], report.to_markdown()
        assert report.reused_source_keys_kept_apart == len(work.reused_keys), report.to_markdown()
        engine.dispose()
    finally:
        stack.stop()
        broker.down()


def test_warehouse_outage_stops_offsets_backs_off_and_drains(
    kafka_bootstrap, postgres_url, tmp_path, reports
):
    target = make_url(postgres_url)
    proxy = ThreadedTcpProxy(target.port or 5432, target.host or "127.0.0.1")
    proxy.up()
    via = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    stack = Stack(tmp_path, bootstrap=kafka_bootstrap, warehouse_url=via)
    engine = create_warehouse_engine(postgres_url)  # direct: we look while the proxy is down
    try:
        stack.prepare()
        stack.start(CONSUMERS)
        work = make_workload(STREAM_RECORDS, seed=33)
        first, second = work.split(2)
        sampler = Sampler(stack).start()
        r1 = stack.upload_csv(first.csv(), "before.csv")
        at = wait_progress(engine, accepted=r1["accepted"], at_least=0.3, timeout=TIMEOUT)
        proxy.down()
        down_at = time.monotonic()
        time.sleep(3)  # a batch in flight fails or finishes
        group = stack.groups["loader"]
        before = run_sync(committed_offsets(stack.bootstrap, group))
        r2 = stack.upload_csv(second.csv(), "during.csv")  # ingestion needs no warehouse
        retry_times: list[float] = []
        last = stack["loader"].metrics().get(RETRIES, 0.0)
        ready_during: list[bool] = []
        while time.monotonic() - down_at < OUTAGE_SECONDS:
            value = stack["loader"].metrics().get(RETRIES, last)
            if value > last:
                retry_times.append(time.monotonic())
                last = value
            ready_during.append(stack["loader"].ready())
            time.sleep(0.5)
        after = run_sync(committed_offsets(stack.bootstrap, group))
        proxy.up()
        up_at = time.monotonic()
        accepted = r1["accepted"] + r2["accepted"]
        drained = wait_settled(engine, accepted=accepted, timeout=TIMEOUT)
        sampler.stop()
        gaps = [b - a for a, b in pairwise(retry_times)]
        report = reconcile(
            engine,
            submitted=len(work.rows),
            accepted=accepted,
            rejected_at_ingestion=r1["rejected"] + r2["rejected"],
            acknowledged_source_keys=work.valid_keys,
            faults=[
                Fault(
                    "warehouse_outage",
                    "postgresql",
                    at_progress=at,
                    recovery_seconds=drained,
                    notes=f"down {up_at - down_at:.0f} s; recovery = drain time",
                )
            ],
            extra={
                "outage retries observed": len(retry_times),
                "longest gap between retries (s)": f"{max(gaps, default=0):.1f}",
                "peak lag": sampler.peak_lag(),
                "drain after the outage (s)": f"{drained:.0f}",
                "load": load_average(),
            },
        )
        reports.write("warehouse_outage", report, {"processes": sampler.process_report()})
        assert after == before, "the loader committed offsets while the warehouse was down"
        assert retry_times, "the loader retried during the outage"
        # Capped backoff: no gap between two retries beyond the cap (plus a connect
        # timeout's slack); on a loaded machine a short outage may show a single retry.
        assert max(gaps, default=0) <= MAX_BACKOFF + 4, f"backoff not capped: {gaps}"
        assert not any(ready_during[4:]), "/readyz said ready during the outage"
        assert max(sampler.peak_lag().get("loader", 0), 0) > 0
        assert report.problems() == [], report.to_markdown()
        assert report.reused_source_keys_kept_apart == len(work.reused_keys), report.to_markdown()
    finally:
        stack.stop()
        engine.dispose()
        proxy.close()
