"""Background sampling during a run: CPU and peak RSS per process (psutil), consumer lag
per group and topic sizes over time (aiokafka from the outside), and the load average.

    sampler = Sampler(stack, interval=1.0).start()
    ...
    sampler.stop()
    sampler.process_report()   # {instance: {cpu_seconds, cpu_percent_mean, cpu_percent_busy,
                               #             cpu_percent_peak, peak_rss_mb}}
    sampler.lag_series         # [(t, {group: {topic: lag}})]
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psutil

from harness.kafka import end_offsets, group_lag

# Which topics each consumer service reads (the product's contract; canonical names).
CONSUMED = {
    "dedupe": ("client.received", "dedupe.command"),
    "rules": ("client.deduplicated", "ruleset.published", "rules.command"),
    "loader": (
        "client.received",
        "client.deduplicated",
        "assignment.changed",
        "conflict.detected",
        "client.rejected",
        "ruleset.published",
    ),
}
PRODUCED = ("client.received", "client.deduplicated", "assignment.changed", "client.rejected")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min, {os.cpu_count()} cores)"


WINDOW = 10.0  # seconds: the CPU windows of `ProcStats.windows`
IDLE = 10.0  # CPU % of one core below which a window counts as idle


@dataclass
class ProcStats:
    cpu_seconds: float = 0.0  # summed over every pid the instance had (restarts included)
    peak_rss: int = 0
    series: list[tuple[float, float]] = field(default_factory=list)  # (t, cpu_seconds)
    _by_pid: dict[int, float] = field(default_factory=dict)
    _base: dict[int, float] = field(default_factory=dict)  # CPU used before sampling began

    def observe(self, pid: int, *, first: bool = False, t: float | None = None) -> None:
        try:
            p = psutil.Process(pid)
            with p.oneshot():
                times = p.cpu_times()
                rss = p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return
        used = times.user + times.system
        if pid not in self._by_pid and first:
            self._base[pid] = used
        self._by_pid[pid] = used - self._base.get(pid, 0.0)
        self.cpu_seconds = sum(self._by_pid.values())
        self.peak_rss = max(self.peak_rss, rss)
        if t is not None:
            if self.series and self.series[-1][0] == t:
                self.series[-1] = (t, self.cpu_seconds)  # a second pid of the instance
            else:
                self.series.append((t, self.cpu_seconds))

    def windows(self, width: float = WINDOW) -> list[tuple[float, float, float]]:
        """(start, end, CPU % of one core) over consecutive windows of about `width` s."""
        out: list[tuple[float, float, float]] = []
        start = 0
        for i in range(1, len(self.series)):
            t0, c0 = self.series[start]
            t1, c1 = self.series[i]
            if t1 - t0 >= width:
                out.append((t0, t1, 100 * (c1 - c0) / (t1 - t0)))
                start = i
        return out

    def busy_percent(self) -> float:
        """CPU % of one core from the first to the last window in which the process worked
        (above `IDLE` %): the run's idle start and tail left out, the waits inside kept."""
        worked = [w for w in self.windows() if w[2] > IDLE]
        if not worked:
            return 0.0
        t0, t1 = worked[0][0], worked[-1][1]
        c = dict(self.series)
        return round(100 * (c[t1] - c[t0]) / (t1 - t0), 1)

    def peak_percent(self) -> float:
        """The highest CPU % of one core over a window of `WINDOW` s."""
        return round(max((w[2] for w in self.windows()), default=0.0), 1)


