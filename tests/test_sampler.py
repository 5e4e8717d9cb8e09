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
