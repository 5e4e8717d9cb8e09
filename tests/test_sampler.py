"""The benchmark's CPU figures: a process idle at the start and the end of a run is judged
by the share of a core it used while it worked, not diluted by the idle wall time."""

from __future__ import annotations

import pytest
from harness.sampler import ProcStats


def stats(*phases: tuple[float, float]) -> ProcStats:
    """One sample a second; each phase is (seconds, CPU share of one core)."""
    s = ProcStats()
    t = cpu = 0.0
    s.series.append((t, cpu))
    for seconds, share in phases:
        for _ in range(int(seconds)):
            t += 1
            cpu += share
            s.series.append((t, cpu))
    return s


def test_busy_share_leaves_out_the_idle_start_and_tail() -> None:
    s = stats((30, 0.0), (60, 0.9), (30, 0.0))
    assert s.busy_percent() == pytest.approx(90, abs=0.5)
    assert s.peak_percent() == pytest.approx(90, abs=0.5)
    mean = 100 * s.series[-1][1] / s.series[-1][0]
    assert mean == pytest.approx(45)  # what the mean over the run would have said


def test_waits_inside_the_busy_span_count_against_it() -> None:
    s = stats((20, 1.0), (20, 0.05), (20, 1.0))
    assert s.busy_percent() == pytest.approx(68.3, abs=0.5)
    assert s.peak_percent() == pytest.approx(100)


def test_a_process_that_never_worked_is_idle() -> None:
    assert stats((40, 0.02)).busy_percent() == 0.0
    assert ProcStats().peak_percent() == 0.0


class FakeInstance:
    """What the sampler reads of a service instance: alive, and its /metrics."""

    def __init__(self, *seconds: float) -> None:
        self.readings = list(seconds)

    def alive(self) -> bool:
        return True

    def metrics(self) -> dict[str, float]:
        gc = self.readings.pop(0)
        return {
            'territory_gc_seconds_total{generation="0"}': gc / 2,
            'territory_gc_seconds_total{generation="2"}': gc / 2,
            "process_cpu_seconds_total": 99.0,
        }


class FakeStack:
    def __init__(self, **instances: FakeInstance) -> None:
        self.instances = instances


def test_gc_time_is_the_run_s_share_and_a_restarted_process_counts_from_zero() -> None:
    from harness.sampler import Sampler

    stack = FakeStack(rules=FakeInstance(4.0, 10.0), loader=FakeInstance(8.0, 3.0))
    sampler = Sampler(stack)
    sampler.gc_at_start = sampler.gc_seconds()
    sampler.gc_at_stop = sampler.gc_seconds()
    sampler.procs = {name: stats((10, 0.5)) for name in ("rules", "loader", "broker")}
    report = sampler.process_report()
    assert report["rules"]["gc_seconds"] == 6.0  # every generation, from start to stop
    assert report["loader"]["gc_seconds"] == 3.0  # restarted (kill -9): its counter is new
    assert "gc_seconds" not in report["broker"]  # no /metrics of ours: a JVM
