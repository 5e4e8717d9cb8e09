"""The cyclic collector's tuning: thresholds from settings, every collection timed, and the
start-up state frozen out of full collections once the kernel's start-up is done."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from faststream import TestApp
from prometheus_client import REGISTRY

from territory.shared import collector
from territory.shared.collector import CollectorSettings
from territory.shared.kernel import ServiceKernel
from territory.shared.settings import ServiceSettings


class Node:
    """A container the collector tracks; two of them pointing at each other are a cycle
    only the cyclic collector frees."""

    def __init__(self) -> None:
        self.other: Node | None = None


def gc_seconds(generation: int) -> float:
    value = REGISTRY.get_sample_value("territory_gc_seconds_total", {"generation": str(generation)})
    return value or 0.0


@pytest.fixture(autouse=True)
def restore_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    callbacks = list(gc.callbacks)
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)
    gc.callbacks[:] = callbacks


def test_thresholds_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TERRITORY_GC__THRESHOLD", "[12000, 30, 40]")
    monkeypatch.setenv("TERRITORY_GC__FREEZE_AFTER_START", "false")
    settings = ServiceSettings()
    assert settings.gc == CollectorSettings(threshold=(12000, 30, 40), freeze_after_start=False)
    assert ServiceSettings.model_fields["gc"].default.threshold == (50_000, 20, 20)


def test_tune_sets_the_thresholds_and_times_every_collection_once():
    collector.tune(CollectorSettings(threshold=(12000, 30, 40)))
    collector.tune(CollectorSettings(threshold=(12000, 30, 40)))  # a second call adds no timer
    assert gc.get_threshold() == (12000, 30, 40)
    timers = [cb for cb in gc.callbacks if isinstance(cb, collector._Timer)]
    assert len(timers) == 1
    before = gc_seconds(2)
    gc.collect()
    assert gc_seconds(2) > before


def test_settle_collects_garbage_cycles_and_freezes_the_survivors():
    kept = [Node() for _ in range(100)]
    a, b = Node(), Node()
    a.other, b.other = b, a
    garbage = weakref.ref(a)
    del a, b
    assert garbage() is not None  # only the cyclic collector frees a cycle

    frozen = collector.settle(CollectorSettings())

    assert garbage() is None  # collected first, not frozen for the process's life
    assert frozen >= len(kept)
    assert gc.get_freeze_count() >= len(kept)
    tracked = {id(o) for o in gc.get_objects()}  # generations 0–2, never the frozen ones
    assert not any(id(node) in tracked for node in kept)
    new = Node()
    assert id(new) in {id(o) for o in gc.get_objects()}  # what comes later is collected


def test_settle_does_nothing_when_switched_off():
    frozen = collector.settle(CollectorSettings(freeze_after_start=False))
    assert frozen == 0
    assert gc.get_freeze_count() == 0


async def test_the_kernel_freezes_what_start_up_built_after_every_start_up_step(kafka_settings):
    """The state a service rebuilds in `on_startup` is frozen, whatever order the steps
    run in: the freeze is the kernel's last start-up step."""
    kernel = ServiceKernel(ServiceSettings(kafka=kafka_settings), "test")
    state: list[Node] = []

    async def rebuild() -> None:
        state.extend(Node() for _ in range(1000))

    async with TestApp(kernel.app(on_startup=[rebuild])):
        assert len(state) == 1000
        tracked = {id(o) for o in gc.get_objects()}
        assert not any(id(node) in tracked for node in state)
        assert gc.get_freeze_count() >= len(state)
