"""data/sample/generate.py: the committed sample is its output, and a large population does
not give many distinct organisations one exact name in one city (which no CRM holds, and
which made the 1M benchmark measure a matcher merging hundreds of look-alikes)."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
from harness.workload import generator

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def _shared_name_and_city(entities: int) -> float:
    """The share of organisations whose first record's exact name and city another
    organisation's first record has too."""
    rows, truth = generator().generate(entities, 7)
    first: dict[str, tuple[str, str]] = {}
    for row, t in zip(rows, truth, strict=True):
        first.setdefault(t["entity_id"], (row["name"].lower(), row["city"]))
    holders: dict[tuple[str, str], int] = defaultdict(int)
    for key in first.values():
        holders[key] += 1
    return sum(1 for key in first.values() if holders[key] > 1) / len(first)


def test_the_committed_sample_is_the_generators_output() -> None:
    rows, truth = generator().generate(1800, 7)
    with (SAMPLE / "clients.csv").open(encoding="utf-8", newline="") as fh:
        assert list(csv.DictReader(fh)) == rows
    with (SAMPLE / "truth.csv").open(encoding="utf-8", newline="") as fh:
        assert list(csv.DictReader(fh)) == truth


def test_a_large_population_rarely_shares_an_exact_name_in_one_city() -> None:
    assert _shared_name_and_city(20_000) < 0.03


def test_without_the_synthetic_words_a_large_population_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The hand-written vocabulary alone (what the generator drew from before): the check
    # above fails on it.
    monkeypatch.setattr(generator(), "SAMPLE_SCALE", 10**9)
    assert _shared_name_and_city(20_000) > 0.10


def test_the_vocabulary_is_deterministic_and_keeps_the_hand_written_words() -> None:
    gen = generator()
    small = gen.vocabulary(gen.SAMPLE_SCALE)
    assert small.surnames is gen.SURNAMES
    assert small.places is gen.PLACES
    big = gen.vocabulary(gen.SAMPLE_SCALE + 1000)
    assert big == gen.vocabulary(gen.SAMPLE_SCALE + 1000)
    assert big.surnames[: len(gen.SURNAMES)] == gen.SURNAMES
    assert len(big.surnames) == len(gen.SURNAMES) + 1000
    assert len(big.places) == len(gen.PLACES) + 1000
    assert not set(big.surnames) & set(big.places)
