"""The dedupe report: run the engine over a file and describe what it decided.

The JSON document has counts per decision, the clusters (golden clients with more than one
source record, with their members and parent), the scored pairs at or above the review
threshold with the score of every field, and — given a ground-truth file — pairwise and
cluster-level precision, recall and F1.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from territory.dedupe.engine import DedupeEngine, EngineSettings
from territory.dedupe.quality import Quality, measure
from territory.shared.events import ClientRecord


class ReportPair(BaseModel):
    source_key: str
    candidate_client_id: str
    candidate_source_key: str
    confidence: float
    outcome: str = Field(..., description="merged, possible_duplicate or below_review")
    field_scores: dict[str, float]


class ReportCluster(BaseModel):
    client_id: str
    name: str
    parent_client_id: str | None
    source_keys: list[str]


class DedupeReport(BaseModel):
    records: int
    rejected: int
    golden_clients: int
    counts: dict[str, int] = Field(..., description="Records per decision (and updates).")
    records_per_second: float
    clusters: list[ReportCluster]
    pairs: list[ReportPair]
    review_queue: list[ReportPair]
    quality: Quality | None = None


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a CSV or JSONL file as dicts (the ingestion column names)."""
    with path.open(encoding="utf-8", newline="") as fh:
        if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
            for line in fh:
                if line.strip():
                    yield json.loads(line)
        else:
            yield from csv.DictReader(fh)


def read_truth(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {
            f"{row['source_system']}:{row['source_id']}": row["entity_id"]
            for row in csv.DictReader(fh)
        }


def build_report(
    rows: Iterable[dict[str, Any]],
    settings: EngineSettings | None = None,
    truth: dict[str, str] | None = None,
) -> tuple[DedupeReport, DedupeEngine]:
    engine = DedupeEngine(settings)
    thresholds = engine.settings.thresholds
    counts: Counter[str] = Counter()
    pairs: list[ReportPair] = []
    rejected = records = 0
    started = time.perf_counter()
    for row in rows:
        try:
            record = ClientRecord.model_validate(row)
        except ValidationError:
            rejected += 1
            continue
        records += 1
        placement = engine.on_record(record)
        engine.drain()
        counts["update" if placement.update else placement.decision.value] += 1
        for client_id, comparison in placement.comparisons:
            if comparison.confidence < thresholds.review:
                continue
            merged = placement.decision.value == "merged" and client_id == placement.client_id
            pairs.append(
                ReportPair(
                    source_key=placement.source_key,
                    candidate_client_id=client_id,
                    candidate_source_key=comparison.candidate_key,
                    confidence=round(comparison.confidence, 6),
                    outcome="merged" if merged else "possible_duplicate",
                    field_scores=comparison.field_scores,
                )
            )
    took = time.perf_counter() - started
    live = [g for g in engine.goldens.values() if g.members and g.retired_into is None]
    clusters = []
    for golden in sorted(live, key=lambda g: g.client_id):
        if len(golden.members) < 2:
            continue
        rendered = engine.render(golden)
        clusters.append(
            ReportCluster(
                client_id=golden.client_id,
                name=rendered.record.name,
                parent_client_id=rendered.parent_client_id,
                source_keys=sorted(golden.members),
            )
        )
    quality = None
    if truth is not None:
        predicted = {key: member.client_id for key, member in engine.records.items()}
        quality = measure(predicted, truth)
    report = DedupeReport(
        records=records,
        rejected=rejected,
        golden_clients=len(live),
        counts=dict(sorted(counts.items())),
        records_per_second=round(records / took, 1) if took else 0.0,
        clusters=clusters,
        pairs=pairs,
        review_queue=[p for p in pairs if p.outcome == "possible_duplicate"],
        quality=quality,
    )
    return report, engine
