"""API latency under load: the main list endpoints over a warehouse of many clients.

`ONLY=api make bench`. Fills the embedded SQLite warehouse (and PostgreSQL, when a server
answers: `scripts/postgres.sh up`) with BENCH_API_CLIENTS golden clients (default 1M), each
with a current assignment, then serves the API from a separate uvicorn process
(TERRITORY_API__WORKERS, default 2) and drives it with `wrk` (50 connections, loopback;
Debian's package, installed when missing). Latency percentiles come from wrk's own
histogram. The filled warehouses are kept under var/bench/ and reused by the next run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_engine, func, select, text
from sqlalchemy.engine import make_url

from territory.api.security import Role, issue_dev_token
from territory.api.settings import ApiSettings
from territory.shared.warehouse import schema as wh
from territory.shared.warehouse.engine import create_all, create_warehouse_engine, normalize_url

ROOT = Path(__file__).resolve().parent.parent
N = int(os.environ.get("BENCH_API_CLIENTS", "1000000"))
CONNECTIONS = int(os.environ.get("BENCH_API_CONNECTIONS", "50"))
DURATION = int(os.environ.get("BENCH_API_SECONDS", "8"))
WORKERS = int(os.environ.get("BENCH_API_WORKERS", "2"))
REGIONS = ("NA", "EMEA", "APAC", "LATAM")
SEGMENTS = ("Pension", "Endowment", "Foundation", "Insurance", "Bank", "Asset Manager")
TIERS = ("t1", "t2", "t3")
TERRITORIES_PER_REGION = 10
ADVISORS_PER_TERRITORY = 10
NOW = datetime(2026, 11, 1, tzinfo=UTC)
BATCH = 50_000


# --- data -------------------------------------------------------------------------------


def territories() -> list[tuple[str, str]]:
    return [(f"{r.lower()}-{i:02d}", r) for r in REGIONS for i in range(TERRITORIES_PER_REGION)]


def advisor_of(territory_id: str, k: int) -> str:
    return f"adv{k:02d}.{territory_id}@bank.example"


def client_rows() -> Iterator[dict[str, Any]]:
    rnd = random.Random(42)
    terr = territories()
    for i in range(N):
        territory_id, region = terr[i % len(terr)]
        cid = f"c{i:07d}"
        parent = f"c{i - len(terr) * 3:07d}" if i % 5 == 4 and i >= len(terr) * 3 else None
        yield {
            "client_id": cid,
            "name": f"{rnd.choice(('Northern', 'Pacific', 'Atlas', 'Granite', 'Civic'))} "
            f"{SEGMENTS[i % len(SEGMENTS)]} Fund {i}",
            "segment": SEGMENTS[i % len(SEGMENTS)],
            "region": region,
            "country": {"NA": "US", "EMEA": "GB", "APAC": "SG", "LATAM": "BR"}[region],
            "state": None,
            "city": "City",
            "postal_code": f"{i % 99999:05d}",
            "address": None,
            "aum_usd": rnd.randrange(1, 10**6) * 1000,
            "annual_revenue_usd": rnd.randrange(1, 10**5) * 100,
            "employee_count": rnd.randrange(1, 10**4),
            "industry": None,
            "website": None,
            "lei": None,
            "tax_id": f"TAX{i:09d}",
            "advisor_email_hint": None,
            "updated_at": NOW - timedelta(minutes=i % 10_000),
            "parent_client_id": parent,
            "decision": "new",
            "version": 1,
            "retired": False,
            "merged_into_client_id": None,
            "territory_id": territory_id,
            "advisor_email": advisor_of(territory_id, i % ADVISORS_PER_TERRITORY),
            "tier": TIERS[i % len(TIERS)],
            "last_event_id": f"00000000-0000-4000-8000-{i:012d}",
            "occurred_at": NOW,
            "loaded_at": NOW,
        }


def fact_rows() -> Iterator[dict[str, Any]]:
    for row in client_rows():
        i = int(row["client_id"][1:])
        yield {
            "event_id": f"00000000-0000-4000-9000-{i:012d}",
            "client_id": row["client_id"],
            "territory_id": row["territory_id"],
            "advisor_email": row["advisor_email"],
            "tier": row["tier"],
            "previous_territory_id": None,
            "previous_advisor_email": None,
            "ruleset_version": "2026.11.1",
            "rule_id": f"region-{row['region'].lower()}",
            "decision_level": "region",
            "reason": f"region {row['region']}",
            "trace": {"ruleset_version": "2026.11.1", "level": "region", "matched_conditions": []},
            "changed_by": "rules-engine",
            "effective_from": NOW - timedelta(minutes=i % 50_000),
            "effective_to": None,
            "is_current": True,
            "correlation_id": None,
            "loaded_at": NOW,
        }


def small_tables() -> dict[Table, list[dict[str, Any]]]:
    terr = territories()
    return {
        wh.territory_dim: [
            {
                "territory_id": tid,
                "name": f"Territory {tid}",
                "region": region,
                "segment": None,
                "tier": None,
                "advisor_emails": [advisor_of(tid, k) for k in range(ADVISORS_PER_TERRITORY)],
                "ruleset_version": "2026.11.1",
                "active": True,
                "loaded_at": NOW,
            }
            for tid, region in terr
        ],
        wh.territory_advisor: [
            {"territory_id": tid, "advisor_email": advisor_of(tid, k)}
            for tid, _ in terr
            for k in range(ADVISORS_PER_TERRITORY)
        ],
        wh.advisor_dim: [
            {
                "advisor_email": advisor_of(tid, k),
                "name": f"Advisor {k} of {tid}",
                "capacity": {"t1": 800, "t2": 800, "t3": 1000},
                "total_capacity": 2600,
                "ruleset_version": "2026.11.1",
                "active": True,
                "loaded_at": NOW,
            }
            for tid, _ in terr
            for k in range(ADVISORS_PER_TERRITORY)
        ],
        wh.conflicts: [
            {
                "conflict_id": f"multi_territory:c{i:07d}",
                "kind": "multi_territory",
                "severity": "warning",
                "action": "flag",
                "client_id": f"c{i:07d}",
                "territory_ids": [terr[i % len(terr)][0]],
                "advisor_email": None,
                "ruleset_version": "2026.11.1",
                "detail": "two territories match",
                "resolved": False,
                "first_seen_at": NOW,
                "last_seen_at": NOW - timedelta(seconds=i),
                "last_event_id": f"00000000-0000-4000-a000-{i:012d}",
                "loaded_at": NOW,
            }
            for i in range(0, N, 100)
        ],
    }


def batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def fill_sqlite(path: Path) -> float:
    """Through SQLAlchemy Core (the shared schema), in batches; returns seconds."""
    started = time.perf_counter()
    tmp = path.with_suffix(".partial")
    tmp.unlink(missing_ok=True)
    engine = create_warehouse_engine(f"sqlite:///{tmp}")
    create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA synchronous=OFF")
        for table, rows in small_tables().items():
            conn.execute(table.insert(), rows)
        for table, source in ((wh.client_dim, client_rows()), (wh.assignments_fact, fact_rows())):
            for batch in batches(source):
                conn.execute(table.insert(), batch)
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    tmp.rename(path)
    return time.perf_counter() - started


def fill_postgres(url: str) -> float:
    """COPY through psycopg (the fast path PostgreSQL offers); returns seconds."""
    started = time.perf_counter()
    engine = create_warehouse_engine(url)
    create_all(engine)
    with engine.begin() as conn:
        for table, rows in small_tables().items():
            conn.execute(table.insert(), rows)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for table, source in ((wh.client_dim, client_rows()), (wh.assignments_fact, fact_rows())):
            columns = [c.name for c in table.columns]
            json_columns = {
                c.name for c in table.columns if "JSON" in type(c.type).__name__.upper()
            }
            with cursor.copy(f"COPY core.{table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in source:
                    copy.write_row(
                        [json.dumps(row[c]) if c in json_columns else row[c] for c in columns]
                    )
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return time.perf_counter() - started


def ensure_indexes(url: str) -> None:
    """A warehouse filled by an earlier run gets indexes the model gained since."""
    engine = create_warehouse_engine(url)
    with engine.begin() as conn:
        for table in (wh.client_dim, wh.assignments_fact):
            for index in table.indexes:
                index.create(conn, checkfirst=True)
        conn.exec_driver_sql("ANALYZE")  # planner statistics for the new indexes too
    engine.dispose()


def ready_sqlite() -> tuple[str, str]:
    folder = ROOT / "var" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"api-warehouse-{N}.db"
    note = "reused"
    if not path.exists():
        note = f"filled in {fill_sqlite(path):.0f} s"
    ensure_indexes(f"sqlite:///{path}")
    return f"sqlite:///{path}", note


def postgres_server() -> str | None:
    url = os.environ.get(
        "TERRITORY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:55432/territory"
    )
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 1):
            return url
    except OSError:
        return None


def ready_postgres(server: str) -> tuple[str, str]:
    name = f"bench_api_{N}"
    admin = create_engine(normalize_url(server), isolation_level="AUTOCOMMIT")
    url = make_url(normalize_url(server)).set(database=name).render_as_string(hide_password=False)
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists:
            engine = create_warehouse_engine(url)
            try:
                with engine.connect() as conn:
                    count = conn.scalar(select(func.count()).select_from(wh.assignments_fact))
            except Exception:
                count = None
            engine.dispose()
            if count == N:
                ensure_indexes(url)
                return url, "reused"
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url, f"filled in {fill_postgres(url):.0f} s"


# --- load -------------------------------------------------------------------------------

WRK_SCRIPT = """
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"p50":%d,"p95":%d,"p99":%d,"requests":%d,"duration_us":%d,"non_2xx":%d,"errors":%d}\\n',
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench_api needs wrk: apt-get install wrk")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, warehouse_url: str) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "TERRITORY_ENVIRONMENT": "development",
            "TERRITORY_WAREHOUSE_URL": warehouse_url,
            "TERRITORY_API__PORT": str(self.port),
            "TERRITORY_API__WORKERS": str(WORKERS),
            "TERRITORY_API__RATE_LIMIT_PER_SECOND": "1000000000",
            "TERRITORY_API__RATE_LIMIT_BURST": "1000000000",
            "TERRITORY_LOG_LEVEL": "WARNING",
        }
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "territory.api"], env=env, stdout=self.log, stderr=self.log
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                self.log.seek(0)
                raise SystemExit(f"the API did not start: {self.log.read()[-2000:]!r}")
            time.sleep(0.3)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def run_wrk(url: str, token: str, seconds: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(WRK_SCRIPT)
        script = fh.name
    try:
        out = subprocess.run(
            [
                wrk(),
                "-t1",
                f"-c{CONNECTIONS}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                script,
                url,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "BENCH_TOKEN": token},
            timeout=seconds + 60,
            check=True,
        ).stdout
    finally:
        os.unlink(script)
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    data = json.loads(line.removeprefix("RESULT "))
    return {
        "p50": data["p50"] / 1000,
        "p95": data["p95"] / 1000,
        "p99": data["p99"] / 1000,
        "rps": data["requests"] / (data["duration_us"] / 1e6),
        "bad": data["non_2xx"] + data["errors"],
    }


def endpoints() -> list[tuple[str, str, Role]]:
    mid = f"c{N // 2:07d}"
    return [
        ("clients, first page (50)", "/api/clients", Role.ADMIN),
        (
            "clients, region + segment, by AUM",
            "/api/clients?region=EMEA&segment=Pension&sort=-aum_usd",
            Role.ADMIN,
        ),
        ("clients, SALES_LEADERSHIP (EMEA)", "/api/clients", Role.SALES_LEADERSHIP),
        ("clients, page 200 (offset 10,000)", "/api/clients?offset=10000", Role.ADMIN),
        ("client detail", f"/api/clients/{mid}", Role.CRM_ANALYST),
        ("hierarchy roots", "/api/clients/hierarchy", Role.ADMIN),
        ("assignments (current)", "/api/assignments", Role.ADMIN),
        ("territories", "/api/territories", Role.ADMIN),
        ("advisors", "/api/advisors", Role.ADMIN),
        ("conflicts", "/api/conflicts", Role.ADMIN),
        ("summary (home page)", "/api/summary", Role.ADMIN),
    ]


def measure(warehouse_url: str) -> list[tuple[str, dict[str, float]]]:
    auth = ApiSettings(environment="development").auth
    server = Server(warehouse_url)
    results = []
    try:
        for label, path, role in endpoints():
            token = issue_dev_token(auth, subject="bench", roles=[role], regions=["EMEA"])
            run_wrk(server.url + path, token, 2)  # warm-up (caches, connections)
            results.append((label, run_wrk(server.url + path, token, DURATION)))
            print(f"bench api: {label}: {results[-1][1]}", file=sys.stderr, flush=True)
    finally:
        server.stop()
    return results


def table(title: str, note: str, results: list[tuple[str, dict[str, float]]]) -> str:
    lines = [
        f"**{title}** ({note})",
        "",
        "| endpoint | p50 ms | p95 ms | p99 ms | requests/s | non-2xx |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, r in results:
        if r["rps"] == 0:
            lines.append(f"| {label} | no request completed within {DURATION} s | | | 0 | |")
            continue
        mark = "" if r["p95"] <= 50 else " ✗"
        lines.append(
            f"| {label} | {r['p50']:.1f} | {r['p95']:.1f}{mark} | {r['p99']:.1f} | "
            f"{r['rps']:,.0f} | {int(r['bad'])} |"
        )
    return "\n".join(lines)


def main() -> str:
    sections = [
        "## API",
        "",
        f"{N:,} golden clients, each with a current assignment, {N // 100:,} conflicts, "
        f"{len(territories())} territories and {len(territories()) * ADVISORS_PER_TERRITORY} "
        f"advisors. The API runs as a separate uvicorn process ({WORKERS} workers); `wrk` "
        f"drives one URL at a time with {CONNECTIONS} connections over loopback for "
        f"{DURATION} s after a 2 s warm-up, on the same 2 cores. Target: p95 ≤ 50 ms (✗: "
        "missed). List totals and aggregates come from a 30 s cache (`TERRITORY_API__COUNT_CACHE_SECONDS`); "
        "the rows are read on every request.",
        "",
        "A row without figures: no request finished inside the window, because the first computation of a cold aggregate or total (a scan of a million rows, done once and then cached) took longer than the run. non-2xx are 503s (warehouse connection pool or server limits under 2 × 32 connections).",
        "",
    ]
    url, note = ready_sqlite()
    sections += [table("Embedded SQLite (WAL)", note, measure(url)), ""]
    server = postgres_server()
    if server is None:
        sections.append("PostgreSQL: no server answered (`scripts/postgres.sh up`), not measured.")
    else:
        pg_url, pg_note = ready_postgres(server)
        sections += [table("PostgreSQL 15", pg_note, measure(pg_url)), ""]
    return "\n".join(sections)


if __name__ == "__main__":
    print(main())
