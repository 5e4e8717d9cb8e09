"""Loader throughput: micro-batched, idempotent writes into the embedded default (SQLite,
WAL) and PostgreSQL, beside naive row-by-row inserts (one INSERT and one commit per row)
measured in the same run.

The events are a pipeline mix (60% client.received → RAW + STAGE rows, 20%
client.deduplicated → CLIENT_DIM + lineage rows, 20% assignment.changed → SCD2 fact rows
with the history recomputed), decoded from JSON bytes by the loader's own decoder, then
written by the loader's writer in batches of 5,000 events, exactly as the service does.
Rows/s counts warehouse rows written; events/s includes decoding.

Environment: BENCH_LOADER_EVENTS (default 1,000,000), BENCH_LOADER_NAIVE_ROWS (5,000),
TERRITORY_TEST_POSTGRES_URL (scripts/postgres.sh's server by default).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import psutil
from aiokafka import ConsumerRecord
from sqlalchemy import Engine, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from territory.loader.decode import decode
from territory.loader.rows import raw_client_row
from territory.loader.writer import WarehouseWriter
from territory.shared.events import (
    Assignment,
    AssignmentChanged,
    ClientDeduplicated,
    ClientReceived,
    ClientRecord,
    DecisionLevel,
    DecisionTrace,
    DedupeDecision,
    Event,
    GoldenClient,
    SourceRecordRef,
)
from territory.shared.topics import Topics
from territory.shared.warehouse import schema as s
from territory.shared.warehouse.engine import create_warehouse_engine, normalize_url
from territory.shared.warehouse.migrate import migrate

BATCH = 5_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
TOPICS = Topics()


def _events(start: int, count: int) -> list[Event[Any]]:
    out: list[Event[Any]] = []
    for n in range(start, start + count):
        kind = n % 5
        i = n // 5
        when = T0 + timedelta(seconds=n)
        record = ClientRecord(
            source_system="salesforce",
            source_id=f"{i:08d}-{kind}",
            name=f"Client {i} Pension Fund",
            country=("US", "GB", "JP", "BR")[i % 4],
            segment="Pension",
            aum_usd=1_000_000 + i,
            city="Springfield",
        )
        if kind in (0, 1, 2):
            out.append(ClientReceived(producer="bench", occurred_at=when, payload=record))
        elif kind == 3:
            ref = SourceRecordRef(source_system="salesforce", source_id=record.source_id)
            out.append(
                ClientDeduplicated(
                    producer="bench",
                    occurred_at=when,
                    payload=GoldenClient(
                        client_id=f"c{i}",
                        decision=DedupeDecision.NEW,
                        trigger=ref,
                        record=record,
                        parent_client_id=f"c{i - i % 10}" if i % 10 else None,
                        source_records=[ref],
                    ),
                )
            )
        else:
            out.append(
                AssignmentChanged(
                    producer="bench",
                    occurred_at=when,
                    payload=Assignment(
                        client_id=f"c{i % 50_000}",
                        territory_id=f"t{i % 40}",
                        advisor_email=f"advisor{i % 200}@example.com",
                        tier="tier-1",
                        ruleset_version="v1",
                        rule_id=f"r{i % 40}",
                        reason="region rule",
                        trace=DecisionTrace(ruleset_version="v1", level=DecisionLevel.REGION),
                        changed_by="rules-engine",
                        effective_from=when,
                    ),
                )
            )
    return out


def _records(events: list[Event[Any]], offset: int) -> list[ConsumerRecord[bytes, bytes]]:
    return [
        ConsumerRecord(
            topic=TOPICS.name(e.topic),
            partition=0,
            offset=offset + k,
            timestamp=0,
            timestamp_type=0,
            key=e.key(),
            value=e.model_dump_json().encode(),
            checksum=None,
            serialized_key_size=0,
            serialized_value_size=0,
            headers=(),
        )
        for k, e in enumerate(events)
    ]


def _batches(total: int) -> Iterator[list[ConsumerRecord[bytes, bytes]]]:
    for start in range(0, total, BATCH):
        yield _records(_events(start, min(BATCH, total - start)), start)


class PeakRss:
    """Peak resident memory of this process while the block runs (sampled every 50 ms)."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> PeakRss:
        self.peak = self.proc.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Result(NamedTuple):
    events: int
    rows: int
    write_seconds: float
    decode_seconds: float
    peak_mb: float


