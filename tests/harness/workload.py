"""Workloads: N realistic client records (data/sample/generate.py's generator: duplicates
across and within systems, hierarchies, later updates, ~6% of rows with quarantined values,
~1% unusable rows, reused source keys) as CSV, and the waits that tell when a run is done.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import Engine

from harness.reconcile import progress, settled

ROOT = Path(__file__).resolve().parents[2]


@cache
def generator() -> ModuleType:
    """data/sample/generate.py as a module (it is a script, not a package)."""
    path = ROOT / "data" / "sample" / "generate.py"
    spec = importlib.util.spec_from_file_location("territory_sample_generate", path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


@dataclass
class Workload:
    rows: list[dict[str, str]]
    valid: int
    invalid: int
    valid_keys: list[str]  # source keys of the valid rows (several rows may share one)
    # Keys a later valid row reuses for another organisation (by dedupe's `shares_nothing`):
    # dedupe keeps both apart, each its own golden client, the newer one in review.
    reused_keys: frozenset[str] = frozenset()

    def csv(self, rows: list[dict[str, str]] | None = None) -> bytes:
        rows = self.rows if rows is None else rows
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(generator().COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().encode()

    def split(self, parts: int) -> list[Workload]:
        """The rows cut into `parts` consecutive workloads (for uploads spread over a run)."""
        size = -(-len(self.rows) // parts)
        return [make_from_rows(self.rows[i : i + size]) for i in range(0, len(self.rows), size)]


def parse(row: dict[str, str]) -> Any:
    """The row as the contract reads it (a ClientRecord), or None when it is unusable."""
    from territory.shared.events import ClientRecord

    try:
        return ClientRecord.model_validate(row)
    except ValueError:
        return None


def is_valid(row: dict[str, str]) -> tuple[bool, str | None]:
    record = parse(row)
    return (False, None) if record is None else (True, record.source_key)


def make_from_rows(rows: list[dict[str, str]]) -> Workload:
    # Which keys are reused is dedupe's own rule (`shares_nothing`, unit-tested in the
    # dedupe service against the generator's cases): this suite checks that faults never
    # lose or double that decision, applied per key in arrival order like the engine does
    # (an older version arriving later is ignored).
    from territory.dedupe.engine import shares_nothing
    from territory.dedupe.normalize import profile_of

    valid_keys: list[str] = []
    held: dict[str, Any] = {}
    reused: set[str] = set()
    invalid = 0
    for row in rows:
        record = parse(row)
        if record is None:
            invalid += 1
            continue
        key = record.source_key
        valid_keys.append(key)
        profile = profile_of(record)
        before = held.get(key)
        if before is not None:
            dated = before[0].updated_at is not None and record.updated_at is not None
            if dated and record.updated_at < before[0].updated_at:
                continue
            if shares_nothing(before[1], profile):
                reused.add(key)
        held[key] = (record, profile)
    return Workload(rows, len(rows) - invalid, invalid, valid_keys, frozenset(reused))


def make_workload(records: int, seed: int = 13) -> Workload:
    """`records` rows (≈ 1.6 rows per organisation) from the sample generator."""
    entities = max(1, int(records / 1.6))
    while True:
        rows, _ = generator().generate(entities, seed)
        if len(rows) >= records:
            break
        entities = int(entities * 1.2) + 1
    return make_from_rows(rows[:records])


def wait_until(
    check: Callable[[], Any], *, timeout: float, interval: float = 1.0, what: str = ""
) -> Any:
    """Poll `check` until it returns a truthy value; raise TimeoutError with the last one."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"not finished in {timeout:.0f} s: {what} (last: {last!r})")


def wait_settled(engine: Engine, *, accepted: int, timeout: float) -> float:
    """Seconds until the warehouse holds every accepted record, every staged record in a
    live golden client and every live golden client with exactly one current assignment."""
    started = time.monotonic()
    wait_until(
        lambda: settled(engine, accepted=accepted),
        timeout=timeout,
        interval=1.0,
        what=f"settled warehouse (progress {progress(engine, accepted=accepted):.2f})",
    )
    return time.monotonic() - started


def wait_progress(engine: Engine, *, accepted: int, at_least: float, timeout: float) -> float:
    """Block until the run's progress (see `reconcile.progress`) reaches `at_least`."""
    return float(
        wait_until(
            lambda: (p := progress(engine, accepted=accepted)) >= at_least and p,
            timeout=timeout,
            interval=0.5,
            what=f"progress {at_least:.2f}",
        )
    )
