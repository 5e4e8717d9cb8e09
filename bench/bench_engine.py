"""Dedupe engine throughput, this tree beside a baseline commit (issue 15's profiling log).

The dedupe service is the pipeline's busiest process (see the end-to-end section), and its
time is the engine's. This section feeds the same stream of sample records (with their
realistic duplicates, data/sample/generate.py) to the engine as the service does — in
consumer batches: `on_record` for each record, then `pending()` and `mark_emitted()` — once
with this tree's code and once with the code of a baseline commit (`git archive` of its
`services/dedupe/src` and `shared/src`, imported first), each in its own process,
alternated, the median of the rounds reported. Beside the rates: whether both emitted
byte-identical golden clients (a speed-up must not change a single decision).

CPU time on a shared host varies by ±10% between consecutive runs of one version, more
than most single changes save. So each version is also run once under valgrind's callgrind
(Debian's `valgrind`: `scripts/ensure-deb.sh valgrind valgrind`) on the first
`ENGINE_COUNT_RECORDS` rows: instructions executed are a count, the same whatever else the machine does. A run
that only reads the rows, builds the engine and loads its reference tables is counted too
and subtracted, so the figure is the engine's instructions per record.

    python bench/bench_engine.py                  # this section only
    ENGINE_BASELINE=<commit> ENGINE_RECORDS=20000 ENGINE_ROUNDS=3 make bench ONLY=engine
    ENGINE_COUNT_RECORDS=0 ...                    # without the instruction counts
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The landed main of 2026-12-02 (stop 18), before this profiling pass.
BASELINE = os.environ.get("ENGINE_BASELINE", "5e52dca")
RECORDS = int(os.environ.get("ENGINE_RECORDS", "20000"))
ROUNDS = int(os.environ.get("ENGINE_ROUNDS", "3"))
# Rows counted under callgrind (about 50x slower than a plain run); 0 skips the counts.
COUNT_RECORDS = int(os.environ.get("ENGINE_COUNT_RECORDS", "4000"))
BATCH = 500  # records per consumer batch, as the service's kernel hands them over


def _child(path: str, limit: int | None = None, feed: bool = True) -> dict[str, Any]:
    """Feed the CSV at `path` (its first `limit` usable rows; without `feed`, only read
    them) to whichever engine is importable; measure and digest."""
    import territory.dedupe.engine as engine_module
    from territory.dedupe.engine import DedupeEngine
    from territory.dedupe.normalize import profile_of
    from territory.dedupe.settings import DedupeSettings
    from territory.shared.events import ClientRecord

    records = []
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                records.append(ClientRecord.model_validate(row))
            except ValueError:
                continue  # unusable: ingestion refuses it before dedupe sees it
            if limit is not None and len(records) >= limit:
                break
    engine = DedupeEngine(DedupeSettings().dedupe.engine)
    if not feed:
        if records:  # the reference tables (cities, legal forms) load with the first profile
            profile_of(records[0])
        records = []
    digest = hashlib.sha256()
    emitted = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(records), BATCH):
        for record in records[start : start + BATCH]:
            placement = engine.on_record(record)
            digest.update(f"{placement.client_id} {placement.decision.value}\n".encode())
        out = engine.pending()
        for golden in out:
            digest.update(golden.model_dump_json().encode())
        emitted += len(out)
        engine.mark_emitted(out)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "records": len(records),
        "emitted": emitted,
        "seconds": wall,
        "cpu_seconds": cpu,
        "digest": digest.hexdigest(),
        "code": engine_module.__file__,
        "golden_clients": sum(
            1 for g in engine.goldens.values() if g.members and g.retired_into is None
        ),
    }


def _env(src: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if src is not None:  # the baseline's packages shadow this tree's (namespace `territory`)
        paths = [str(src / "services" / "dedupe" / "src"), str(src / "shared" / "src")]
        env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _run(csv_path: Path, src: Path | None) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(csv_path)],
        env=_env(src),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    expected = src if src is not None else ROOT
    if not str(result["code"]).startswith(str(expected)):
        raise SystemExit(f"bench engine: ran {result['code']}, expected code under {expected}")
    return result


_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _count(csv_path: Path, versions: dict[str, Path | None], records: int) -> dict[str, int]:
    """Instructions per record of each version's engine (callgrind), or {} without
    valgrind. Each version runs twice, feeding `records` rows and feeding none; all the
    runs at once (a count does not depend on what else runs)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return {}
    runs = {}
    for label, src in versions.items():
        for feed in (True, False):
            command = [
                valgrind,
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                sys.executable,
                __file__,
                "--child",
                str(csv_path),
                str(records),
                *([] if feed else ["--no-feed"]),
            ]
            runs[label, feed] = subprocess.Popen(
                command,
                env=_env(src),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
    counts: dict[tuple[str, bool], tuple[int, int]] = {}
    for (label, feed), proc in runs.items():
        out, err = proc.communicate()
        found = _COLLECTED.findall(err)
        if proc.returncode != 0 or not found:
            raise SystemExit(f"bench engine: callgrind run of {label} failed: {err[-2000:]}")
        fed = json.loads(out.strip().splitlines()[-1])["records"]
        counts[label, feed] = (int(found[-1]), fed)
    out_per_record = {}
    for label in versions:
        (full, fed), (fixed, _) = counts[label, True], counts[label, False]
        out_per_record[label] = (full - fixed) // max(fed, 1)
    return out_per_record


def _git(*args: str) -> bytes:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True).stdout