def count_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return sum(
            int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in s.metadata.sorted_tables
            if t is not s.load_batches
        )


def batched(engine: Engine, total: int) -> Result:
    writer = WarehouseWriter(engine)
    write_s = decode_s = 0.0
    with PeakRss() as rss:
        for records in _batches(total):
            t0 = time.perf_counter()
            decoded = decode(records, TOPICS)
            t1 = time.perf_counter()
            writer.write(
                decoded.items,
                raw_json=decoded.raw_json,
                batch_id=str(uuid.uuid4()),
                started_at=datetime.now(UTC),
            )
            t2 = time.perf_counter()
            decode_s += t1 - t0
            write_s += t2 - t1
    return Result(total, count_rows(engine), write_s, decode_s, rss.peak / 2**20)


def naive(engine: Engine, rows: int) -> float:
    """One INSERT + one commit per row into RAW.CLIENTS: rows/s."""
    events = [e for e in _events(10_000_000, rows * 2) if isinstance(e, ClientReceived)][:rows]
    decoded = decode(_records(list(events), 0), TOPICS)
    now = datetime.now(UTC)
    values = [
        raw_client_row(item, raw=raw, batch_id="naive", now=now)
        for item, raw in zip(decoded.items, decoded.raw_json, strict=True)
    ]
    t0 = time.perf_counter()
    with engine.connect() as conn:
        for row in values:
            conn.execute(insert(s.raw_clients).values(**row))
            conn.commit()
    return len(values) / (time.perf_counter() - t0)


def fresh_postgres() -> tuple[str, Engine]:
    server = normalize_url(
        os.environ.get(
            "TERRITORY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:55432/territory"
        )
    )
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return name, admin


def measure(url: str, total: int, naive_rows: int) -> tuple[Result, float]:
    engine = create_warehouse_engine(url)
    migrate(engine)
    result = batched(engine, total)
    slow = naive(engine, naive_rows)
    engine.dispose()
    return result, slow


def main() -> str:
    load_before = os.getloadavg()[0]
    total = int(os.environ.get("BENCH_LOADER_EVENTS", "1000000"))
    naive_rows = int(os.environ.get("BENCH_LOADER_NAIVE_ROWS", "5000"))
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        embedded, embedded_naive = measure(f"sqlite:///{Path(tmp) / 'w.db'}", total, naive_rows)
    name, admin = fresh_postgres()
    try:
        pg_url = make_url(str(admin.url)).set(database=name).render_as_string(hide_password=False)
        pg, pg_naive = measure(pg_url, total, naive_rows)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    for label, r, slow in (
        ("embedded (SQLite, WAL)", embedded, embedded_naive),
        ("PostgreSQL 15", pg, pg_naive),
    ):
        rows_s = r.rows / r.write_seconds
        rows.append(
            f"| {label} | {r.events:,} | {r.rows:,} | {rows_s:,.0f} | "
            f"{r.events / (r.write_seconds + r.decode_seconds):,.0f} | {slow:,.0f} | "
            f"{rows_s / slow:,.0f}× | {r.peak_mb:,.0f} MB |"
        )
    load_after, cores = os.getloadavg()[0], os.cpu_count() or 1
    return "\n".join(
        [
            "## Loader: events into the warehouse",
            "",
            f"{total:,} events (60% client.received, 20% client.deduplicated, 20% "
            "assignment.changed), decoded by the loader's decoder and written by its writer in "
            f"micro-batches of {BATCH:,} events, one transaction each, with every idempotency "
            "check and the SCD2 recomputation. The naive baseline inserts "
            f"{naive_rows:,} RAW rows one INSERT and one commit at a time, in the same run. "
            "Peak memory is the process's resident set during the batched load.",
            "",
            "| warehouse | events | rows written | rows/s (write) | events/s (decode + write) "
            "| naive rows/s | batched / naive | peak RSS |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"Load average (1 min) at start / end: {load_before:.1f} / {load_after:.1f} "
            f"on {cores} cores"
            + (
                ": above the core count, other processes shared the CPU and absolute rates "
                "are lower than on an idle machine; the ratios are measured under the same "
                "conditions."
                if max(load_before, load_after) > cores
                else " (the machine was otherwise quiet)."
            ),
        ]
    )


if __name__ == "__main__":
    print(main())
