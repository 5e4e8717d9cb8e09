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
import statistics
import sys
import threading
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


class LoadSampler:
    """The 1-minute load average every few seconds while a benchmark runs: printed beside
    its figures, so a reader sees how busy the machine was (2 cores: above ~2, the
    benchmark shared them)."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> str:
        xs = self.samples
        return (
            f"load average (1 min) median {statistics.median(xs):.1f}, "
            f"max {max(xs):.1f} over {len(xs)} samples"
        )


def run(name: str, path: Path) -> None:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    started = time.perf_counter()
    print(f"bench: {name} …", file=sys.stderr, flush=True)
    with LoadSampler() as load:
        body = module.main()
    took = time.perf_counter() - started
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    SECTIONS.mkdir(parents=True, exist_ok=True)
    (SECTIONS / f"{name}.md").write_text(
        f"{body.strip()}\n\n_Measured {stamp} on {machine()} ({took:.0f} s; {load.summary()})._\n",
        encoding="utf-8",
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
