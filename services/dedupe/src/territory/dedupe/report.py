"""The dedupe report: run the engine over a file and describe what it decided.

The JSON document has counts per decision, the clusters (golden clients with more than one
source record, with their members and parent), the scored pairs at or above the review
threshold with the score of every field, and — given a ground-truth file — pairwise and
cluster-level precision, recall and F1. A refused record (unusable: no name, no source id)
counts as a singleton in those figures: it is a client the run did not place, so it can
never be matched, and leaving it out would flatter recall.

Problems are counted by reason and field with the first few offending rows (row number,
value), as `territory ingest file` prints them: `refused` for unusable records,
`quarantined` for an optional value left empty (the record was kept).
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


MAX_EXAMPLES = 5
TRUTH_COLUMNS = ("source_system", "source_id", "entity_id")


class ProblemExample(BaseModel):
    row: int = Field(..., description="Data row number (1 = first row after the header).")
    value: str | None = None


class ProblemCount(BaseModel):
    outcome: str = Field(..., description="refused (record dropped) or quarantined (kept)")
    reason: str = Field(..., description="Machine-readable code, e.g. missing, invalid_lei.")
    field: str | None = Field(None, description="The offending field (None: the record).")
    count: int = 0
    examples: list[ProblemExample] = Field(default_factory=list)


class TruthFileError(ValueError):
    """A ground-truth file without the expected columns."""


class DedupeReport(BaseModel):
    records: int
    rejected: int
    quarantined: int = Field(0, description="Accepted records with at least one field issue.")
    problems: list[ProblemCount] = Field(
        default_factory=list, description="Counts by outcome, reason and field; first rows."
    )
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
    """`source_key -> entity_id` of a ground-truth CSV; a file without the columns
    `source_system, source_id, entity_id` raises `TruthFileError` saying which it has."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in TRUTH_COLUMNS if c not in header]
        if missing:
            raise TruthFileError(
                f"{path.name}: a truth file needs the columns {', '.join(TRUTH_COLUMNS)}; "
                f"missing {', '.join(missing)} (found: {', '.join(header) or 'no header'})"
            )
        return {
            f"{row['source_system'].casefold()}:{row['source_id']}": row["entity_id"]
            for row in reader
        }


def _source_key(row: dict[str, Any]) -> str | None:
    system, sid = row.get("source_system"), row.get("source_id")
    if not isinstance(system, str) or not system.strip() or sid in (None, ""):
        return None
    return f"{system.strip().casefold()}:{str(sid).strip()}"


class _Tally:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str | None], ProblemCount] = {}

    def add(self, outcome: str, reason: str, field: str | None, row: int, value: Any) -> None:
        key = (outcome, reason, field)
        count = self.counts.get(key)
        if count is None:
            count = self.counts[key] = ProblemCount(outcome=outcome, reason=reason, field=field)
        count.count += 1
        if len(count.examples) < MAX_EXAMPLES:
            text = None if value is None else str(value)[:200]
            count.examples.append(ProblemExample(row=row, value=text))

    def sorted(self) -> list[ProblemCount]:
        return sorted(
            self.counts.values(), key=lambda c: (c.outcome, -c.count, c.reason, c.field or "")
        )


def build_report(
    rows: Iterable[dict[str, Any]],
    settings: EngineSettings | None = None,
    truth: dict[str, str] | None = None,
) -> tuple[DedupeReport, DedupeEngine]:
    engine = DedupeEngine(settings)
    thresholds = engine.settings.thresholds
    counts: Counter[str] = Counter()
    pairs: list[ReportPair] = []
    rejected = records = quarantined = 0
    tally = _Tally()
    refused_keys: list[str] = []
    started = time.perf_counter()
    for number, row in enumerate(rows, start=1):
        try:
            record = ClientRecord.model_validate(row)
        except ValidationError as exc:
            rejected += 1
            for err in exc.errors(include_url=False):
                field = str(err["loc"][0]) if err["loc"] else None
                value = row.get(field) if field is not None else None
                tally.add("refused", str(err["type"]), field, number, value)
            key = _source_key(row)
            if key is not None:
                refused_keys.append(key)
            continue
        records += 1
        if record.field_issues:
            quarantined += 1
            for issue in record.field_issues:
                tally.add("quarantined", issue.code, issue.field, number, issue.raw)
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
        aliases = set(engine.reused.values())
        predicted = {
            key: member.client_id for key, member in engine.records.items() if key not in aliases
        }
        for source_key, alias in engine.reused.items():
            # A reused source key names its newest incarnation (as the truth's last row).
            predicted[source_key] = engine.records[alias].client_id
        for key in refused_keys:
            predicted.setdefault(key, f"refused:{key}")  # a client not placed: alone
        quality = measure(predicted, truth)
    report = DedupeReport(
        records=records,
        rejected=rejected,
        quarantined=quarantined,
        problems=tally.sorted(),
        golden_clients=len(live),
        counts=dict(sorted(counts.items())),
        records_per_second=round(records / took, 1) if took else 0.0,
        clusters=clusters,
        pairs=pairs,
        review_queue=[p for p in pairs if p.outcome == "possible_duplicate"],
        quality=quality,
    )
    return report, engine