class Sampler:
    """Samples processes every `interval` s and Kafka every `kafka_interval` s on a thread."""

    def __init__(
        self,
        stack: Any,
        *,
        interval: float = 1.0,
        kafka_interval: float = 2.0,
        extra_pids: Callable[[], Mapping[str, int | None]] | None = None,
    ) -> None:
        self.stack = stack
        self.interval = interval
        self.kafka_interval = kafka_interval
        self.extra_pids = extra_pids
        self.procs: dict[str, ProcStats] = {}
        self.lag_series: list[tuple[float, dict[str, dict[str, int]]]] = []
        self.topic_series: list[tuple[float, dict[str, int]]] = []
        self.load_series: list[tuple[float, float]] = []
        self.started = 0.0
        self.stopped = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.errors: list[str] = []
        self.gc_at_start: dict[str, float] = {}
        self.gc_at_stop: dict[str, float] = {}

    def start(self) -> Sampler:
        self.gc_at_start = self.gc_seconds()
        self.started = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.stopped = time.monotonic()
        self.gc_at_stop = self.gc_seconds()

    def gc_seconds(self) -> dict[str, float]:
        """Each service instance's time in Python's cyclic collector so far
        (`territory_gc_seconds_total`, every generation; absent when /metrics does not
        answer)."""
        instances = getattr(self.stack, "instances", {})
        out: dict[str, float] = {}
        for name, instance in instances.items():
            if not instance.alive():
                continue
            samples = instance.metrics()
            gc = [v for k, v in samples.items() if k.startswith("territory_gc_seconds_total{")]
            if gc:
                out[name] = sum(gc)
        return out

    def pids(self) -> dict[str, int]:
        pids: dict[str, int] = dict(self.stack.pids())
        if self.extra_pids is not None:
            pids.update({k: v for k, v in self.extra_pids().items() if v})
        return pids

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        next_kafka = 0.0
        first = True  # processes alive when sampling starts: count CPU from now on
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                for name, pid in self.pids().items():
                    self.procs.setdefault(name, ProcStats()).observe(
                        pid, first=first, t=now - self.started
                    )
                first = False
                self.load_series.append((now - self.started, os.getloadavg()[0]))
                if now >= next_kafka:
                    next_kafka = now + self.kafka_interval
                    try:
                        loop.run_until_complete(asyncio.wait_for(self._kafka(now), 20))
                    except Exception as exc:  # the broker may be down on purpose
                        self.errors.append(repr(exc)[:200])
                self._stop.wait(self.interval)
        finally:
            loop.close()

    async def _kafka(self, now: float) -> None:
        stack = self.stack
        lags: dict[str, dict[str, int]] = {}
        for service, topics in CONSUMED.items():
            if service not in stack.groups:
                continue
            lags[service] = await group_lag(
                stack.bootstrap, stack.groups[service], [stack.topic(t) for t in topics]
            )
        sizes = await end_offsets(stack.bootstrap, [stack.topic(t) for t in PRODUCED])
        t = now - self.started
        self.lag_series.append((t, lags))
        self.topic_series.append((t, {k.removeprefix(stack.prefix): v for k, v in sizes.items()}))

    # -- reports ---------------------------------------------------------------------------

    def process_report(self) -> dict[str, dict[str, float]]:
        wall = max((self.stopped or time.monotonic()) - self.started, 1e-9)
        return {
            name: {
                "cpu_seconds": round(s.cpu_seconds, 1),
                "cpu_percent_mean": round(100 * s.cpu_seconds / wall, 1),
                "cpu_percent_busy": s.busy_percent(),
                "cpu_percent_peak": s.peak_percent(),
                "peak_rss_mb": round(s.peak_rss / 2**20, 1),
                **({"gc_seconds": self._gc_delta(name)} if name in self.gc_at_stop else {}),
            }
            for name, s in sorted(self.procs.items())
        }

    def _gc_delta(self, name: str) -> float:
        end, start = self.gc_at_stop[name], self.gc_at_start.get(name, 0.0)
        # A counter lower than at the start belongs to a restarted process: all of it is new.
        return round(end - start if end >= start else end, 1)

    def peak_lag(self) -> dict[str, int]:
        """The highest total lag each consumer service had during the run."""
        out: dict[str, int] = {}
        for _, lags in self.lag_series:
            for service, per_topic in lags.items():
                out[service] = max(out.get(service, 0), sum(per_topic.values()))
        return out

    def stage_rates(self) -> dict[str, float]:
        """Peak sustained output rate per topic (messages/s over a 10 s window)."""
        out: dict[str, float] = {}
        series = self.topic_series
        for i, (t0, s0) in enumerate(series):
            for t1, s1 in series[i + 1 :]:
                if t1 - t0 >= 10:
                    for topic, n in s1.items():
                        rate = (n - s0.get(topic, 0)) / (t1 - t0)
                        out[topic] = max(out.get(topic, 0.0), rate)
                    break
        return {k: round(v, 1) for k, v in out.items()}

    def mean_load(self) -> float:
        return (
            sum(v for _, v in self.load_series) / len(self.load_series)
            if self.load_series
            else os.getloadavg()[0]
        )