def main() -> str:
    sys.path.insert(0, str(ROOT / "tests"))
    from harness.workload import generator, make_workload

    commit = _git("rev-parse", "--short", BASELINE).decode().strip()
    head = _git("rev-parse", "--short", "HEAD").decode().strip()
    dirty = _git("status", "--porcelain", "services/dedupe/src", "shared/src").strip()
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        base = Path(tmp) / "baseline"
        base.mkdir()
        archive = _git("archive", commit, "services/dedupe/src", "shared/src")
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        csv_path = Path(tmp) / "records.csv"
        workload = make_workload(RECORDS)
        with csv_path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(generator().COLUMNS))
            writer.writeheader()
            writer.writerows(workload.rows)
        if COUNT_RECORDS:
            print(
                f"  engine: instructions over {COUNT_RECORDS:,} rows (callgrind)",
                file=sys.stderr,
                flush=True,
            )
        versions = {"this tree": None, "baseline": base}
        counted = _count(csv_path, versions, COUNT_RECORDS) if COUNT_RECORDS else {}
        runs: dict[str, list[dict[str, Any]]] = {"this tree": [], "baseline": []}
        loads = []
        for i in range(ROUNDS):
            print(f"  engine: round {i + 1} of {ROUNDS}", file=sys.stderr, flush=True)
            for label, src in (("this tree", None), ("baseline", base)):
                loads.append(os.getloadavg()[0])
                runs[label].append(_run(csv_path, src))
    rows = []
    rates: dict[str, float] = {}
    for label, results in runs.items():
        rate = statistics.median(r["records"] / r["cpu_seconds"] for r in results)
        wall = statistics.median(r["records"] / r["seconds"] for r in results)
        rates[label] = rate
        first = results[0]
        name = f"this tree ({head}{', uncommitted changes' if dirty else ''})"
        rows.append(
            f"| {name if label == 'this tree' else f'baseline ({commit})'} | "
            f"{first['records']:,} | {rate:,.0f} | {wall:,.0f} | "
            f"{1000 / rate:.2f} | {first['emitted']:,} | {first['golden_clients']:,} |"
        )
    digests = {r["digest"] for results in runs.values() for r in results}
    same = len(digests) == 1
    lines = [
        "## Dedupe engine: this tree beside a baseline commit",
        "",
        f"`bench/bench_engine.py`: {RECORDS:,} sample rows (with their duplicates) fed to the "
        f"engine in batches of {BATCH} as the service feeds it, once per version in its own "
        f"process, {ROUNDS} alternated rounds, medians. The baseline is `{commit}` "
        "(`ENGINE_BASELINE`). Reproduce: `make bench ONLY=engine`.",
        "",
        "| engine | records | records per CPU-second | records/s (wall) | CPU ms per record "
        "| golden events emitted | live golden clients |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"Speed-up: **{rates['this tree'] / rates['baseline']:.2f}×** records per CPU-second. "
        + (
            "Both versions emitted byte-identical golden clients and placements in every "
            "round (one SHA-256 over every event)."
            if same
            else f"**The versions' outputs differ** ({len(digests)} distinct digests over "
            "the rounds): the change is not a pure speed-up."
        ),
        "",
        f"Load average (1 min) during the rounds: {min(loads):.1f}–{max(loads):.1f} on "
        f"{os.cpu_count()} cores.",
        "",
        *_count_lines(counted, head, commit),
    ]
    return "\n".join(lines)


def _count_lines(counted: dict[str, int], head: str, commit: str) -> list[str]:
    if not COUNT_RECORDS:
        return ["Instructions were not counted (`ENGINE_COUNT_RECORDS=0`)."]
    if not counted:
        return [
            "Instructions were not counted: valgrind is not installed "
            "(`scripts/ensure-deb.sh valgrind valgrind` installs it from Debian)."
        ]
    mine, theirs = counted["this tree"], counted["baseline"]
    change = mine / theirs - 1
    return [
        f"Instructions executed by the engine per record, over the first {COUNT_RECORDS:,} "
        "rows (valgrind callgrind; a run that only reads the rows and loads the reference "
        "tables subtracted): this tree "
        f"({head}) **{mine:,}**, baseline ({commit}) **{theirs:,}**: "
        f"**{abs(change):.1%} {'fewer' if change < 0 else 'more'}**. A count, not a time: "
        "it does not depend on the machine's load, and it covers a master of a few "
        "thousand records only (the rounds above cover the full size).",
    ]


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        limit = int(sys.argv[3]) if len(sys.argv) >= 4 else None
        print(json.dumps(_child(sys.argv[2], limit, feed="--no-feed" not in sys.argv)))
    else:
        print(main())
