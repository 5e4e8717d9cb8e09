"""`make bench`: run every bench/bench_*.py, then assemble docs/benchmarks.md.

Each benchmark module has `main() -> str` returning a Markdown section (figures measured
in this run, beside the peer it is compared with) and writes nothing else. `make bench
ONLY=ingestion` runs one. A section that was not re-run is kept from its last run, with
the date it was measured, so the assembled page never passes off old figures as new.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ROOT / "docs" / "benchmarks"


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


def run(name: str, path: Path) -> None:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    started = time.perf_counter()
    print(f"bench: {name} …", file=sys.stderr, flush=True)
    body = module.main()
    took = time.perf_counter() - started
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    SECTIONS.mkdir(parents=True, exist_ok=True)
    (SECTIONS / f"{name}.md").write_text(
        f"{body.strip()}\n\n_Measured {stamp} on {machine()} ({took:.0f} s)._\n", encoding="utf-8"
    )
    print(f"bench: {name} done in {took:.0f} s", file=sys.stderr, flush=True)


def assemble() -> None:
    parts = [
        "# Benchmarks\n",
        "Produced by `make bench` (`bench/run.py`); each section says when and where it was",
        "measured. Figures are measurements, never pass/fail tests; each stands beside a peer",
        "or a naive baseline measured in the same run.\n",
    ]
    for section in sorted(SECTIONS.glob("*.md")):
        parts.append(section.read_text(encoding="utf-8").strip() + "\n")
    (ROOT / "docs" / "benchmarks.md").write_text("\n".join(parts), encoding="utf-8")


def main() -> None:
    only = set(filter(None, os.environ.get("ONLY", "").split(",")))
    for path in sorted((ROOT / "bench").glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if not only or name in only:
            run(name, path)
    assemble()


if __name__ == "__main__":
    main()
