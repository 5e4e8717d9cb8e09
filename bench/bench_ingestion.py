"""Ingestion benchmark: CSV file → validated `client.received` events on the real broker.

Measures records/s and peak resident memory of the real entry points (the CLI and the
HTTP upload, each in its own process) for 100k and 1M rows, and beside them, in the same
run and on the same data:
- naive: validate each row and `send_and_wait` it (one round trip per record);
- transport ceiling: a raw aiokafka producer sending the CSV lines unvalidated, pipelined
  (what the broker and client library can do at most on this machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil
from aiokafka import AIOKafkaProducer

from territory.shared.broker import ensure_topics
from territory.shared.events import ClientReceived, ClientRecord
from territory.shared.settings import KafkaSettings

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
SERVERS = os.environ.get("TERRITORY_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9092")
SIZES = [int(s) for s in os.environ.get("BENCH_INGESTION_SIZES", "100000,1000000").split(",")]
NAIVE_ROWS = 20_000


def _valid(row: dict[str, str]) -> bool:
    try:
        ClientRecord.model_validate(row)
    except ValueError:
        return False
    return True


def write_csv(path: Path, rows: int) -> None:
    """Realistic rows: the sample data's records cycled with unique source ids."""
    with (ROOT / "data" / "sample" / "clients.csv").open(encoding="utf-8") as fh:
        sample = [r for r in csv.DictReader(fh) if _valid(r)]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(sample[0]))
        writer.writeheader()
        for i in range(rows):
            row = dict(sample[i % len(sample)])
            row["source_id"] = f"{row['source_id']}-{i}"
            row["parent_source_id"] = ""
            writer.writerow(row)


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall time, peak RSS (bytes) and stdout of a command, RSS polled every 50 ms."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, ps.memory_info().rss)
        time.sleep(0.05)
    out = proc.stdout.read().decode() if proc.stdout else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed with {proc.returncode}")
    return time.perf_counter() - started, peak, out


def env_for(prefix: str, tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TERRITORY_KAFKA__BOOTSTRAP_SERVERS": SERVERS,
        "TERRITORY_KAFKA__TOPIC_PREFIX": prefix,
        "TERRITORY_ARCHIVE__LOCAL_DIR": str(tmp / "archive"),
        "TERRITORY_LOG_LEVEL": "WARNING",
    }


def run_cli(path: Path, tmp: Path) -> tuple[float, int, dict[str, object]]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    asyncio.run(ensure_topics(KafkaSettings(bootstrap_servers=SERVERS, topic_prefix=prefix)))
    took, peak, out = measure(
        [str(BIN / "territory"), "ingest", "file", str(path), "--json"], env_for(prefix, tmp)
    )
    return took, peak, json.loads(out[out.index("{") :])


def run_http(path: Path, tmp: Path) -> tuple[float, int, dict[str, object]]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    port = "8091"
    env = {**env_for(prefix, tmp), "TERRITORY_INGESTION__PORT": port, "TERRITORY_LOG_JSON": "true"}
    server = subprocess.Popen(
        [str(BIN / "python"), "-m", "territory.ingestion"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(120):
            ok = (
                subprocess.run(
                    ["curl", "-fs", f"http://127.0.0.1:{port}/readyz"], capture_output=True
                ).returncode
                == 0
            )
            if ok:
                break
            time.sleep(0.5)
        ps = psutil.Process(server.pid)
        base = ps.memory_info().rss
        peak = [base]
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                try:
                    peak[0] = max(peak[0], ps.memory_info().rss)
                except psutil.Error:
                    return
                time.sleep(0.05)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        started = time.perf_counter()
        result = subprocess.run(
            [
                "curl",
                "-fsS",
                "-X",
                "POST",
                "--data-binary",
                f"@{path}",
                "-H",
                "content-type: text/csv",
                f"http://127.0.0.1:{port}/v1/uploads?filename=bench.csv",
            ],
            capture_output=True,
            check=True,
        )
        took = time.perf_counter() - started
        done.set()
        poller.join()
        return took, peak[0], json.loads(result.stdout)
    finally:
        server.terminate()
        server.wait(timeout=30)


async def naive(path: Path, rows: int) -> float:
    """Validate and send_and_wait each record: one broker round trip per record."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    settings = KafkaSettings(bootstrap_servers=SERVERS, topic_prefix=prefix)
    await ensure_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=SERVERS, enable_idempotence=True)
    await producer.start()
    try:
        started = time.perf_counter()
        with path.open(encoding="utf-8") as fh:
            for i, row in enumerate(csv.DictReader(fh)):
                if i == rows:
                    break
                event = ClientReceived(producer="bench", payload=ClientRecord.model_validate(row))
                await producer.send_and_wait(
                    settings.topics.client_received,
                    event.model_dump_json().encode(),
                    key=event.key(),
                )
        return rows / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def ceiling(path: Path, rows: int) -> float:
    """Raw lines, no validation, pipelined sends: the transport's ceiling here."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    settings = KafkaSettings(bootstrap_servers=SERVERS, topic_prefix=prefix)
    await ensure_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=SERVERS, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        started = time.perf_counter()
        pending = []
        with path.open("rb") as fh:
            next(fh)
            for i, line in enumerate(fh):
                if i == rows:
                    break
                pending.append(
                    await producer.send(settings.topics.client_received, line, key=line[:24])
                )
                if len(pending) >= 2000:
                    await asyncio.gather(*pending)
                    pending = []
        await asyncio.gather(*pending)
        return rows / (time.perf_counter() - started)
    finally:
        await producer.stop()


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def main() -> str:
    lines = [
        "## Ingestion: CSV → `client.received`",
        "",
        "Every record validated against the contract and acknowledged by the real Kafka "
        "broker (idempotent producer, acks=all) before the run counts as done. "
        "Peak memory is the resident size of the process doing the work.",
        "",
        "| path | rows | file | seconds | records/s | peak memory |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for rows in SIZES:
            path = tmp / f"clients-{rows}.csv"
            write_csv(path, rows)
            size = path.stat().st_size
            for label, runner in (
                ("CLI `territory ingest file`", run_cli),
                ("HTTP `POST /v1/uploads`", run_http),
            ):
                took, peak, report = runner(path, tmp)
                assert report["accepted"] == rows, report
                rate = rows / took
                rates[f"{label}@{rows}"] = rate
                lines.append(
                    f"| {label} | {rows:,} | {mib(size)} | {took:,.1f} | {rate:,.0f} | {mib(peak)} |"
                )
                print(lines[-1], file=sys.stderr, flush=True)
        small = tmp / f"clients-{SIZES[0]}.csv"
        naive_rate = asyncio.run(naive(small, NAIVE_ROWS))
        ceiling_rate = asyncio.run(ceiling(small, SIZES[0]))
    best = max(rates.values())
    lines += [
        "",
        "Beside it, in the same run:",
        "",
        "| peer | records/s | ingestion (best) is |",
        "|---|---:|---:|",
        f"| naive: validate + `send_and_wait` per record ({NAIVE_ROWS:,} rows) | {naive_rate:,.0f} | {best / naive_rate:,.1f}× faster |",
        f"| transport ceiling: raw lines, no validation, pipelined aiokafka ({SIZES[0]:,} rows) | {ceiling_rate:,.0f} | {best / ceiling_rate:.0%} of it |",
        "",
        "Target: ≥ 20,000 records/s and memory flat in file size (compare the peak memory "
        "of the two sizes).",
    ]
    return "\n".join(lines)
