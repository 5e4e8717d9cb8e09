"""Python's cyclic garbage collector, tuned for services that hold large state.

Measured (bench/bench_e2e.py, 100k golden clients seeded, then a reassignment): with
CPython's default thresholds (700, 10, 10) the rules service spent 27 of its 48 CPU
seconds in the collector and the loader 21 of 60, almost all of it in 62 and 125 *full*
collections. A full collection walks every tracked object (the rules book, the dedupe
master, SQLAlchemy's and pydantic's own), and CPython starts one whenever the objects
promoted since the last one exceed a quarter of the long-lived heap. A batch of events
lives across an `await` long enough to be promoted, then dies, yet still counts toward
that quarter, so a busy consumer paid for a walk of its whole state every few batches.

Two measures, both standard (`gc.freeze` is how CPython's docs suggest keeping
long-lived start-up state out of the collector):
- a larger first-generation threshold (`TERRITORY_GC__THRESHOLD`, 50,000 allocations by
  default), so a batch's objects die young instead of being promoted;
- after start-up (imports, migrations, the state rebuilt from the topics) one collection
  and `gc.freeze()`: what the process built to start is never walked again.

Reference cycles are still collected, only less often; `territory_gc_seconds_total`
(per generation, on every service's `/metrics`) shows what the collector costs.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

from prometheus_client import Counter
from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

GC_SECONDS = Counter(
    "territory_gc_seconds",
    "Time spent in Python's cyclic garbage collector, by generation",
    ["generation"],
)


class CollectorSettings(BaseModel):
    threshold: tuple[int, int, int] = Field(
        (50_000, 20, 20),
        description="gc.set_threshold, as a JSON list (`[50000, 20, 20]`): allocations "
        "before a young collection, then young collections per middle one, middle ones per "
        "full one (CPython's default is 700, 10, 10).",
    )
    freeze_after_start: bool = Field(
        True,
        description="After start-up, collect once and gc.freeze() what the process built, "
        "so full collections never walk it again.",
    )


class _Timer:
    """A gc callback adding each collection's duration to GC_SECONDS."""

    def __init__(self) -> None:
        self.started = 0.0
        self.counters = [GC_SECONDS.labels(str(g)) for g in range(3)]

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.counters[info["generation"]].inc(time.perf_counter() - self.started)


def tune(settings: CollectorSettings) -> None:
    """Set the thresholds and time every collection (once per process)."""
    gc.set_threshold(*settings.threshold)
    if not any(isinstance(cb, _Timer) for cb in gc.callbacks):
        gc.callbacks.append(_Timer())


def settle(settings: CollectorSettings) -> int:
    """After start-up: one full collection, then freeze the survivors; returns how many
    objects are frozen (0 when `freeze_after_start` is off)."""
    if not settings.freeze_after_start:
        return 0
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "start-up state frozen out of the cyclic collector",
        extra={"objects": frozen, "seconds": round(time.perf_counter() - started, 3)},
    )
    return frozen
