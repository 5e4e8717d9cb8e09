"""`make chaos`: the fault suite (tests/fault) at full size, then docs/reliability.md.

Sizes come from the environment (defaults: issue 13's full size):
  CHAOS_RECORDS (100000)         records in the kill -9 / replay run
  CHAOS_STREAM_RECORDS (20000)   records in the broker-restart and warehouse-outage runs
  CHAOS_OUTAGE_SECONDS (60)      warehouse outage
  CHAOS_BROKER_DOWN_SECONDS (22) broker restart's down time
  CHAOS_TIMEOUT (7200)           seconds a run may take to settle
The report (docs/reliability.md) is written from what the run measured: every case's
reconciliation, the test outcomes (xfail: a defect of issue 13 still open) and the load
average beside every figure. A run that fails still writes its report.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def outcomes(junit: Path) -> list[tuple[str, str, str, float]]:
    if not junit.exists():
        return []
    out = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "?")
        took = float(case.get("time", 0))
        status, detail = "passed", ""
        for child in case:
            if child.tag == "skipped" and "xfail" in (
                child.get("type", "") + child.get("message", "")
            ):
                status, detail = "xfail (open defect)", child.get("message", "")
            elif child.tag == "skipped":
                status, detail = "skipped", child.get("message", "")
            elif child.tag in ("failure", "error"):
                status, detail = "**FAILED**", failure_detail(child)
        out.append((name, status, detail.replace("|", "/").replace("\n", " "), took))
    return out


def failure_detail(failure: ET.Element) -> str:
    """The failing comparison itself (pytest's last `E   assert …` line), not the first
    lines of a long assertion message such as a reconciliation report."""
    asserts = [
        line[1:].strip()
        for line in (failure.text or "").splitlines()
        if line.startswith("E ") and line[1:].strip().startswith(("assert ", "AssertionError"))
    ]
    message = (failure.get("message", "") or "").strip()
    first = message.splitlines()[0] if message else ""
    text = asserts[-1] if asserts else first
    if asserts and first and not first.startswith("AssertionError: ###"):
        text = f"{first} ({asserts[-1]})" if first not in asserts[-1] else asserts[-1]
    return text[:240]


CASES = ("kill9", "replay", "broker_restart", "warehouse_outage", "rebalance")


def main() -> int:
    """Run the suite at full size, then write the report. `--report DIR` only re-writes
    docs/reliability.md from an earlier run's directory (var/chaos/<stamp>)."""
    if sys.argv[1:2] == ["--report"]:
        reports = Path(sys.argv[2]).resolve()
        info = json.loads((reports / "run.json").read_text(encoding="utf-8"))
        write_report(reports, info)
        return 0
    sizes = {
        "TERRITORY_FAULT_RECORDS": os.environ.get("CHAOS_RECORDS", "100000"),
        "TERRITORY_FAULT_STREAM_RECORDS": os.environ.get("CHAOS_STREAM_RECORDS", "20000"),
        "TERRITORY_FAULT_OUTAGE_SECONDS": os.environ.get("CHAOS_OUTAGE_SECONDS", "60"),
        "TERRITORY_FAULT_BROKER_DOWN_SECONDS": os.environ.get("CHAOS_BROKER_DOWN_SECONDS", "22"),
        "TERRITORY_FAULT_TIMEOUT": os.environ.get("CHAOS_TIMEOUT", "7200"),
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    reports = ROOT / "var" / "chaos" / stamp
    reports.mkdir(parents=True, exist_ok=True)
    junit = reports / "junit.xml"
    env = {**os.environ, **sizes, "TERRITORY_FAULT_REPORT_DIR": str(reports)}
    started = time.monotonic()
    load_before = os.getloadavg()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-ra",
            "tests/fault",
            f"--junitxml={junit}",
            "-o",
            "timeout=" + str(int(sizes["TERRITORY_FAULT_TIMEOUT"]) * 3),
        ],
        cwd=ROOT,
        env=env,
    )
    info = {
        "stamp": stamp,
        "machine": machine(),
        "took": time.monotonic() - started,
        "returncode": done.returncode,
        "load_before": load_before[0],
        "load_after": os.getloadavg()[0],
        "sizes": sizes,
    }
    (reports / "run.json").write_text(json.dumps(info), encoding="utf-8")
    write_report(reports, info)
    return done.returncode


def write_report(reports: Path, info: dict[str, Any]) -> None:
    junit = reports / "junit.xml"
    sizes = info["sizes"]
    lines = [
        "# Reliability: the last `make chaos` report",
        "",
        "Written by `scripts/chaos.py` (`make chaos`) from what the run measured; do not edit",
        "by hand. The cases are tests/fault (the same suite `make test` runs at CI size).",
        "Every service runs as its own process over the real broker; faults are injected from",
        "outside (kill -9, a broker of the suite's own restarted, a TCP proxy in front of",
        "PostgreSQL cut); the warehouse is then reconciled with GROUP BY queries, never",
        "trusting constraints. A FAILED row is a defect that run found; an xfail row would",
        "be a known defect still open.",
        "",
        f"Run {info['stamp']} on {info['machine']}: {info['took']:.0f} s, pytest exit "
        f"{info['returncode']}. "
        f"Load average {info['load_before']:.2f} at the start, {info['load_after']:.2f} at the end "
        "(the machine is shared: other work raises it and slows every figure).",
        "",
        "Sizes: " + ", ".join(f"`{k}={v}`" for k, v in sizes.items()) + ".",
        "",
        "| case | outcome | detail | seconds |",
        "|---|---|---|---:|",
    ]
    for name, status, detail, secs in outcomes(junit):
        lines.append(f"| {name} | {status} | {detail} | {secs:.0f} |")
    for case in CASES:
        md = reports / f"{case}.md"
        lines.append("")
        if md.exists():
            lines.append(md.read_text(encoding="utf-8").strip())
            doc = json.loads((reports / f"{case}.json").read_text(encoding="utf-8"))
            procs = doc.get("processes")
            if procs:
                lines += [
                    "",
                    "| process | CPU s | mean CPU % | peak RSS MB |",
                    "|---|---:|---:|---:|",
                ]
                for p, v in procs.items():
                    lines.append(
                        f"| {p} | {v['cpu_seconds']} | {v['cpu_percent_mean']} | {v['peak_rss_mb']} |"
                    )
        else:
            lines.append(f"### {case}\n\nNo report: the case did not get as far as reconciling.")
    (ROOT / "docs" / "reliability.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"chaos: docs/reliability.md written ({reports})", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
