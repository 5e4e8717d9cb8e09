"""The dashboard's budgets: initial JavaScript, first paint of home, a 100,000-client territory.

`ONLY=frontend make bench`. Builds the bundle, then measures
- initial JavaScript: the entry script and the chunks `index.html` preloads, gzip -9
  (budget ≤ 250 KB); every other chunk loads with the page that needs it;
- first contentful paint of the home page in Debian's chromium (playwright-core), median of
  5 cold loads, against the API and pipeline loaded with the sample data exactly as
  tests/e2e/test_dashboard.py starts them (budget ≤ 1 s);
- a territory with 100,000 clients (a warehouse filled through the shared schema, the API
  as its own process): the API's keyset page at the start and 50,000 rows deep beside the
  offset page at the same depth, and the browser's time to the first and the next page
  (budget: every figure ≤ 1 s, "responsive").
A missed budget is reported as missed (✗), never hidden.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "frontend" / "dist"
CHROMIUM = os.environ.get("TERRITORY_CHROMIUM", "/usr/bin/chromium")
BIG = 100_000
BIG_TERRITORY = "emea-big"
JS_BUDGET_KB = 250
FCP_BUDGET_MS = 1000
PAGE_BUDGET_MS = 1000


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def ok(value: float | None, budget: float) -> str:
    if value is None:
        return "✗ (not measured)"
    return "✓" if value <= budget else "✗ missed"


def initial_js() -> tuple[float, float, list[str]]:
    """(gzip KB of what index.html loads before any route, gzip KB of every chunk, files)."""
    html = (DIST / "index.html").read_text()
    files = re.findall(r'<script[^>]+src="/([^"]+\.js)"', html)
    files += re.findall(r'<link[^>]+rel="modulepreload"[^>]+href="/([^"]+\.js)"', html)
    size = sum(len(gzip.compress((DIST / f).read_bytes(), 9)) for f in files)
    every = sum(len(gzip.compress(p.read_bytes(), 9)) for p in (DIST / "assets").glob("*.js"))
    return size / 1024, every / 1024, files


def perf(base: str, token: str, territory: str | None) -> dict[str, Any]:
    env = {
        **os.environ,
        "BASE_URL": base,
        "TOKEN": token,
        "CHROMIUM": CHROMIUM,
        "RUNS": "5",
        **({"TERRITORY": territory} if territory else {}),
    }
    run = subprocess.run(
        ["node", str(ROOT / "frontend" / "e2e" / "perf.mjs")],
        env=env,
        cwd=ROOT / "frontend",
        capture_output=True,
        text=True,
        timeout=600,
    )
    if run.returncode != 0:
        raise SystemExit(f"perf.mjs failed: {run.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def dev_token(base: str) -> str:
    request = urllib.request.Request(
        f"{base}/api/auth/dev-token",
        data=json.dumps({"roles": ["TERRITORY_ADMIN"]}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return str(json.load(r)["access_token"])


def timed_get(url: str, token: str, runs: int = 7) -> float:
    """Median milliseconds of a GET (after one warm-up that fills the count cache)."""
    times = []
    for i in range(runs + 1):
        request = urllib.request.Request(url, headers={"authorization": f"Bearer {token}"})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as r:
            r.read()
        if i:
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def sample_home() -> dict[str, Any]:
    """The sample data through the real pipeline (the e2e test's stack), then the browser."""
    e2e = _load(ROOT / "tests" / "e2e" / "test_dashboard.py", "dashboard_e2e")
    from territory.shared.settings import KafkaSettings

    with (
        tempfile.TemporaryDirectory() as d,
        e2e.dashboard_stack(KafkaSettings().bootstrap_servers, Path(d)) as stack,
    ):
        base = f"http://127.0.0.1:{stack['ports']['api']}"
        return {"rows": stack["report"], **perf(base, dev_token(base), None)}


def big_territory() -> dict[str, Any]:
    """100,000 clients in one territory, the API alone over that warehouse."""
    os.environ["BENCH_API_CLIENTS"] = str(BIG)
    api_bench: Any = _load(ROOT / "bench" / "bench_api.py", "bench_api_for_frontend")
    api_bench.territories = lambda: [(BIG_TERRITORY, "EMEA")]  # every client in one territory
    path = ROOT / "var" / "bench" / f"frontend-{BIG}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        api_bench.fill_sqlite(path)
    url = f"sqlite:///{path}"
    os.environ["TERRITORY_KAFKA__TOPIC_PREFIX"] = f"bench-frontend-{uuid.uuid4().hex[:8]}."
    api_bench.WORKERS = 1
    server = api_bench.Server(url)
    try:
        token = dev_token(server.url)
        from territory.api.queries.territories import encode_cursor
        from territory.shared.warehouse import schema as wh
        from territory.shared.warehouse.engine import create_warehouse_engine

        engine = create_warehouse_engine(url)
        c = wh.client_dim
        with engine.connect() as conn:
            total = conn.scalar(select(func.count()).where(c.c.territory_id == BIG_TERRITORY))
            deep = conn.execute(
                select(c.c.name, c.c.client_id)
                .where(c.c.territory_id == BIG_TERRITORY)
                .order_by(c.c.name, c.c.client_id)
                .offset(BIG // 2)
                .limit(1)
            ).one()
        engine.dispose()
        api = f"{server.url}/api/territories/{BIG_TERRITORY}/clients?limit=50&sort=name"
        figures = {
            "clients": int(total or 0),
            "keyset_first_ms": timed_get(api, token),
            "keyset_deep_ms": timed_get(
                f"{api}&cursor={encode_cursor('name', deep.name, deep.client_id)}", token
            ),
            "offset_deep_ms": timed_get(
                f"{server.url}/api/clients?territory={BIG_TERRITORY}&limit=50&sort=name&offset={BIG // 2}",
                token,
            ),
        }
        return {**figures, **perf(server.url, token, BIG_TERRITORY)}
    finally:
        server.stop()


def main() -> str:
    build = subprocess.run(
        [str(ROOT / "scripts" / "frontend.sh"), "build"], capture_output=True, text=True
    )
    if build.returncode != 0:
        raise SystemExit(f"the dashboard does not build: {build.stderr[-2000:]}")
    initial, every, files = initial_js()
    home = sample_home()
    big = big_territory()
    rows = [
        (
            "Initial JavaScript (gzip)",
            f"{initial:.0f} KB",
            f"≤ {JS_BUDGET_KB} KB",
            ok(initial, JS_BUDGET_KB),
        ),
        (
            "First contentful paint, home (sample data)",
            f"{home['fcp_ms']:.0f} ms",
            f"≤ {FCP_BUDGET_MS} ms",
            ok(home["fcp_ms"], FCP_BUDGET_MS),
        ),
        (
            "Home figures on screen (cold load)",
            f"{home['figures_ms']:.0f} ms",
            f"≤ {FCP_BUDGET_MS} ms",
            ok(home["figures_ms"], FCP_BUDGET_MS),
        ),
        (
            f"Territory of {big['clients']:,} clients: API keyset page 1",
            f"{big['keyset_first_ms']:.1f} ms",
            f"≤ {PAGE_BUDGET_MS} ms",
            ok(big["keyset_first_ms"], PAGE_BUDGET_MS),
        ),
        (
            f"… API keyset page at row {BIG // 2:,}",
            f"{big['keyset_deep_ms']:.1f} ms",
            f"≤ {PAGE_BUDGET_MS} ms",
            ok(big["keyset_deep_ms"], PAGE_BUDGET_MS),
        ),
        (
            f"… (peer: offset page at row {BIG // 2:,}, /api/clients)",
            f"{big['offset_deep_ms']:.1f} ms",
            "—",
            "baseline",
        ),
        (
            "… browser: first page on screen",
            f"{big['territory_first_ms']:.0f} ms",
            f"≤ {PAGE_BUDGET_MS} ms",
            ok(big["territory_first_ms"], PAGE_BUDGET_MS),
        ),
        (
            "… browser: next page on screen",
            f"{big['territory_next_ms']:.0f} ms",
            f"≤ {PAGE_BUDGET_MS} ms",
            ok(big["territory_next_ms"], PAGE_BUDGET_MS),
        ),
    ]
    lines = [
        "## Dashboard",
        "",
        "The frontend's budgets (`bench/bench_frontend.py`). Initial JavaScript: the entry "
        f"script and the chunks `index.html` preloads ({', '.join(files)}), gzip -9; all chunks "
        f"together weigh {every:.0f} KB, the rest loading with the page that needs it. Paint "
        "figures: Debian's chromium headless (playwright-core), medians of 5 cold loads, the "
        f"API and pipeline loaded with {home['rows']['accepted']:,} accepted sample records "
        "(the e2e stack). The big territory: one warehouse with "
        f"{BIG:,} clients in one territory, the API as its own process; API figures are medians "
        "of 7 requests after a warm-up.",
        "",
        "| measure | result | budget | |",
        "|---|---:|---:|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
